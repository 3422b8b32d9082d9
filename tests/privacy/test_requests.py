"""Data subject requests: export and anonymisation through the API, run as jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from freezegun import freeze_time

from followup.models import ExecutionStatus, FollowupExecution
from leads.models import Lead
from mentorados.models import Mentorado
from privacy.jobs import run_data_subject_request
from privacy.models import DataAccessLog, DataSubjectExport, DataSubjectRequest
from tests.factories import LeadFactory
from tests.privacy.people import EMAIL, NAME, OLD_NAME, PHONE, VALUES, make_person

pytestmark = pytest.mark.django_db
URL = "/api/v1/privacy/requests/"


def create(client, data, capture) -> dict:
    with capture(execute=True):
        response = client.post(URL, data, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def run(request_id: str) -> dict:
    request = DataSubjectRequest.objects.get(pk=request_id)
    run_data_subject_request(request_id=request_id, organization_id=str(request.organization_id))
    request.refresh_from_db()
    return {"status": request.status, "progresso": request.progresso, "etapas": request.etapas}


def places_holding(values: list[str]) -> list[str]:
    """Every text and JSON column of every table (all installed models, historical ones
    included) that holds one of the values, as "table.column"."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            casted = model._default_manager.annotate(_t=Cast(field.attname, TextField()))
            match = Q()
            for value in values:
                match |= Q(_t__icontains=value)
            if casted.filter(match).exists():
                found.append(f"{model._meta.db_table}.{field.column}")
    return found


def test_an_export_gathers_every_row_about_the_person(
    org_a, client_for, django_capture_on_commit_callbacks
):
    person = make_person(org_a, client_for)
    admin = client_for(org_a.admin)
    created = create(
        admin, {"tipo": "exportacao", "email": EMAIL.upper()}, django_capture_on_commit_callbacks
    )
    assert created["status"] == "pendente"
    assert created["lead_ids"] == [str(person.lead.pk)]
    assert created["mentorado_ids"] == [str(person.mentorado.pk)]

    assert run(created["id"]) == {"status": "concluida", "progresso": 100, "etapas": ["exportacao"]}
    detail = admin.get(f"{URL}{created['id']}/").json()
    assert detail["download_disponivel"] is True
    assert detail["resultado"]["leads"] == 1

    response = admin.get(f"{URL}{created['id']}/download/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    document = response.json()
    section = document["leads"][0]
    assert section["lead"]["nome_completo"] == NAME
    assert section["lead"]["email"] == EMAIL
    for key in ("interacoes", "qualificacao", "mudancas_de_status", "consentimentos",
                "followups", "mensagens_whatsapp", "historico"):  # fmt: skip
        assert section[key], key
    assert section["followups"][0]["registros"]
    assert {h["nome_completo"] for h in section["historico"]} >= {OLD_NAME, NAME}
    assert section["crm"]["crm_id"] == ""
    mentee = document["mentorados"][0]
    assert mentee["mentorado"]["nome_completo"] == NAME
    assert mentee["evolucao_financeira"]
    assert mentee["feedbacks"]
    assert mentee["historico"]
    assert any(NAME in n["titulo"] for n in document["notificacoes"])

    log = DataAccessLog.objects.get(tipo="privacy_download")
    assert log.actor == org_a.admin
    assert log.filtro == {"request_id": created["id"]}
    # Visible to the organization's admins in the access log (who, when, what, filter).
    listed = admin.get("/api/v1/privacy/access-log/").json()["data"]
    download = next(e for e in listed if e["tipo"] == "privacy_download")
    assert download["actor"]["id"] == str(org_a.admin.pk)
    assert download["filtro"] == {"request_id": created["id"]}
    assert download["linhas"] == 2  # one lead, one mentee
    assert client_for(org_a.gestor).get("/api/v1/privacy/access-log/").status_code == 403


def test_the_download_is_for_admins_only_and_for_seven_days(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    lead = LeadFactory(organization=org_a.org)
    admin = client_for(org_a.admin)
    created = create(
        admin, {"tipo": "exportacao", "lead_id": str(lead.pk)}, django_capture_on_commit_callbacks
    )
    run(created["id"])
    url = f"{URL}{created['id']}/download/"
    for role in ("gestor", "closer", "sdr", "mentor"):
        assert client_for(org_a.member(role)).get(url).status_code == 403
        assert client_for(org_a.member(role)).get(URL).status_code == 403
    assert client_for(org_b.admin).get(url).status_code == 404
    DataSubjectRequest.objects.filter(pk=created["id"]).update(
        expira_em=timezone.now() - timedelta(seconds=1)
    )
    gone = admin.get(url)
    assert gone.status_code == 404
    assert set(gone.json()) == {"error", "details"}
    assert not DataAccessLog.objects.filter(tipo="privacy_download").exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"tipo": "exportacao"},
        {"tipo": "apagar", "email": "x@y.com.br"},
        {"tipo": "exportacao", "email": "x@y.com.br", "telefone": "+5511987650000"},
        {"tipo": "exportacao", "email": "sem-arroba"},
        {"tipo": "exportacao", "telefone": "12"},
        {"tipo": "exportacao", "lead_id": "not-a-uuid"},
        {"tipo": "exportacao", "lead_id": 12},
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(org_a, client_for, payload):
    response = client_for(org_a.admin).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "details"}
    assert not DataSubjectRequest.objects.exists()


def test_unknown_people_and_other_organizations_ids_are_a_404(org_a, org_b, client_for):
    admin = client_for(org_a.admin)
    other_lead = LeadFactory(organization=org_b.org)
    other_mentee = Mentorado.objects.create(
        organization=org_b.org, nome_completo="B", data_inicio=timezone.localdate()
    )
    for payload in (
        {"email": "ninguem@exemplo.com.br"},
        {"telefone": "+5511987650000"},
        {"lead_id": str(other_lead.pk)},
        {"mentorado_id": str(other_mentee.pk)},
        {"email": other_lead.email},
    ):
        response = admin.post(URL, {"tipo": "anonimizacao", **payload}, format="json")
        assert response.status_code == 404, (payload, response.content)
        assert set(response.json()) == {"error", "details"}
    assert not DataSubjectRequest.objects.exists()


def test_a_second_request_while_one_runs_is_a_409(
    org_a, client_for, django_capture_on_commit_callbacks
):
    lead = LeadFactory(organization=org_a.org)
    mentee = Mentorado.objects.create(
        organization=org_a.org, lead=lead, nome_completo="M", data_inicio=timezone.localdate()
    )
    admin = client_for(org_a.admin)
    first = create(
        admin, {"tipo": "exportacao", "lead_id": str(lead.pk)}, django_capture_on_commit_callbacks
    )
    # The same person by another identifier (the mentee behind the lead).
    for payload in (
        {"lead_id": str(lead.pk)},
        {"mentorado_id": str(mentee.pk)},
        {"email": lead.email},
    ):
        response = admin.post(URL, {"tipo": "anonimizacao", **payload}, format="json")
        assert response.status_code == 409, response.content
        assert response.json()["details"] == {"request_id": first["id"]}
    assert DataSubjectRequest.objects.count() == 1
    run(first["id"])
    again = admin.post(URL, {"tipo": "anonimizacao", "lead_id": str(lead.pk)}, format="json")
    assert again.status_code == 201


def test_only_admins_create_requests(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    for role in ("gestor", "closer", "sdr", "mentor"):
        response = client_for(org_a.member(role)).post(
            URL, {"tipo": "exportacao", "lead_id": str(lead.pk)}, format="json"
        )
        assert response.status_code == 403
    assert not DataSubjectRequest.objects.exists()


def dashboards(client, moment) -> tuple[dict, dict]:
    """Both dashboards as read at `moment`: the clock held still, so that a read on each side of
    midnight (or of a month's end) in the organization's zone sees the same windows."""
    with freeze_time(moment):
        leads = client.get("/api/v1/leads/performance/", {"period": 90})
        mentees = client.get("/api/v1/mentorados/dashboard/")
    assert leads.status_code == 200
    assert mentees.status_code == 200
    # Both dashboards say when they read their figures (atualizado_em): the read time.
    return {**leads.json(), "atualizado_em": None}, {**mentees.json(), "atualizado_em": None}


def test_anonymisation_leaves_no_value_of_the_person_anywhere(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    person = make_person(org_a, client_for)
    other = LeadFactory(organization=org_a.org, observacoes=f"indicado por {NAME}")
    bystander = LeadFactory(organization=org_b.org)
    admin = client_for(org_a.admin)
    # An earlier export of the person, and one the other way in: by the mentee.
    earlier = create(
        admin, {"tipo": "exportacao", "telefone": PHONE}, django_capture_on_commit_callbacks
    )
    run(earlier["id"])
    assert admin.get(f"{URL}{earlier['id']}/download/").status_code == 200
    moment = timezone.now()
    before = dashboards(admin, moment)
    assert places_holding(VALUES)  # the scan does find them before

    created = create(
        admin,
        {"tipo": "anonimizacao", "mentorado_id": str(person.mentorado.pk)},
        django_capture_on_commit_callbacks,
    )
    assert run(created["id"]) == {
        "status": "concluida",
        "progresso": 100,
        "etapas": ["followups", "crm", "dados"],
    }

    assert places_holding(VALUES) == []
    assert dashboards(admin, moment) == before
    lead = Lead.objects.get(pk=person.lead.pk)
    assert (lead.nome_completo, lead.email, lead.telefone) == ("Titular anonimizado", None, None)
    assert lead.status == "convertido"
    assert lead.valor_potencial == person.lead.valor_potencial
    assert Mentorado.objects.get(pk=person.mentorado.pk).nome_completo == "Titular anonimizado"
    assert not FollowupExecution.objects.filter(
        lead=lead, status__in=[ExecutionStatus.ACTIVE, ExecutionStatus.PAUSED]
    ).exists()
    assert not DataSubjectExport.objects.filter(request_id=earlier["id"]).exists()
    assert admin.get(f"{URL}{earlier['id']}/download/").status_code == 404
    other.refresh_from_db()
    assert other.observacoes == "indicado por [anonimizado]"
    bystander.refresh_from_db()
    assert bystander.nome_completo != "Titular anonimizado"
    result = admin.get(f"{URL}{created['id']}/").json()["resultado"]
    assert result["anonimizados"]["leads"] == 1
    assert result["crm"] == {str(lead.pk): "no_connection"}
    # The history API shows the anonymous values only.
    history = admin.get(f"/api/v1/leads/{lead.pk}/history/").json()
    assert history
    assert all(NAME not in str(entry) for entry in history)

    # Idempotent: running it again changes nothing and fails nothing.
    DataSubjectRequest.objects.filter(pk=created["id"]).update(status="pendente", etapas=[])
    assert run(created["id"])["status"] == "concluida"
    assert places_holding(VALUES) == []
    assert dashboards(admin, moment) == before
