"""schemathesis over every operation of the OpenAPI schema (issue 13.6, 16.4).

Each operation of `/api/schema/` is one pytest item (so pytest-xdist spreads them), run by
schemathesis' examples, coverage and fuzzing phases with a fixed seed, in process through the
WSGI application, authenticated as the admin of a seeded organization (one lead, one task, one
interaction); then again as its closer (examples and fuzzing only). Every response is
checked: no 5xx, status code and content type documented, body valid against the response
schema.

Cost. The coverage phase yields ~10,000 cases over the ~110 operations; sending each would
take minutes of CPU on a 2-core machine. Every coverage case is generated, but only the first
one of each scenario kind per operation, method and parameter location is sent (a missing required
field, a wrong type, a value past a maximum, an unexpected method...), plus every examples and
fuzzing case (fuzzing: MAX_EXAMPLES per operation). The schemathesis test of each operation is
built when the item runs, not at collection, so each xdist worker only pays for its own
operations. Throttles are raised for the run (THROTTLE_RATES below).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.meta import TestPhase

# Public since 4.0 but imported from its module: the builder the pytest plugin runs for each
# operation, here called when the item runs instead of at collection (pinned in pyproject).
from schemathesis.pytest._test_builder import build_operation_test

from tests.conftest import Org, make_org
from tests.factories import InteractionFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

SEED = 20261204
MAX_EXAMPLES = 4
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
THROTTLE_RATES = {"auth": "100000/min", "user": "100000/min"}

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True, "unexpected-methods": ["options", "trace"]},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
    },
}


@cache
def raw_schema() -> dict[str, Any]:
    # The generator the /api/schema/ view runs, without a request (collection has no database).
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


# A closer's pass: what a seller may and may not do (403/404 must be documented too), without
# the coverage phase (the admin's pass runs it over the same operations).
CLOSER_CONFIG = {
    **CONFIG,
    "generation": {"max-examples": 3, "database": "none"},
    "phases": {**CONFIG["phases"], "coverage": {"enabled": False}},
}


@cache
def loaded_schema(role: str = "admin") -> Any:
    config = CONFIG if role == "admin" else CLOSER_CONFIG
    loaded = schemathesis.openapi.from_dict(
        raw_schema(), config=SchemathesisConfig.from_dict(config)
    )
    loaded.app = get_wsgi_application()
    return loaded


OPERATIONS = [
    (method.upper(), path)
    for path, operations in raw_schema()["paths"].items()
    for method in operations
    if method in HTTP_METHODS
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """schemathesis' WSGI transport is not Django's test client, which disconnects these: with
    them, the end of each request closed the connection holding the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def _raised_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    # DRF reads the rates once, into the class attribute.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", THROTTLE_RATES)


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, dict[str, str]]]:
    """The seeded organization, built once for the module's items (~250) instead of once per
    item: inside a transaction kept open for the module, each item's own transaction is a
    savepoint of it (pytest-django), so what an item writes is rolled back after it as before.
    Headers per role: the admin's and the closer's."""
    with django_db_blocker.unblock(), transaction.atomic():
        org = make_org(nome="Mentoria Alfa")
        lead = LeadFactory(organization=org.org, closer=org.closer, sdr=org.sdr)
        InteractionFactory(lead=lead)
        TaskFactory(lead=lead, responsavel=org.closer)
        yield {role: _authenticate(org, role) for role in ("admin", "closer")}
        transaction.set_rollback(True)


def _authenticate(org: Org, role: str) -> dict[str, str]:
    token = RefreshToken.for_user(org.member(role).user).access_token
    return {"Authorization": f"Bearer {token}", "X-Organization-Id": str(org.org.pk)}


@pytest.fixture
def headers(seeded: dict[str, dict[str, str]], _raised_throttles: None) -> dict[str, str]:
    return seeded["admin"]


@pytest.fixture
def closer_headers(seeded: dict[str, dict[str, str]], _raised_throttles: None) -> dict[str, str]:
    return seeded["closer"]


def _sampler() -> Callable[[Any], bool]:
    """True for the cases to send: every examples/fuzzing case, and the first coverage case
    of each scenario kind, method and parameter location."""
    seen: set[tuple[str, str, str]] = set()

    def wanted(case: Any) -> bool:
        phase = case.meta.phase
        if phase.name != TestPhase.COVERAGE:
            return True
        key = (case.method, str(phase.data.scenario), str(phase.data.parameter_location))
        if key in seen:
            return False
        seen.add(key)
        return True

    return wanted


def _run(schema: Any, method: str, path: str, headers: dict[str, str]) -> None:
    operation = schema[path][method]
    wanted = _sampler()

    # The app is called in process (WSGI), where nothing decodes a gzipped body, and
    # schemathesis sends requests' default `Accept-Encoding: gzip, deflate`: ask for the
    # plain body (compression has its own tests, tests/test_compression.py).
    plain = {**headers, "Accept-Encoding": "identity"}

    @settings(suppress_health_check=list(HealthCheck), deadline=None)
    def check(case: Any) -> None:
        if wanted(case):
            case.call_and_validate(headers=plain)

    test = build_operation_test(
        config=schema.config,
        operation=operation,
        test_func=check,
        given_kwargs={},
        feedback=FeedbackSources(),
    )
    test()


IDS = [f"{m} {p}" for m, p in OPERATIONS]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=IDS)
def test_operation(method: str, path: str, headers: dict[str, str]) -> None:
    _run(loaded_schema(), method, path, headers)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=IDS)
def test_operation_as_a_closer(method: str, path: str, closer_headers: dict[str, str]) -> None:
    _run(loaded_schema("closer"), method, path, closer_headers)


def test_every_operation_is_covered() -> None:
    """The parametrization follows the schema: nothing is left out."""
    assert len(OPERATIONS) > 100
    assert ("POST", "/api/v1/leads/") in OPERATIONS
