"""Structured request logs, request ids carried into jobs, and redaction of personal data."""

from __future__ import annotations

import logging
import uuid

import django_rq
import pytest
from django.conf import settings as django_settings

from config.context import bind_request_id
from config.jobs import enqueue
from config.logging import ConsoleFormatter, JsonFormatter, RedactingFilter, redact_text
from config.middleware import normalize_route
from leads import signals
from tests.factories import PASSWORD, LeadFactory

pytestmark = pytest.mark.django_db

EMAIL = "maria.souza@cliente.com.br"
PHONE = "+5511987654321"


def run_jobs() -> None:
    worker = django_rq.get_worker(
        "high", "default", "low", worker_class="config.worker.SimpleWorker"
    )
    worker.work(burst=True)


@pytest.fixture
def careless(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.ops.careless.CarelessLoggingMiddleware"]


# --- the request line -------------------------------------------------------------------------


def test_it_logs_one_json_line_per_request(org_a, client_for, log_output):
    response = client_for(org_a.closer).get("/api/v1/leads/")

    assert response.status_code == 200
    lines = log_output.requests()
    assert len(lines) == 1
    line = lines[0]
    assert line["logger"] == "request"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["route"] == "api/v1/leads/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int)
    assert line["duration_ms"] >= 0
    assert line["user_id"] == org_a.closer.user_id
    assert line["organization_id"] == str(org_a.org.pk)
    assert line["ip"] == "127.0.0.1"
    assert line["user_agent"] == ""  # the test client sends none


def test_it_logs_the_user_agent_cut_to_200_characters(org_a, client_for, log_output):
    client = client_for(org_a.closer)
    client.get("/api/v1/leads/", HTTP_USER_AGENT="LeadsApp/2.1 (Android 14)")
    client.get("/api/v1/leads/", HTTP_USER_AGENT="Bot/" + "x" * 500)

    first, second = log_output.requests()
    assert first["user_agent"] == "LeadsApp/2.1 (Android 14)"
    assert second["user_agent"] == "Bot/" + "x" * 196
    assert len(second["user_agent"]) == 200


def test_it_logs_the_route_pattern_not_the_raw_path(org_a, client_for, log_output):
    lead = LeadFactory(organization=org_a.org)

    client_for(org_a.admin).get(f"/api/v1/leads/{lead.pk}/")
    client_for(org_a.admin).get(f"/api/v1/leads/{lead.pk}/interactions/")
    client_for(org_a.admin).get("/nao-existe/")

    routes = [line["route"] for line in log_output.requests()]
    assert routes == [
        "api/v1/leads/<pk>/",
        "api/v1/leads/<uuid:lead_pk>/interactions/",
        "<unmatched>",
    ]
    assert str(lead.pk) not in log_output.text


def test_it_logs_anonymous_and_failed_requests_without_user(anon, log_output):
    response = anon.get("/api/v1/leads/")

    assert response.status_code == 401
    (line,) = log_output.requests()
    assert line["status"] == 401
    assert line["user_id"] is None
    assert line["organization_id"] is None


def test_it_normalizes_router_regexes():
    assert normalize_route("api/v1/^leads/(?P<pk>[^/.]+)/$") == "api/v1/leads/<pk>/"
    assert normalize_route("api/v1/leads/<uuid:lead_pk>/qualification/") == (
        "api/v1/leads/<uuid:lead_pk>/qualification/"
    )


# --- request ids ------------------------------------------------------------------------------


def test_it_generates_a_request_id_when_the_proxy_is_not_trusted(anon, settings, log_output):
    settings.TRUST_REQUEST_ID_HEADER = False

    response = anon.get("/health/live/", HTTP_X_REQUEST_ID="chosen-by-client-1234")

    assert response["X-Request-ID"] != "chosen-by-client-1234"
    assert len(response["X-Request-ID"]) == 32
    assert log_output.requests()[0]["request_id"] == response["X-Request-ID"]


def test_it_accepts_the_proxys_request_id_when_trusted(anon, settings, log_output):
    settings.TRUST_REQUEST_ID_HEADER = True

    response = anon.get("/health/live/", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")

    assert response["X-Request-ID"] == "lb-7f3a9c2e-0001"
    assert log_output.requests()[0]["request_id"] == "lb-7f3a9c2e-0001"


@pytest.mark.parametrize(
    "header", ["x" * 129, "has spaces in it", "<script>", "line\nbreak", "ção-123", ""]
)
def test_it_replaces_an_insane_request_id_even_when_trusted(anon, settings, header):
    settings.TRUST_REQUEST_ID_HEADER = True

    response = anon.get("/health/live/", HTTP_X_REQUEST_ID=header)

    assert response["X-Request-ID"] != header
    assert len(response["X-Request-ID"]) == 32


def test_it_stamps_the_request_id_on_every_line_logged_during_the_request(
    org_a, client_for, careless, log_output
):
    response = client_for(org_a.admin).get("/api/v1/leads/")

    careless_lines = [r for r in log_output.records() if r["logger"] == "tests.ops.careless"]
    assert len(careless_lines) == 2
    assert {r["request_id"] for r in careless_lines} == {response["X-Request-ID"]}


def test_it_carries_the_request_id_into_jobs_the_request_enqueued(
    org_a, client_for, log_output, django_capture_on_commit_callbacks
):
    def enqueue_touch(sender, lead, **kwargs):
        enqueue(
            "tests.ops.jobs.touch_lead",
            lead_id=str(lead.pk),
            organization_id=str(lead.organization_id),
        )

    signals.lead_created.connect(enqueue_touch, dispatch_uid="test-enqueue-touch")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(org_a.admin).post(
                "/api/v1/leads/", {"nome_completo": "Joana Lima", "origem": "site"}, format="json"
            )
    finally:
        signals.lead_created.disconnect(dispatch_uid="test-enqueue-touch")
    assert response.status_code == 201, response.content
    request_id = response["X-Request-ID"]

    run_jobs()

    job_lines = [r for r in log_output.records() if r["logger"] in {"jobs", "tests.ops.jobs"}]
    events = [(r.get("event"), r.get("outcome")) for r in job_lines]
    assert ("job.start", None) in events
    assert ("job.end", "ok") in events
    # Our job plus whatever the lead creation enqueued (enrollment...): all carry the id.
    assert len(job_lines) >= 3
    assert {r["request_id"] for r in job_lines} == {request_id}
    assert {r.get("organization_id") for r in job_lines if r["logger"] == "jobs"} == {
        str(org_a.org.pk)
    }


# --- redaction, driven by real requests and jobs ----------------------------------------------


def test_it_never_logs_the_login_credentials_or_tokens(org_a, anon, careless, log_output):
    email = org_a.admin.user.email

    response = anon.post(
        "/api/v1/auth/token/", {"email": email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    tokens = response.json()
    me = anon.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200

    text = log_output.text
    # The careless middleware did log bodies and headers: they reached the handler redacted.
    assert "tests.ops.careless" in text
    assert "[redacted]" in text
    assert "[email]" in text
    for secret in (email, PASSWORD, tokens["access"], tokens["refresh"]):
        assert secret not in text
    assert "Bearer ey" not in text
    assert tokens["access"].split(".")[1] not in text


def test_it_never_logs_a_leads_email_or_phone(org_a, client_for, careless, log_output):
    def careless_receiver(sender, lead, **kwargs):
        logging.getLogger("tests.ops.careless").warning(
            "created %s <%s> tel %s",
            lead.nome_completo,
            lead.email,
            lead.telefone,
            extra={"email": lead.email, "payload": {"contato": [lead.telefone, lead.email]}},
        )

    signals.lead_created.connect(careless_receiver, dispatch_uid="test-careless")
    try:
        response = client_for(org_a.admin).post(
            f"/api/v1/leads/?email={EMAIL}",
            {
                "nome_completo": "Maria Souza",
                "email": EMAIL,
                "telefone": "(11) 98765-4321",
                "origem": "instagram",
                "observacoes": f"ligar no {PHONE} ou escrever para {EMAIL}",
            },
            format="json",
        )
    finally:
        signals.lead_created.disconnect(dispatch_uid="test-careless")
    assert response.status_code == 201, response.content
    assert response.json()["telefone"] == PHONE

    text = log_output.text
    assert "created Maria Souza <[email]> tel [phone]" in text
    for secret in (EMAIL, PHONE, PHONE[1:], "98765-4321", "maria.souza"):
        assert secret not in text


def test_it_redacts_personal_data_from_a_failing_jobs_exception(
    org_a, log_output, django_capture_on_commit_callbacks
):
    with bind_request_id("req-failing-job"), django_capture_on_commit_callbacks(execute=True):
        enqueue(
            "tests.ops.jobs.fail_with_email",
            email=EMAIL,
            organization_id=str(org_a.org.pk),
        )

    run_jobs()

    failed = [r for r in log_output.records() if r.get("outcome") == "error"]
    assert len(failed) == 1
    assert failed[0]["request_id"] == "req-failing-job"
    assert "ValueError: could not deliver the message to [email]" in failed[0]["exc_info"]
    assert EMAIL not in log_output.text
    # RQ's own failure report went through the same filter.
    assert any(r["logger"].startswith("rq") for r in log_output.records())


# --- the filter and formatters themselves -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ana.b+x@mail.example.com.br now", "write to [email] now"),
        ("call +5511987654321.", "call [phone]."),
        ("call +55 11 98765-4321", "call [phone]"),
        ("tel (11) 98765-4321 ok", "tel [phone] ok"),
        ("fixo 11 3456-7890", "fixo [phone]"),
        ("wa_id 5511987654321 replied", "wa_id [phone] replied"),
        ("celular 11987654321", "celular [phone]"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: [redacted] [token]"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-part", "token [token]"),
        ("password=hunter2&next=/", "password=[redacted]&next=/"),
        ('{"senha": "segredo"}', '{"senha": "[redacted]"}'),
        ("cpf 123.456.789-09", "cpf [cpf]"),
    ],
)
def test_it_redacts_patterns(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "org 3f2a1b4c-1234-5678-9012-abcdefabcdef",
        "from 127.0.0.1 in 12.5 ms",
        "at 2026-11-29T14:05:00+00:00",
        "job 9c1a7e2b4d5f4a3b8c9d0e1f2a3b4c5d took 1234 ms",
        "GET api/v1/leads/<pk>/ 200",
    ],
)
def test_it_leaves_ordinary_operational_text_alone(text):
    assert redact_text(text) == text


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_it_redacts_sensitive_keys_at_any_depth():
    record = _record(
        "saved %s",
        "ana@x.com.br",
        password="p4ss",
        data={"telefone": "11999999999", "items": [{"api_key": "k"}, "b@c.io"]},
        opt_out_email=True,
        count=3,
    )

    RedactingFilter().filter(record)

    assert record.getMessage() == "saved [email]"
    assert vars(record)["password"] == "[redacted]"
    assert vars(record)["data"] == {
        "telefone": "[redacted]",
        "items": [{"api_key": "[redacted]"}, "[email]"],
    }
    assert vars(record)["opt_out_email"] is True
    assert vars(record)["count"] == 3


def test_it_formats_console_lines_for_humans():
    record = _record("lead %s", "created", request_id="abcdef0123456789", route="api/v1/leads/")
    RedactingFilter().filter(record)

    line = ConsoleFormatter().format(record)

    assert line.endswith("INFO    app [abcdef012345] lead created route=api/v1/leads/")


def test_it_formats_json_with_extras_and_exception():
    try:
        raise RuntimeError("boom for x@y.com")
    except RuntimeError:
        import sys

        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.job_id = "j1"
    RedactingFilter().filter(record)

    import json

    payload = json.loads(JsonFormatter().format(record))

    assert payload["level"] == "ERROR"
    assert payload["message"] == "failed"
    assert payload["job_id"] == "j1"
    assert payload["timestamp"].endswith("+00:00")
    assert "RuntimeError: boom for [email]" in payload["exc_info"]


def test_it_configures_console_or_json_from_settings():
    from config.logging import build_logging

    assert build_logging(fmt="console")["handlers"]["default"]["formatter"] == "console"
    assert build_logging(fmt="json")["handlers"]["default"]["formatter"] == "json"
    assert django_settings.LOGGING["handlers"]["default"]["filters"] == [
        "request_context",
        "redact",
    ]


def test_it_generates_distinct_request_ids(anon):
    ids = {anon.get("/health/live/")["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
    assert all(uuid.UUID(value) for value in ids)
