"""Mobile push: device registration, FCM HTTP v1 over real HTTP against a local stub that
answers like Google (OAuth token exchange, messages:send, its error bodies), token pruning,
preferences and the email digest."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import django_rq
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from rq.exceptions import AbandonedJobError
from werkzeug import Request, Response

from integrations.errors import RetryableError
from integrations.jobs import enqueue_push, push_attempt_failed, push_notification, push_sweep
from integrations.push.fcm import GRANT_TYPE, SCOPE
from organizations.jobs import send_notification_digest, send_notification_digests
from organizations.models import Device, Notification, NotificationPreference, NotificationTipo
from organizations.notifications import digest_send, notify
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"
PREFS = "/api/v1/me/notification-preferences/"
PROJECT = "leads-app-test"
GOOD, DEAD, MALFORMED = "tok-good-" + "a" * 140, "tok-dead-" + "b" * 140, "tok-bad"
REFUSED = "tok-refused-" + "c" * 140  # FCM refuses the message itself (not the token's fault)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fcm(httpserver, settings, rsa_key):
    """A service account whose token_uri and FCM base URL point at the local stub."""
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    token_uri = httpserver.url_for("/token")
    settings.FCM_SERVICE_ACCOUNT = json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "push@leads-app-test.iam.gserviceaccount.com",
            "token_uri": token_uri,
        }
    )
    settings.FCM_BASE_URL = httpserver.url_for("/")
    cache.delete("fcm:access-token:push@leads-app-test.iam.gserviceaccount.com")
    sent: list[dict] = []
    exchanges: list[dict] = []

    def token(request: Request) -> Response:
        form = parse_qs(request.get_data(as_text=True))
        assert form["grant_type"] == [GRANT_TYPE]
        claims = jwt.decode(
            form["assertion"][0], rsa_key.public_key(), algorithms=["RS256"], audience=token_uri
        )
        assert claims["scope"] == SCOPE
        assert claims["iss"] == "push@leads-app-test.iam.gserviceaccount.com"
        assert claims["exp"] - claims["iat"] == 3600
        exchanges.append(claims)
        body = {"access_token": f"ya29.test-{len(exchanges)}", "expires_in": 3599}
        return Response(
            json.dumps({**body, "token_type": "Bearer"}), 200, {"Content-Type": "application/json"}
        )

    def send(request: Request) -> Response:
        assert request.headers["Authorization"].startswith("Bearer ya29.test-")
        message = request.get_json()["message"]
        sent.append(message)
        if message["token"] == DEAD:
            error = {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED",
                    }
                ],
            }
            return Response(json.dumps({"error": error}), 404, {"Content-Type": "application/json"})
        if message["token"] == MALFORMED:
            error = {
                "code": 400,
                "message": "The registration token is not a valid FCM registration token",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "INVALID_ARGUMENT",
                    }
                ],
            }
            return Response(json.dumps({"error": error}), 400, {"Content-Type": "application/json"})
        if message["token"] == REFUSED:
            error = {
                "code": 400,
                "message": "Invalid JSON payload received.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": "message.data", "description": "bad"}],
                    }
                ],
            }
            return Response(json.dumps({"error": error}), 400, {"Content-Type": "application/json"})
        name = f"projects/{PROJECT}/messages/{len(sent)}"
        return Response(json.dumps({"name": name}), 200, {"Content-Type": "application/json"})

    httpserver.expect_request("/token", method="POST").respond_with_handler(token)
    httpserver.expect_request(
        f"/v1/projects/{PROJECT}/messages:send", method="POST"
    ).respond_with_handler(send)
    return {"sent": sent, "exchanges": exchanges}


def _device(member, token, plataforma="android"):
    return Device.objects.create(
        organization=member.organization, membership=member, plataforma=plataforma, token=token
    )


# --- the devices API ---------------------------------------------------------------------------


def test_it_registers_lists_and_deletes_own_devices(org_a, client_for):
    client = client_for(org_a.closer)
    body = {"plataforma": "android", "token": GOOD, "app_versao": "2.4.1"}
    created = client.post(DEVICES, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["plataforma"] == "android"
    # The same token again (app restart, new version): the same row, 200.
    again = client.post(DEVICES, {**body, "app_versao": "2.5.0"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    assert Device.objects.get().app_versao == "2.5.0"
    _device(org_a.sdr, "tok-sdr")
    listing = client.get(DEVICES).json()["data"]
    assert [d["id"] for d in listing] == [created.json()["id"]]
    # A colleague's device is not there for the closer.
    other = Device.objects.get(token="tok-sdr")
    assert client.get(f"{DEVICES}{other.pk}/").status_code == 404
    assert client.delete(f"{DEVICES}{other.pk}/").status_code == 404
    assert client.delete(f"{DEVICES}{created.json()['id']}/").status_code == 204
    assert list(Device.objects.values_list("token", flat=True)) == ["tok-sdr"]


def test_a_token_registered_by_another_member_moves_to_the_new_one(org_a, client_for):
    _device(org_a.sdr, GOOD)
    response = client_for(org_a.closer).post(
        DEVICES, {"plataforma": "ios", "token": GOOD}, format="json"
    )
    assert response.status_code == 200
    device = Device.objects.get()
    assert device.membership == org_a.closer
    assert device.plataforma == "ios"


@pytest.mark.parametrize(
    "body",
    [
        {"plataforma": "windows", "token": GOOD},
        {"plataforma": "android", "token": ""},
        {"plataforma": "android", "token": "   "},
        {"plataforma": "android"},
        {"plataforma": "android", "token": 123},
        {"plataforma": "android", "token": "x" * 4097},
        {"token": GOOD},
    ],
)
def test_bad_device_input_is_a_400_and_writes_nothing(org_a, client_for, body):
    response = client_for(org_a.closer).post(DEVICES, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert not Device.objects.exists()


# --- pushing -----------------------------------------------------------------------------------


def test_a_new_notification_is_pushed_to_every_device_and_dead_tokens_are_pruned(
    org_a, fcm, django_capture_on_commit_callbacks
):
    _device(org_a.closer, GOOD)
    _device(org_a.closer, DEAD, plataforma="ios")
    _device(org_a.closer, MALFORMED, plataforma="web")
    _device(org_a.sdr, "tok-sdr-not-notified")
    with django_capture_on_commit_callbacks(execute=True):
        [notification] = notify(
            organization=org_a.org,
            recipients=[org_a.closer],
            tipo="lead_converted",
            titulo="Lead convertido: Ana",
            payload={"lead_id": "abc", "valor": 1500, "nada": None},
        )
    queued = django_rq.get_queue("high").jobs
    assert [job.kwargs["notification_id"] for job in queued] == [str(notification.pk)]
    push_notification(**queued[0].kwargs)

    assert sorted(m["token"] for m in fcm["sent"]) == sorted([GOOD, DEAD, MALFORMED])
    message = next(m for m in fcm["sent"] if m["token"] == GOOD)
    assert message["notification"] == {"title": "Lead convertido: Ana", "body": "Lead convertido"}
    assert message["data"] == {
        "notification_id": str(notification.pk),
        "tipo": "lead_converted",
        "lead_id": "abc",
        "valor": "1500",
    }
    assert message["android"]["collapse_key"] == str(notification.pk)
    assert message["apns"]["headers"]["apns-collapse-id"] == str(notification.pk)
    # One OAuth exchange for the three sends (cached), and the dead tokens are gone.
    assert len(fcm["exchanges"]) == 1
    assert sorted(Device.objects.values_list("token", flat=True)) == sorted(
        [GOOD, "tok-sdr-not-notified"]
    )
    notification.refresh_from_db()
    assert notification.pushed_at is not None
    # Run twice: nothing is pushed again.
    push_notification(**queued[0].kwargs)
    assert len(fcm["sent"]) == 3


def test_a_member_who_turned_push_off_gets_none(org_a, fcm, client_for):
    _device(org_a.closer, GOOD)
    response = client_for(org_a.closer).put(
        PREFS, {"lead_converted": {"push": False, "email": True, "in_app": True}}, format="json"
    )
    assert response.status_code == 200
    notification = NotificationFactory(recipient=org_a.closer, tipo="lead_converted")
    push_notification(notification_id=str(notification.pk), organization_id=str(org_a.org.pk))
    assert fcm["sent"] == []
    other = NotificationFactory(recipient=org_a.closer, tipo="task_due")
    push_notification(notification_id=str(other.pk), organization_id=str(org_a.org.pk))
    assert [m["data"]["tipo"] for m in fcm["sent"]] == ["task_due"]


def test_a_provider_outage_is_retried_and_the_sweep_finds_lost_pushes(
    org_a, httpserver, fcm, django_capture_on_commit_callbacks
):
    _device(org_a.closer, GOOD)
    notification = NotificationFactory(recipient=org_a.closer)
    httpserver.clear()  # FCM now answers 503 to everything
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "ya29.test-x", "expires_in": 3599}
    )
    httpserver.expect_request(f"/v1/projects/{PROJECT}/messages:send").respond_with_json(
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": "down"}}, status=503
    )
    with pytest.raises(RetryableError):
        push_notification(notification_id=str(notification.pk), organization_id=str(org_a.org.pk))
    notification.refresh_from_db()
    assert notification.pushed_at is None
    assert Device.objects.filter(token=GOOD).exists()  # an outage never prunes
    # Later the sweep re-enqueues it (its job was lost or kept failing).
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    django_rq.get_queue("high").empty()
    with django_capture_on_commit_callbacks(execute=True):
        assert push_sweep() == 1
    assert [job.kwargs["notification_id"] for job in django_rq.get_queue("high").jobs] == [
        str(notification.pk)
    ]


def test_a_permanent_fcm_refusal_is_recorded_on_the_notification_and_the_device_kept(org_a, fcm):
    _device(org_a.closer, GOOD)
    _device(org_a.closer, REFUSED, plataforma="ios")
    notification = NotificationFactory(recipient=org_a.closer)
    push_notification(notification_id=str(notification.pk), organization_id=str(org_a.org.pk))

    notification.refresh_from_db()
    assert notification.pushed_at is not None  # retrying cannot help: done, with the reason
    assert notification.push_error is not None
    assert "messages:send answered 400" in notification.push_error
    assert "google.rpc.BadRequest" in notification.push_error
    assert Device.objects.filter(token=REFUSED).exists()  # not a dead token: not pruned
    assert sorted(m["token"] for m in fcm["sent"]) == sorted([GOOD, REFUSED])


def test_a_failed_or_abandoned_push_job_records_the_error_until_a_push_completes(
    org_a, fcm, django_capture_on_commit_callbacks
):
    _device(org_a.closer, GOOD)
    notification = NotificationFactory(recipient=org_a.closer)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_push(notification_id=notification.pk, organization_id=org_a.org.pk)
    [job] = [
        job
        for job in django_rq.get_queue("high").jobs
        if job.kwargs["notification_id"] == str(notification.pk)
    ]
    # The job carries the callback RQ calls when it fails or its worker dies.
    assert job.failure_callback is push_attempt_failed
    assert job.retries_left == 3
    # What RQ passes when another worker finds the job abandoned (its worker was killed).
    push_attempt_failed(
        job,
        django_rq.get_connection("high"),
        AbandonedJobError,
        AbandonedJobError("work-horse terminated unexpectedly"),
        None,
    )
    notification.refresh_from_db()
    assert notification.pushed_at is None  # the retry (or the sweep) still pushes it
    assert notification.push_error == (
        "push interrupted (AbandonedJobError: work-horse terminated unexpectedly); retrying"
    )
    job.retries_left = 0
    push_attempt_failed(
        job,
        django_rq.get_connection("high"),
        RetryableError,
        RetryableError("503", provider="fcm"),
        None,
    )
    notification.refresh_from_db()
    assert notification.push_error is not None
    assert notification.push_error.endswith("the sweep will retry")

    push_notification(**job.kwargs)  # the retry succeeds: the error is cleared
    notification.refresh_from_db()
    assert notification.pushed_at is not None
    assert notification.push_error is None
    assert [m["token"] for m in fcm["sent"]] == [GOOD]
    # A late callback (a duplicate job failing after the push completed) changes nothing.
    push_attempt_failed(
        job,
        django_rq.get_connection("high"),
        RetryableError,
        RetryableError("late", provider="fcm"),
        None,
    )
    notification.refresh_from_db()
    assert notification.push_error is None


# --- preferences -----------------------------------------------------------------------------


def test_preferences_default_and_change_per_tipo(org_a, org_b, client_for):
    client = client_for(org_a.closer)
    prefs = client.get(PREFS).json()
    assert prefs["task_due"] == {"push": True, "email": False, "in_app": True}
    assert set(prefs) == set(NotificationTipo.values)
    changed = client.put(
        PREFS, {"task_due": {"push": False, "email": True, "in_app": False}}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["task_due"] == {"push": False, "email": True, "in_app": False}
    assert changed.json()["lead_converted"] == {"push": True, "email": False, "in_app": True}
    # Nobody else's preferences moved.
    assert client_for(org_a.sdr).get(PREFS).json()["task_due"]["email"] is False
    assert NotificationPreference.objects.get().membership == org_a.closer


@pytest.mark.parametrize(
    "body",
    [
        {"tarefa": {"push": True, "email": True, "in_app": True}},
        {"task_due": {"push": True}},
        {"task_due": {"push": "talvez", "email": True, "in_app": True}},
        {"task_due": True},
        ["task_due"],
    ],
)
def test_bad_preferences_are_a_400_and_write_nothing(org_a, client_for, body):
    response = client_for(org_a.closer).put(PREFS, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert not NotificationPreference.objects.exists()


# --- the email digest --------------------------------------------------------------------------


def test_the_daily_digest_mails_unread_notifications_of_the_chosen_tipos_once(
    org_a, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(
        organization=org_a.org, membership=org_a.closer, tipo="task_due", email=True
    )
    unread = NotificationFactory(recipient=org_a.closer, tipo="task_due", titulo="Ligar p/ Ana")
    NotificationFactory(recipient=org_a.closer, tipo="task_due", read_at=timezone.now())
    NotificationFactory(recipient=org_a.closer, tipo="lead_converted", titulo="Não escolhido")
    NotificationFactory(recipient=org_a.sdr, tipo="task_due")

    django_rq.get_queue("low").empty()
    with django_capture_on_commit_callbacks(execute=True):
        assert send_notification_digests() == 1
    [job] = django_rq.get_queue("low").jobs
    assert send_notification_digest(**job.kwargs) == 1
    [message] = mail.outbox
    assert message.to == [org_a.closer.user.email]
    assert "1 notificação não lida" in message.subject
    assert "Ligar p/ Ana" in message.body
    assert "Não escolhido" not in message.body
    unread.refresh_from_db()
    assert unread.digested_at is not None
    # Run again: nothing new to mail.
    assert digest_send(membership=org_a.closer) == 0
    assert len(mail.outbox) == 1
