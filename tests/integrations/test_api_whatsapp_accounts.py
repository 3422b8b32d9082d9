"""/api/v1/integrations/whatsapp-accounts/: admin only, secrets write-only, scoped."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import WhatsAppAccount, hash_verify_token
from tests.integrations.factories import WhatsAppAccountFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/integrations/whatsapp-accounts/"
SECRETS = ("access_token", "app_secret", "verify_token")
VALID = {
    "phone_number_id": "106540352242922",
    "access_token": "EAAG-novo-token",
    "app_secret": "segredo-do-app",
    "verify_token": "token-de-verificacao",
}


def assert_no_secrets(body: object, *values: str) -> None:
    text = str(body)
    for name in SECRETS:
        assert f"'{name}'" not in text
    for value in values:
        assert value not in text


def test_it_creates_an_account_and_never_returns_the_secrets(org_a, client_for):
    response = client_for(org_a.admin).post(URL, VALID, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert_no_secrets(body, "EAAG-novo-token", "segredo-do-app", "token-de-verificacao")
    assert body["phone_number_id"] == "106540352242922"
    assert body["api_base_url"] == "https://graph.facebook.com/v25.0"
    assert body["ativo"] is True
    assert body["auto_criar_leads"] is True

    account = WhatsAppAccount.objects.get(pk=body["id"])
    assert account.organization == org_a.org
    assert account.access_token == "EAAG-novo-token"
    assert account.app_secret == "segredo-do-app"
    assert account.verify_token_hash == hash_verify_token("token-de-verificacao")


def test_it_lists_and_reads_accounts_without_secrets(org_a, org_b, client_for):
    mine = WhatsAppAccountFactory(organization=org_a.org)
    WhatsAppAccountFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    listing = client.get(URL).json()
    assert [item["id"] for item in listing["data"]] == [str(mine.pk)]
    assert listing["pagination"]["total"] == 1
    detail = client.get(f"{URL}{mine.pk}/").json()
    assert detail["id"] == str(mine.pk)
    assert_no_secrets([listing, detail], mine.access_token, mine.app_secret)


def test_it_updates_secrets_only_when_given(org_a, client_for):
    account = WhatsAppAccountFactory(organization=org_a.org, access_token="antigo")
    client = client_for(org_a.admin)
    response = client.patch(f"{URL}{account.pk}/", {"auto_criar_leads": False}, format="json")
    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert account.access_token == "antigo"
    assert account.auto_criar_leads is False

    response = client.patch(
        f"{URL}{account.pk}/",
        {"access_token": "novo", "verify_token": "outro-token"},
        format="json",
    )
    assert response.status_code == 200
    assert_no_secrets(response.json(), "novo", "outro-token")
    account.refresh_from_db()
    assert account.access_token == "novo"
    assert account.verify_token_hash == hash_verify_token("outro-token")


def test_it_deletes_an_account(org_a, client_for):
    account = WhatsAppAccountFactory(organization=org_a.org)
    assert client_for(org_a.admin).delete(f"{URL}{account.pk}/").status_code == 204
    assert not WhatsAppAccount.objects.exists()


def test_it_has_no_put(org_a, client_for):
    account = WhatsAppAccountFactory(organization=org_a.org)
    assert (
        client_for(org_a.admin).put(f"{URL}{account.pk}/", VALID, format="json").status_code == 405
    )


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"phone_number_id", "access_token", "app_secret", "verify_token"}),
        ({**VALID, "phone_number_id": "abc"}, {"phone_number_id"}),
        ({**VALID, "phone_number_id": "1" * 65}, {"phone_number_id"}),
        ({**VALID, "access_token": ""}, {"access_token"}),
        ({**VALID, "app_secret": "   "}, {"app_secret"}),
        ({**VALID, "verify_token": None}, {"verify_token"}),
        ({**VALID, "api_base_url": "ftp://exemplo"}, {"api_base_url"}),
        ({**VALID, "api_base_url": "não é url"}, {"api_base_url"}),
        ({**VALID, "ativo": "talvez"}, {"ativo"}),
        ({**VALID, "access_token": "x" * 2001}, {"access_token"}),
    ],
)
def test_it_rejects_bad_input_without_writing_or_echoing_secrets(
    org_a, client_for, payload, fields
):
    response = client_for(org_a.admin).post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"}
    assert set(body["details"]) == fields
    assert "EAAG-novo-token" not in str(body)
    assert "segredo-do-app" not in str(body)
    assert not WhatsAppAccount.objects.exists()


def test_it_rejects_blank_secrets_on_update(org_a, client_for):
    account = WhatsAppAccountFactory(organization=org_a.org, access_token="antigo")
    response = client_for(org_a.admin).patch(
        f"{URL}{account.pk}/", {"access_token": ""}, format="json"
    )
    assert response.status_code == 400
    account.refresh_from_db()
    assert account.access_token == "antigo"


def test_it_conflicts_on_a_number_the_organization_registered_already(org_a, client_for):
    existing = WhatsAppAccountFactory(organization=org_a.org, phone_number_id="106540352242922")
    response = client_for(org_a.admin).post(URL, {**VALID, "ativo": False}, format="json")
    assert response.status_code == 409
    assert response.json()["details"] == {"existing_id": str(existing.pk)}
    assert WhatsAppAccount.objects.count() == 1


def test_it_allows_one_active_account_per_organization(org_a, client_for):
    active = WhatsAppAccountFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    response = client.post(URL, VALID, format="json")
    assert response.status_code == 409
    assert response.json()["details"] == {"existing_id": str(active.pk)}

    response = client.post(URL, {**VALID, "ativo": False}, format="json")
    assert response.status_code == 201
    second = response.json()["id"]
    assert client.patch(f"{URL}{second}/", {"ativo": True}, format="json").status_code == 409
    client.patch(f"{URL}{active.pk}/", {"ativo": False}, format="json")
    assert client.patch(f"{URL}{second}/", {"ativo": True}, format="json").status_code == 200


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_it_is_for_admins_only(org_a, client_for, role):
    account = WhatsAppAccountFactory(organization=org_a.org)
    client = client_for(org_a.member(role))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{account.pk}/").status_code == 403
    assert client.post(URL, VALID, format="json").status_code == 403
    assert client.patch(f"{URL}{account.pk}/", {"ativo": False}, format="json").status_code == 403
    assert client.delete(f"{URL}{account.pk}/").status_code == 403
    account.refresh_from_db()
    assert account.ativo is True


def test_it_needs_authentication(org_a, anon):
    assert anon.get(URL).status_code == 401


def test_it_hides_other_organizations_accounts(org_a, org_b, client_for):
    foreign = WhatsAppAccountFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    assert client.get(f"{URL}{foreign.pk}/").status_code == 404
    assert client.patch(f"{URL}{foreign.pk}/", {"ativo": False}, format="json").status_code == 404
    assert client.delete(f"{URL}{foreign.pk}/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.ativo is True


def test_it_lists_with_a_constant_number_of_queries(org_a, client_for):
    for index in range(3):
        WhatsAppAccountFactory(organization=org_a.org, ativo=index == 0)
    client = client_for(org_a.admin)
    counts = []
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"limit": limit}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
