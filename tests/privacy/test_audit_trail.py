"""Audit trail (django-simple-history): who, when, request id, via, field by field; secrets
never stored; the lead's history API; bulk reads logged."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from leads import services as lead_services
from leads.models import Lead
from privacy.models import DataAccessLog
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def history_of(obj: Any) -> Any:
    """The row's django-simple-history manager (added at run time, unknown to mypy)."""
    return obj.history


def history(client, lead) -> list[dict]:
    response = client.get(f"/api/v1/leads/{lead.pk}/history/")
    assert response.status_code == 200, response.content
    return response.json()


def test_it_records_api_changes_field_by_field_newest_first(org_a, client_for):
    client = client_for(org_a.closer)
    created = client.post(
        "/api/v1/leads/",
        {
            "nome_completo": "Ana Lima",
            "email": "ana@cliente.com.br",
            "closer_id": str(org_a.closer.pk),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    lead = Lead.objects.get()
    patched = client.patch(
        f"/api/v1/leads/{lead.pk}/",
        {"nome_completo": "Ana Souza", "empresa": "ACME"},
        format="json",
    )
    assert patched.status_code == 200

    entries = history(client_for(org_a.admin), lead)

    assert [e["tipo"] for e in entries] == ["alteracao", "criacao"]
    latest, first = entries
    assert latest["changes"] == {
        "nome_completo": ["Ana Lima", "Ana Souza"],
        "empresa": ["", "ACME"],
    }
    assert latest["actor"] == {
        "id": str(org_a.closer.pk),
        "nome_completo": org_a.closer.nome_completo,
    }
    assert latest["via"] == "api"
    assert latest["request_id"] == patched["X-Request-ID"]
    assert first["changes"]["nome_completo"] == [None, "Ana Lima"]
    assert first["changes"]["email"] == [None, "ana@cliente.com.br"]
    assert latest["at"] >= first["at"]


def test_it_records_job_changes_without_an_actor(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, empresa="X")
    lead_services.lead_update(lead=lead, actor=None, data={"empresa": "Y"})

    latest = history(client_for(org_a.admin), lead)[0]
    assert latest["actor"] is None
    assert latest["via"] == "job"
    assert latest["changes"] == {"empresa": ["X", "Y"]}


def test_it_records_admin_changes_with_the_staff_user(org_a):
    from integrations.models import WhatsAppGateway

    user = org_a.admin.user
    user.is_staff = True
    user.save()
    admin = Client()
    admin.force_login(user)

    response = admin.post(
        "/admin/integrations/whatsappgateway/add/",
        {"organization": str(org_a.org.pk), "nome": "Evolution", "auto_criar_leads": "on"},
    )

    assert response.status_code == 302
    record = history_of(WhatsAppGateway.objects.get()).get()
    assert (record.via, record.history_user_id, record.nome) == ("admin", user.pk, "Evolution")
    assert record.request_id == response["X-Request-ID"]


def test_secrets_never_reach_the_history(org_a, client_for):
    response = client_for(org_a.admin).post(
        "/api/v1/integrations/whatsapp-accounts/",
        {
            "phone_number_id": "123456789",
            "access_token": "EAAG-super-secret-token",
            "app_secret": "app-secret-value-123",
            "verify_token": "verify-me-please",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    client_for(org_a.admin).post(
        "/api/v1/integrations/crm-connections/",
        {"provider": "hubspot", "token": "pat-na1-crm-secret"},
        format="json",
    )
    with connection.cursor() as cursor:
        dumped = []
        for table in ("privacy_historicalwhatsappaccount", "privacy_historicalcrmconnection"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            dumped.append(repr(cursor.fetchall()))
    text = "".join(dumped)
    assert "123456789" in text  # the account was recorded
    for secret in (
        "EAAG-super-secret-token",
        "app-secret-value-123",
        "verify-me-please",
        "pat-na1-crm-secret",
    ):
        assert secret not in text


def test_members_sequences_and_gateways_are_audited(org_a, client_for):
    admin = client_for(org_a.admin)
    admin.post(
        "/api/v1/members/",
        {
            "email": "novo@x.com.br",
            "nome_completo": "Novo",
            "role": "sdr",
            "password": "Senha-Forte-123",
        },
        format="json",
    )
    admin.post("/api/v1/integrations/whatsapp-gateways/", {"nome": "Z"}, format="json")
    from followup.models import FollowupSequence
    from integrations.models import WhatsAppGateway
    from organizations.models import Membership

    member = Membership.objects.get(nome_completo="Novo")
    assert history_of(member).get().history_user_id == org_a.admin.user_id
    gateway = WhatsAppGateway.objects.get()
    assert history_of(gateway).get().via == "api"
    assert hasattr(FollowupSequence, "history")


def test_the_history_is_never_writable(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    url = f"/api/v1/leads/{lead.pk}/history/"
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(url, {}, format="json").status_code == 405


def test_another_organizations_lead_history_is_a_404(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org)
    assert client_for(org_a.admin).get(f"/api/v1/leads/{lead.pk}/history/").status_code == 404


# -- bulk reads of personal data ----------------------------------------------------------------


def test_reading_the_history_and_exporting_csv_are_logged(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    closer = client_for(org_a.closer)
    history(closer, lead)
    export = closer.get("/api/v1/leads/export/?status=novo&formato=csv")
    assert export.status_code == 200
    b"".join(export.streaming_content)

    logs = {log.tipo: log for log in DataAccessLog.objects.all()}
    assert logs["audit_read"].filtro == {"lead_id": str(lead.pk)}
    assert logs["csv_export"].filtro == {"status": "novo", "formato": "csv"}
    assert logs["csv_export"].actor == org_a.closer
    assert logs["csv_export"].via == "api"

    listed = client_for(org_a.admin).get("/api/v1/privacy/access-log/")
    assert listed.status_code == 200
    assert {item["tipo"] for item in listed.json()["data"]} == {"audit_read", "csv_export"}
    assert client_for(org_a.closer).get("/api/v1/privacy/access-log/").status_code == 403
    assert client_for(org_b.admin).get("/api/v1/privacy/access-log/").json()["data"] == []


def test_the_admin_shows_the_trail_and_the_access_log_read_only(org_a, org_b):
    lead = LeadFactory(organization=org_a.org, nome_completo="Carla")
    LeadFactory(organization=org_b.org, nome_completo="Outra Org")
    user = org_a.admin.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)

    page = client.get(f"/admin/privacy/historicallead/?q={lead.pk}")

    assert page.status_code == 200
    shown = [str(row.nome_completo) for row in page.context["cl"].result_list]
    assert shown == ["Carla"]
    log = DataAccessLog.objects.get(tipo="audit_read")
    assert log.filtro == {"q": str(lead.pk)}
    assert log.via == "admin"
    record = history_of(lead).get()
    assert (
        client.post(
            f"/admin/privacy/historicallead/{record.history_id}/change/", {"nome_completo": "x"}
        ).status_code
        == 403
    )
    assert client.get("/admin/privacy/dataaccesslog/").status_code == 200
