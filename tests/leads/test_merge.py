"""Duplicate candidates and merging two leads: field choices, rows of every app moved, the merge
record, tenancy and visibility, bad input."""

from __future__ import annotations

import pytest

from followup.models import FollowupExecution
from integrations.models import WhatsAppMessage
from leads.models import Lead, LeadInteraction, LeadMerge, LeadStatusChange, Task
from mentorados.models import Mentorado
from tests.factories import InteractionFactory, LeadFactory, TaskFactory
from tests.followup.factories import make_execution, make_sequence
from tests.mentorados.factories import MentoradoFactory

pytestmark = pytest.mark.django_db


def merge_url(lead: Lead) -> str:
    return f"/api/v1/leads/{lead.pk}/merge/"


def test_duplicates_pair_the_ninth_digit_and_similar_names(org_a, client_for):
    a = LeadFactory(organization=org_a.org, nome_completo="Sérgio Dias", telefone="+5511987654321")
    b = LeadFactory(organization=org_a.org, nome_completo="Outro Nome", telefone="+551187654321")
    c = LeadFactory(organization=org_a.org, nome_completo="Mariana Albuquerque", empresa="Acme")
    d = LeadFactory(organization=org_a.org, nome_completo="Mariana Albuquerque", empresa="ACME")
    LeadFactory(organization=org_a.org, nome_completo="Zé Ninguém")
    response = client_for(org_a.gestor).get("/api/v1/leads/duplicates/")
    assert response.status_code == 200
    pairs = {frozenset((p["lead_a"]["id"], p["lead_b"]["id"])): p for p in response.json()["data"]}
    phone = pairs[frozenset((str(a.pk), str(b.pk)))]
    assert phone["motivos"] == ["telefone"]
    names = pairs[frozenset((str(c.pk), str(d.pk)))]
    assert "nome" in names["motivos"]
    assert names["score"] >= 0.6
    assert len(pairs) == 2


def test_duplicates_never_pair_other_organizations_or_hidden_leads(org_a, org_b, client_for):
    LeadFactory(organization=org_a.org, nome_completo="Carla Souza", closer=org_a.closer)
    LeadFactory(organization=org_b.org, nome_completo="Carla Souza")
    LeadFactory(organization=org_a.org, nome_completo="Carla Souza")
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    assert client_for(org_a.closer).get("/api/v1/leads/duplicates/").json()["data"] == []
    assert len(client_for(org_a.gestor).get("/api/v1/leads/duplicates/").json()["data"]) == 1


def test_merge_keeps_the_chosen_values_and_moves_every_row(org_a, client_for):
    target = LeadFactory(
        organization=org_a.org,
        nome_completo="Sergio",
        email="sergio@old.com",
        telefone="+5511911112222",
        empresa="",
    )
    other = LeadFactory(
        organization=org_a.org,
        nome_completo="Sérgio Dias",
        email="sergio@new.com",
        telefone="+5511933334444",
        empresa="Dias ME",
    )
    InteractionFactory(lead=other)
    LeadStatusChange.objects.create(
        organization=org_a.org, lead=other, from_status="", to_status="novo"
    )
    TaskFactory(lead=other, responsavel=org_a.closer)
    execution = make_execution(make_sequence(org_a.org), other)
    message = WhatsAppMessage.objects.create(
        organization=org_a.org, lead=other, direction="in", body="oi", status="received"
    )
    mentee = MentoradoFactory(organization=org_a.org, lead=other)
    response = client_for(org_a.gestor).post(
        merge_url(target),
        {"outro_id": str(other.pk), "campos": {"nome_completo": "outro", "email": "outro"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == str(target.pk)
    assert body["nome_completo"] == "Sérgio Dias"
    assert body["email"] == "sergio@new.com"
    assert body["telefone"] == "+5511911112222"
    assert not Lead.objects.filter(pk=other.pk).exists()
    assert LeadInteraction.objects.filter(lead=target).count() == 1
    assert Task.objects.filter(lead=target).count() == 1
    assert LeadStatusChange.objects.filter(lead=target).count() == 1
    assert FollowupExecution.objects.get(pk=execution.pk).lead_id == target.pk
    assert WhatsAppMessage.objects.get(pk=message.pk).lead_id == target.pk
    assert Mentorado.objects.get(pk=mentee.pk).lead_id == target.pk
    record = LeadMerge.objects.get()
    assert record.target_id == target.pk
    assert record.merged_lead_id == other.pk
    assert record.merged_by == org_a.gestor
    assert record.valores_descartados["nome_completo"] == "Sergio"
    assert record.valores_descartados["telefone"] == "+5511933334444"
    assert record.valores_descartados["empresa"] == "Dias ME"


def test_an_active_execution_of_the_same_sequence_is_not_duplicated(org_a, client_for):
    sequence = make_sequence(org_a.org)
    target, other = LeadFactory(organization=org_a.org), LeadFactory(organization=org_a.org)
    kept = make_execution(sequence, target)
    make_execution(sequence, other)
    response = client_for(org_a.gestor).post(
        merge_url(target), {"outro_id": str(other.pk)}, format="json"
    )
    assert response.status_code == 200
    assert list(FollowupExecution.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize(
    "campos",
    [{"status": "outro"}, {"nome_completo": "ambos"}, {"organization": "outro"}],
)
def test_bad_choices_are_400_and_change_nothing(org_a, client_for, campos):
    target, other = LeadFactory(organization=org_a.org), LeadFactory(organization=org_a.org)
    response = client_for(org_a.gestor).post(
        merge_url(target), {"outro_id": str(other.pk), "campos": campos}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert Lead.objects.count() == 2
    assert LeadMerge.objects.count() == 0


def test_the_same_lead_is_400(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.gestor).post(
        merge_url(lead), {"outro_id": str(lead.pk)}, format="json"
    )
    assert response.status_code == 400
    assert Lead.objects.count() == 1


def test_another_organizations_or_hidden_lead_is_404(org_a, org_b, client_for):
    target = LeadFactory(organization=org_a.org, closer=org_a.closer)
    foreign = LeadFactory(organization=org_b.org)
    response = client_for(org_a.gestor).post(
        merge_url(target), {"outro_id": str(foreign.pk)}, format="json"
    )
    assert response.status_code == 404
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    hidden = LeadFactory(organization=org_a.org)
    response = client_for(org_a.closer).post(
        merge_url(target), {"outro_id": str(hidden.pk)}, format="json"
    )
    assert response.status_code == 404
    assert Lead.objects.count() == 3


def test_mentors_may_not_merge(org_a, client_for):
    target, other = LeadFactory(organization=org_a.org), LeadFactory(organization=org_a.org)
    response = client_for(org_a.mentor).post(
        merge_url(target), {"outro_id": str(other.pk)}, format="json"
    )
    assert response.status_code == 403
    assert Lead.objects.count() == 2
