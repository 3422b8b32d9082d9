"""Audit trail coverage (15.4): mentees, sequences, memberships and integration settings
field by field with who / when / request id / via; deletions; the import channel."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from followup.models import FollowupSequence
from integrations.models import CRMConnection
from leads.jobs_import import run_lead_import
from leads.models import Lead, LeadImport
from mentorados.models import Mentorado
from organizations.models import Membership
from privacy.selectors import history_entries
from tests.factories import LeadFactory
from tests.followup.factories import EMAIL_STEP

pytestmark = pytest.mark.django_db


def entries(model, pk, organization_id) -> list[dict]:
    records = list(model.history.filter(id=pk).order_by("-history_date", "-history_id"))
    return history_entries(records=records, organization_id=organization_id)


def test_a_mentee_is_audited_from_creation_to_deletion(org_a, client_for):
    client = client_for(org_a.admin)
    created = client.post(
        "/api/v1/mentorados/",
        {"nome_completo": "Marta Prado", "programa": "Elite", "mentor_id": str(org_a.mentor.pk)},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    patched = client.patch(f"/api/v1/mentorados/{pk}/", {"programa": "Escala"}, format="json")
    assert patched.status_code == 200
    assert client.delete(f"/api/v1/mentorados/{pk}/").status_code == 204

    removed, changed, first = entries(Mentorado, pk, org_a.org.pk)
    assert [removed["tipo"], changed["tipo"], first["tipo"]] == ["remocao", "alteracao", "criacao"]
    assert changed["changes"] == {"programa": ["Elite", "Escala"]}
    assert changed["request_id"] == patched["X-Request-ID"]
    assert {e["via"] for e in (removed, changed, first)} == {"api"}
    assert changed["actor"]["id"] == str(org_a.admin.pk)


def test_sequence_membership_and_crm_changes_are_recorded_field_by_field(org_a, client_for):
    client = client_for(org_a.admin)
    sequence = client.post(
        "/api/v1/followup/sequences/",
        {"nome": "Boas-vindas", "steps": [EMAIL_STEP]},
        format="json",
    )
    assert sequence.status_code == 201, sequence.content
    seq_pk = sequence.json()["id"]
    client.patch(f"/api/v1/followup/sequences/{seq_pk}/", {"nome": "Boas-vindas 2"}, format="json")
    latest = entries(FollowupSequence, seq_pk, org_a.org.pk)[0]
    assert latest["changes"]["nome"] == ["Boas-vindas", "Boas-vindas 2"]
    assert (latest["via"], latest["actor"]["id"]) == ("api", str(org_a.admin.pk))

    client.patch(f"/api/v1/members/{org_a.sdr.pk}/", {"role": "closer"}, format="json")
    member = entries(Membership, org_a.sdr.pk, org_a.org.pk)[0]
    assert member["changes"]["role"] == ["sdr", "closer"]

    crm = client.post(
        "/api/v1/integrations/crm-connections/",
        {"provider": "hubspot", "token": "pat-na1-first"},
        format="json",
    )
    assert crm.status_code == 201, crm.content
    client.patch(
        f"/api/v1/integrations/crm-connections/{crm.json()['id']}/",
        {"token": "pat-na1-second", "ativo": False},
        format="json",
    )
    change = entries(CRMConnection, crm.json()["id"], org_a.org.pk)[0]
    assert change["changes"]["ativo"] == [True, False]
    assert "token" not in change["changes"]
    assert "pat-na1" not in str(entries(CRMConnection, crm.json()["id"], org_a.org.pk))


def test_leads_from_a_csv_import_are_recorded_as_import(
    org_a, client_for, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("leads.csv", b"nome,email\nIara Neves,iara@x.com.br\n", "text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.admin).post(
            "/api/v1/leads/import/", {"file": upload}, format="multipart"
        )
    assert response.status_code == 202, response.content
    lead_import = LeadImport.objects.get()
    run_lead_import(lead_import_id=str(lead_import.pk), organization_id=str(org_a.org.pk))
    lead = Lead.objects.get(email="iara@x.com.br")
    (created,) = entries(Lead, lead.pk, org_a.org.pk)
    assert (created["tipo"], created["via"]) == ("criacao", "import")
    assert created["changes"]["nome_completo"] == [None, "Iara Neves"]


def test_a_deleted_lead_keeps_its_trail(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    assert client_for(org_a.admin).delete(f"/api/v1/leads/{lead.pk}/").status_code == 204
    assert Lead.history.filter(id=lead.pk, history_type="-").count() == 1  # type: ignore[attr-defined]
