from __future__ import annotations

import pytest

from organizations.models import Notification
from organizations.notifications import notify
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/"


def test_it_lists_only_the_requesters_notifications(org_a, org_b, client_for):
    mine = NotificationFactory(recipient=org_a.closer)
    NotificationFactory(recipient=org_a.sdr)
    NotificationFactory(recipient=org_b.closer)
    body = client_for(org_a.closer).get(URL).json()
    assert [item["id"] for item in body["data"]] == [str(mine.pk)]


def test_it_filters_unread(org_a, client_for):
    unread = NotificationFactory(recipient=org_a.closer)
    NotificationFactory(recipient=org_a.closer, read_at="2026-11-01T10:00:00Z")
    client = client_for(org_a.closer)
    assert [i["id"] for i in client.get(URL, {"unread": "true"}).json()["data"]] == [str(unread.pk)]
    assert len(client.get(URL, {"unread": "false"}).json()["data"]) == 1
    assert client.get(URL, {"unread": "sim"}).status_code == 400


def test_it_marks_one_and_all_as_read(org_a, client_for):
    first, second = NotificationFactory.create_batch(2, recipient=org_a.closer)
    other = NotificationFactory(recipient=org_a.sdr)
    client = client_for(org_a.closer)
    response = client.post(f"{URL}{first.pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    assert client.post(f"{URL}read-all/").json() == {"updated": 1}
    second.refresh_from_db()
    other.refresh_from_db()
    assert second.read_at is not None
    assert other.read_at is None


def test_it_hides_other_peoples_notifications(org_a, org_b, client_for):
    colleague = NotificationFactory(recipient=org_a.sdr)
    foreign = NotificationFactory(recipient=org_b.closer)
    client = client_for(org_a.closer)
    for notification in (colleague, foreign):
        assert client.get(f"{URL}{notification.pk}/").status_code == 404
        assert client.post(f"{URL}{notification.pk}/read/").status_code == 404
        notification.refresh_from_db()
        assert notification.read_at is None


def test_it_notifies_each_recipient_once_and_is_idempotent_with_a_key(org_a):
    recipients = [org_a.closer, org_a.closer, org_a.admin, None]
    notify(organization=org_a.org, recipients=recipients, tipo="task_due", titulo="T", chave="k1")
    notify(organization=org_a.org, recipients=recipients, tipo="task_due", titulo="T", chave="k1")
    assert Notification.objects.count() == 2


def test_it_skips_inactive_and_foreign_recipients(org_a, org_b):
    org_a.sdr.ativo = False
    org_a.sdr.save()
    notify(
        organization=org_a.org, recipients=[org_a.sdr, org_b.closer], tipo="task_due", titulo="T"
    )
    assert not Notification.objects.exists()
