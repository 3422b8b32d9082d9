"""A WhatsApp number is bound to an organization only once confirmed (issue 13.8): by a webhook
for the number signed with the account's app secret, or by Meta's Graph API answering
`GET /{phone_number_id}` to the account's token. Registering says nothing about other
organizations, and an unconfirmed account receives nothing."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from pytest_httpserver import HTTPServer

from integrations.models import WebhookNotification, WhatsAppAccount
from tests.integrations.factories import ACCESS_TOKEN, WhatsAppAccountFactory
from tests.integrations.webhook_helpers import PNID, notification, post_signed, text_message

pytestmark = pytest.mark.django_db

API = "/api/v1/integrations/whatsapp-accounts/"
VALID = {
    "phone_number_id": PNID,
    "access_token": "EAAG-token-da-org",
    "app_secret": "segredo-do-app",
    "verify_token": "verificacao",
    "ativo": True,
}


def inbound() -> dict:
    return notification(pnid=PNID, messages=[text_message("wamid.X1", "5511987654321", "oi")])


@pytest.mark.parametrize("holder", ["none", "registered", "confirmed"])
def test_registering_a_number_answers_the_same_whoever_else_has_it(
    org_a, org_b, client_for, holder
):
    if holder != "none":
        WhatsAppAccountFactory(
            organization=org_a.org,
            phone_number_id=PNID,
            confirmed_at=timezone.now() if holder == "confirmed" else None,
        )
    response = client_for(org_b.admin).post(API, VALID, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["confirmado"] is False
    assert body["confirmed_at"] is None
    assert WhatsAppAccount.objects.filter(organization=org_b.org).count() == 1


def test_a_signed_webhook_binds_the_signing_account_and_not_a_squatter(org_a, org_b):
    squatter = WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=PNID, app_secret="adivinhado"
    )
    owner = WhatsAppAccountFactory(
        organization=org_b.org, phone_number_id=PNID, app_secret="segredo-do-dono"
    )
    # Until confirmed, nothing is routed: a body signed with neither secret is refused.
    assert post_signed(inbound(), secret="outro").status_code == 401
    assert not WhatsAppAccount.objects.filter(confirmed_at__isnull=False).exists()

    assert post_signed(inbound(), secret="segredo-do-dono").json() == {"status": "accepted"}
    owner.refresh_from_db()
    squatter.refresh_from_db()
    assert owner.confirmed_at is not None
    assert squatter.confirmed_at is None
    assert [n.organization_id for n in WebhookNotification.objects.all()] == [org_b.org.pk]

    # Even a body signed with the squatter's own secret is not routed to it any more.
    other = notification(pnid=PNID, messages=[text_message("wamid.X2", "5511987654321", "b")])
    assert post_signed(other, secret="adivinhado").json() == {"status": "ignored"}
    assert WebhookNotification.objects.count() == 1
    squatter.refresh_from_db()
    assert squatter.confirmed_at is None


def test_confirmed_numbers_are_unique_in_the_database(org_a, org_b):
    WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=PNID, confirmed_at=timezone.now()
    )
    late = WhatsAppAccountFactory(organization=org_b.org, phone_number_id=PNID)
    with pytest.raises(IntegrityError), transaction.atomic():
        WhatsAppAccount.objects.filter(pk=late.pk).update(confirmed_at=timezone.now())


def graph_stub(httpserver: HTTPServer, *, token: str = ACCESS_TOKEN, pnid: str = PNID) -> None:
    """Meta's `GET /{phone_number_id}`: the number to its token, OAuthException otherwise."""

    def handler(request):
        from werkzeug import Response

        if request.headers.get("Authorization") != f"Bearer {token}":
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
            }
            return Response(json.dumps({"error": error}), 401, content_type="application/json")
        body = {"id": pnid, "display_phone_number": "+55 11 4000-0000", "verified_name": "Org"}
        return Response(json.dumps(body), 200, content_type="application/json")

    httpserver.expect_request(f"/v25.0/{PNID}", method="GET").respond_with_handler(handler)


def test_the_api_confirms_a_number_with_its_token(org_a, org_b, client_for, httpserver):
    graph_stub(httpserver)
    base = httpserver.url_for("/v25.0")
    mine = WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID, api_base_url=base)
    wrong = WhatsAppAccountFactory(
        organization=org_b.org, phone_number_id=PNID, api_base_url=base, access_token="errado"
    )

    refused = client_for(org_b.admin).post(f"{API}{wrong.pk}/confirm/")
    assert refused.status_code == 400
    assert "phone_number_id" in refused.json()["details"]

    confirmed = client_for(org_a.admin).post(f"{API}{mine.pk}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["confirmado"] is True
    mine.refresh_from_db()
    assert mine.confirmed_at is not None

    # A second organization holding a valid token too: the first confirmation wins.
    WhatsAppAccount.objects.filter(pk=wrong.pk).update(access_token=ACCESS_TOKEN)
    assert client_for(org_b.admin).post(f"{API}{wrong.pk}/confirm/").status_code == 409
    # Another organization's account is a 404; managers below admin may not confirm.
    assert client_for(org_b.admin).post(f"{API}{mine.pk}/confirm/").status_code == 404
    assert client_for(org_a.gestor).post(f"{API}{mine.pk}/confirm/").status_code == 403


def test_changing_the_number_needs_a_new_confirmation(org_a, client_for):
    account = WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=PNID, confirmed_at=timezone.now()
    )
    client = client_for(org_a.admin)
    client.patch(f"{API}{account.pk}/", {"auto_criar_leads": False}, format="json")
    account.refresh_from_db()
    assert account.confirmed_at is not None
    response = client.patch(f"{API}{account.pk}/", {"phone_number_id": "999"}, format="json")
    assert response.json()["confirmado"] is False
    account.refresh_from_db()
    assert account.confirmed_at is None


def test_the_admin_action_confirms_with_the_token(org_a, httpserver):
    from tests.admin_support import login

    graph_stub(httpserver)
    account = WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=PNID, api_base_url=httpserver.url_for("/v25.0")
    )
    response = login(org_a.admin).post(
        "/admin/integrations/whatsappaccount/",
        {"action": "confirm_numbers", "_selected_action": [str(account.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert f"Número {PNID} confirmado." in response.content.decode()
    account.refresh_from_db()
    assert account.confirmed_at is not None
