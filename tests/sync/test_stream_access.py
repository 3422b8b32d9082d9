"""Who may open the notification stream and read which channel (the streaming itself is
tested under a real uvicorn in tests/ops/test_notification_stream.py)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from organizations.realtime import MemberChannelManager, channel_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

STREAM = "/api/v1/notifications/stream/"


def test_the_channel_manager_lets_a_user_read_only_their_own_channels(org_a, org_b):
    manager = MemberChannelManager()
    user = org_a.closer.user
    assert manager.can_read_channel(user, channel_for(org_a.closer.pk))
    for channel in (
        channel_for(org_a.sdr.pk),
        channel_for(org_b.closer.pk),
        channel_for(uuid.uuid4()),
        "notifications-not-a-uuid",
        "other-channel",
    ):
        assert not manager.can_read_channel(user, channel), channel
    assert not manager.can_read_channel(None, channel_for(org_a.closer.pk))
    org_a.closer.ativo = False
    org_a.closer.save()
    assert not manager.can_read_channel(user, channel_for(org_a.closer.pk))


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer nao-e-um-token"}])
def test_anonymous_or_bad_tokens_get_a_401(headers):
    response = Client().get(STREAM, **headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error", "details"}


def test_a_foreign_or_malformed_organization_header_is_refused(org_a, org_b):
    client = Client()
    client.login(email=org_a.closer.user.email, password=PASSWORD)
    foreign = client.get(STREAM, HTTP_X_ORGANIZATION_ID=str(org_b.org.pk))
    assert foreign.status_code == 403
    assert client.get(STREAM, HTTP_X_ORGANIZATION_ID="x").status_code == 400


def test_the_admin_loads_the_live_badge_script(org_a):
    user = org_a.admin.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    page = client.get("/admin/").content.decode()
    assert "organizations/notifications_live.js" in page
