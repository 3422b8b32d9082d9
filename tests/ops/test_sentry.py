"""Sentry: errors of requests and jobs reach a (local stub) Sentry, tagged and scrubbed."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from typing import Any

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from config.context import bind_request_id
from config.jobs import enqueue
from config.sentry import scrub_event
from tests.factories import MembershipFactory, OrganizationFactory
from tests.ops.conftest import http_get, run_manage

EMAIL = "ana.paula@cliente.com.br"
PHONE = "+5511987654321"


def sentry_dsn(httpserver) -> str:
    httpserver.expect_request("/api/1/envelope/", method="POST").respond_with_json({})
    return f"http://publickey@127.0.0.1:{httpserver.port}/1"


def received_events(httpserver, timeout: float = 20) -> list[tuple[dict[str, Any], str]]:
    """(event, raw envelope text) for every error event the stub received."""
    deadline = time.monotonic() + timeout
    while True:
        events = []
        for request, _response in httpserver.log:
            raw = request.get_data()
            if request.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            text = raw.decode()
            lines = text.splitlines()
            for index, line in enumerate(lines[1:-1], start=1):
                header = json.loads(line) if line.startswith("{") else {}
                if header.get("type") == "event":
                    events.append((json.loads(lines[index + 1]), text))
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def assert_scrubbed(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} reached Sentry"


# --- the scrubber


def test_it_scrubs_personal_data_from_events():
    event = {
        "message": f"could not reach {EMAIL} at {PHONE}",
        "exception": {"values": [{"type": "ValueError", "value": f"bad phone {PHONE}"}]},
        "request": {
            "url": "https://app.example.com/api/v1/leads/",
            "query_string": f"email={EMAIL}",
            "headers": {"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2ln", "X-Request-ID": "r1"},
            "cookies": {"sessionid": "s3ssion-value"},
            "data": {"nome_completo": "Ana", "email": EMAIL, "telefone": PHONE},
        },
        "breadcrumbs": {"values": [{"message": f"POST login {EMAIL} password=hunter22"}]},
        "tags": {"request_id": "r1", "organization_id": "3f2a1b4c-1234-5678-9012-abcdefabcdef"},
    }

    scrubbed = scrub_event(event, {})

    text = json.dumps(scrubbed)
    assert_scrubbed(text, EMAIL, PHONE, "hunter22", "eyJhbGciOi", "s3ssion-value")
    assert scrubbed["tags"] == event["tags"]
    assert scrubbed["request"]["headers"]["X-Request-ID"] == "r1"
    assert scrubbed["request"]["data"]["email"] == "[redacted]"
    assert scrubbed["exception"]["values"][0]["value"] == "bad phone [phone]"


# --- real processes reporting to a stub Sentry


@pytest.mark.slow
def test_it_reports_request_errors_tagged_and_scrubbed(
    transactional_db, httpserver, subprocess_env, start_gunicorn
):
    org = OrganizationFactory(nome="Mentoria Sentry")
    admin = MembershipFactory(organization=org, role="admin")
    access = str(RefreshToken.for_user(admin.user).access_token)
    # A broken throttle rate makes every API request fail with a 500 (a Redis outage used to,
    # but the cache now fails open: tests/test_redis_down.py).
    env = subprocess_env(
        SENTRY_DSN=sentry_dsn(httpserver),
        THROTTLE_USER="many/min",
        WEB_CONCURRENCY="1",
    )
    server = start_gunicorn(env)

    status, headers, _body = http_get(
        f"{server.url}/api/v1/leads/?email={EMAIL}",
        headers={
            "Authorization": f"Bearer {access}",
            "X-Organization-Id": str(org.pk),
            "X-Contato": PHONE,
        },
    )

    assert status == 500
    request_id = headers["X-Request-ID"]
    events = received_events(httpserver)
    assert len(events) == 1, [e["tags"] for e, _ in events]
    event, raw = events[0]
    tags = event["tags"]
    assert tags["request_id"] == request_id
    assert tags["organization_id"] == str(org.pk)
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert_scrubbed(raw, EMAIL, PHONE, access, access.split(".")[1], admin.user.email)
    assert "email=[email]" in event["request"]["query_string"]
    # The request line in the server's log has the same id.
    request_lines = [
        json.loads(line)
        for line in server.output().splitlines()
        if line.startswith("{") and '"event": "request"' in line
    ]
    assert [line["status"] for line in request_lines if line["request_id"] == request_id] == [500]


@pytest.mark.slow
def test_it_reports_job_errors_with_the_enqueuing_request_id(
    transactional_db, httpserver, subprocess_env
):
    org = OrganizationFactory(nome="Mentoria Jobs")
    request_id = uuid.uuid4().hex
    with bind_request_id(request_id):
        enqueue("tests.ops.jobs.fail_with_email", email=EMAIL, organization_id=str(org.pk))

    worker = run_manage(
        "rqworker", "default", "--burst", env=subprocess_env(SENTRY_DSN=sentry_dsn(httpserver))
    )

    assert worker.returncode == 0, worker.stderr
    events = received_events(httpserver)
    assert len(events) == 1
    event, raw = events[0]
    assert event["tags"]["request_id"] == request_id
    assert event["tags"]["organization_id"] == str(org.pk)
    assert event["tags"]["job"] == "tests.ops.jobs.fail_with_email"
    value = event["exception"]["values"][-1]
    assert value["type"] == "ValueError"
    assert value["value"] == "could not deliver the message to [email]"
    assert_scrubbed(raw, EMAIL)
    assert EMAIL not in worker.stdout + worker.stderr
