"""Admin pages: secrets masked and replaced through empty inputs; integration records read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from integrations.models import CRMConnection, WhatsAppAccount, hash_verify_token
from tests.integrations.factories import (
    ACCESS_TOKEN,
    APP_SECRET,
    CRM_TOKEN,
    CRMConnectionFactory,
    WhatsAppAccountFactory,
    WhatsAppMessageFactory,
)
from tests.integrations.helpers import load_fixture

pytestmark = pytest.mark.django_db

ACCOUNTS = "/admin/integrations/whatsappaccount/"
CONNECTIONS = "/admin/integrations/crmconnection/"


def staff_client(membership) -> Client:
    user = membership.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def account_form(org, **extra: str) -> dict[str, str]:
    data = {
        "organization": str(org.pk),
        "phone_number_id": "106540352242922",
        "api_base_url": "https://graph.facebook.com/v25.0",
        "ativo": "on",
        "auto_criar_leads": "on",
        "novo_access_token": "",
        "novo_app_secret": "",
        "novo_verify_token": "",
    }
    data.update(extra)
    return data


def test_it_never_renders_secrets(org_a):
    account = WhatsAppAccountFactory(organization=org_a.org)
    page = staff_client(org_a.admin).get(f"{ACCOUNTS}{account.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert ACCESS_TOKEN not in html
    assert APP_SECRET not in html
    assert account.verify_token_hash not in html
    assert "••••••••" in html
    assert 'name="novo_access_token"' in html


def test_it_keeps_secrets_when_the_inputs_are_left_empty(org_a):
    account = WhatsAppAccountFactory(organization=org_a.org, phone_number_id="106540352242922")
    response = staff_client(org_a.admin).post(
        f"{ACCOUNTS}{account.pk}/change/", account_form(org_a.org, auto_criar_leads="")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert (account.access_token, account.app_secret) == (ACCESS_TOKEN, APP_SECRET)
    assert account.auto_criar_leads is False


def test_it_replaces_secrets_typed_in_the_inputs(org_a):
    account = WhatsAppAccountFactory(organization=org_a.org, phone_number_id="106540352242922")
    response = staff_client(org_a.admin).post(
        f"{ACCOUNTS}{account.pk}/change/",
        account_form(org_a.org, novo_access_token="novo-token", novo_verify_token="novo-verify"),
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.access_token == "novo-token"
    assert account.app_secret == APP_SECRET
    assert account.verify_token_hash == hash_verify_token("novo-verify")


def test_it_requires_the_secrets_when_adding(org_a):
    client = staff_client(org_a.admin)
    response = client.post(f"{ACCOUNTS}add/", account_form(org_a.org))
    assert response.status_code == 200  # the form again, with errors
    assert not WhatsAppAccount.objects.exists()
    response = client.post(
        f"{ACCOUNTS}add/",
        account_form(org_a.org, novo_access_token="t", novo_app_secret="s", novo_verify_token="v"),
    )
    assert response.status_code == 302
    assert WhatsAppAccount.objects.get().app_secret == "s"


def test_it_shows_a_form_error_for_a_second_active_account(org_a):
    WhatsAppAccountFactory(organization=org_a.org)
    response = staff_client(org_a.admin).post(
        f"{ACCOUNTS}add/",
        account_form(org_a.org, novo_access_token="t", novo_app_secret="s", novo_verify_token="v"),
    )
    assert response.status_code == 200
    assert WhatsAppAccount.objects.count() == 1


def test_it_hides_other_organizations_accounts(org_a, org_b):
    foreign = WhatsAppAccountFactory(organization=org_b.org)
    client = staff_client(org_a.admin)
    assert str(foreign.pk) not in client.get(ACCOUNTS).content.decode()
    assert client.get(f"{ACCOUNTS}{foreign.pk}/change/").status_code == 404


def test_it_shows_messages_and_notifications_read_only(org_a):
    message = WhatsAppMessageFactory(organization=org_a.org, body="Quero saber o preço")
    client = staff_client(org_a.admin)
    listing = client.get("/admin/integrations/whatsappmessage/")
    assert listing.status_code == 200
    assert client.get("/admin/integrations/whatsappmessage/add/").status_code == 403
    page = client.get(f"/admin/integrations/whatsappmessage/{message.pk}/change/")
    assert page.status_code == 200
    assert "Quero saber o preço" in page.content.decode()
    assert 'name="body"' not in page.content.decode()  # not editable
    assert client.get("/admin/integrations/webhooknotification/add/").status_code == 403


def test_it_masks_the_crm_token_and_tests_the_connection(org_a, httpserver):
    row = CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
    )
    client = staff_client(org_a.admin)
    html = client.get(f"{CONNECTIONS}{row.pk}/change/").content.decode()
    assert CRM_TOKEN not in html
    assert "••••••••" in html

    httpserver.expect_oneshot_request("/crm/v3/objects/contacts", method="GET").respond_with_json(
        load_fixture("hubspot_401.json"), status=401
    )
    response = client.post(
        CONNECTIONS,
        {"action": "test_connection", "_selected_action": [str(row.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "INVALID_AUTHENTICATION" in response.content.decode()
    row.refresh_from_db()
    assert "401" in row.last_error


def test_it_fills_the_default_crm_url(org_a):
    response = staff_client(org_a.admin).post(
        f"{CONNECTIONS}add/",
        {
            "organization": str(org_a.org.pk),
            "provider": "pipedrive",
            "api_base_url": "",
            "ativo": "on",
            "novo_token": "tok",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = CRMConnection.objects.get()
    assert (row.api_base_url, row.token) == ("https://api.pipedrive.com", "tok")
