"""A finished request leaves nothing for the cyclic garbage collector (config/cycles.py).

Each request goes through Django's request cycle and is closed as a WSGI server closes it
(the test client's handler, without the client's own references on the response). Then
everything the request made must already be freed by reference counting: a cycle would
keep its view, rows and serializers alive until a collection walks them inside a later request.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.test.client import ClientHandler
from django_filters import FilterSet
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.factories import PASSWORD, InteractionFactory, LeadFactory, QualificationFactory

pytestmark = pytest.mark.django_db

# What a request makes and what holds the rest of it (the page, the query sets): any of these
# among the collector's garbage is a cycle left behind. Model instances that cache each other
# (a lead and its one-to-one qualification) are the ORM's own small cycles, left to the
# collector.
REQUEST_TYPES = (HttpRequest, Request, APIView, BaseSerializer, FilterSet)


@pytest.fixture
def serve(org_a: Any) -> Callable[..., int]:
    token = (
        APIClient()
        .post(
            "/api/v1/auth/token/",
            {"email": org_a.gestor.user.email, "password": PASSWORD},
            format="json",
        )
        .json()["access"]
    )
    # The test client's own handler: Django's request cycle, closed as a WSGI server closes
    # it, with the test's connection kept open. The client around it (`Client.request`)
    # would add references of its own to each response.
    handler = ClientHandler(enforce_csrf_checks=False)
    factory = RequestFactory()

    def request(method: str, path: str, body: dict[str, Any] | None = None) -> int:
        environ = getattr(factory, method)(
            path,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        ).environ
        return int(handler(environ).status_code)

    return request


def left_behind(serve: Callable[..., int], *args: Any) -> tuple[int, Counter[str]]:
    """The request's status and the types of what the collector found of it."""
    serve(*args)  # first use: caches filled, modules imported
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        status = serve(*args)
        gc.collect()
        found = Counter(type(o).__qualname__ for o in gc.garbage if isinstance(o, REQUEST_TYPES))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    return status, found


@pytest.fixture
def lead(org_a: Any) -> Any:
    LeadFactory.create_batch(3, organization=org_a.org, closer=org_a.closer)
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Ana Silva")
    InteractionFactory(lead=lead)
    QualificationFactory(lead=lead)
    return lead


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/leads/",
        "/api/v1/leads/?status=novo,em_contato&temperatura=quente&score_min=10",
        "/api/v1/leads/?search=Silva",
        "/api/v1/leads/?cursor=",
        "/api/v1/leads/?status=bogus",
        "/api/v1/leads/{lead}/",
        "/api/v1/leads/{lead}/timeline/",
        "/api/v1/leads/performance/?period=30",
        "/api/v1/mentorados/",
        "/api/v1/mentorados/dashboard/",
    ],
)
def test_a_read_leaves_no_cycles(serve: Any, lead: Any, path: str) -> None:
    status, found = left_behind(serve, "get", path.format(lead=lead.pk))
    assert status in (200, 400)
    assert found == Counter()


def test_writes_leave_no_cycles(serve: Any, lead: Any) -> None:
    status, found = left_behind(
        serve, "post", "/api/v1/leads/", {"nome_completo": "Bruno Souza", "origem": "site"}
    )
    assert (status, found) == (201, Counter())
    status, found = left_behind(
        serve, "patch", f"/api/v1/leads/{lead.pk}/", {"observacoes": "Ligar amanhã"}
    )
    assert (status, found) == (200, Counter())
