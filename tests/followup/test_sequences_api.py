"""Sequence CRUD: field-by-field validation of steps and criteria, roles, tenancy, versions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupSequence,
    FollowupSequenceVersion,
)
from tests.factories import LeadFactory
from tests.followup.factories import (
    EMAIL_STEP,
    TASK_STEP,
    WHATSAPP_STEP,
    make_execution,
    make_sequence,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/followup/sequences/"


def valid_body(**overrides):
    body = {
        "nome": "Reaquecimento",
        "descricao": "Leads frios",
        "ativo": False,
        "criterios_ativacao": {"status": ["novo"], "tags": ["VIP", "vip"], "score_max": 40},
        "steps": [EMAIL_STEP, WHATSAPP_STEP, TASK_STEP],
        "horario_envio_inicio": "09:00",
        "horario_envio_fim": "18:00",
        "pausar_fim_semana": True,
        "pausar_feriados": True,
    }
    body.update(overrides)
    return body


def test_it_creates_a_sequence_with_normalized_steps_and_criteria(org_a, client_for):
    response = client_for(org_a.gestor).post(URL, valid_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["criterios_ativacao"] == {"status": ["novo"], "tags": ["vip"], "score_max": 40}
    assert body["steps"][2] == {
        "tipo_acao": "tarefa",
        "delay_dias": 1,
        "delay_horas": 0,
        "titulo": TASK_STEP["titulo"],
        "descricao": "Follow-up",
    }
    assert body["versao"] == 1
    assert body["created_by_id"] == str(org_a.gestor.pk)
    assert body["estatisticas"]["active"] == 0
    sequence = FollowupSequence.objects.get(pk=body["id"])
    assert sequence.organization == org_a.org
    assert FollowupSequenceVersion.objects.get(sequence=sequence).steps == body["steps"]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([{"tipo_acao": "sms", "mensagem": "x"}], {"0": {"tipo_acao"}}),
        ([{"mensagem": "x"}], {"0": {"tipo_acao"}}),
        ([EMAIL_STEP, {**EMAIL_STEP, "delay_dias": -1}], {"1": {"delay_dias"}}),
        ([{**EMAIL_STEP, "delay_horas": "2"}], {"0": {"delay_horas"}}),
        ([{**EMAIL_STEP, "delay_horas": True}], {"0": {"delay_horas"}}),
        ([EMAIL_STEP, EMAIL_STEP, {"tipo_acao": "email", "assunto": "Oi"}], {"2": {"mensagem"}}),
        ([{"tipo_acao": "email", "mensagem": "Oi"}], {"0": {"assunto"}}),
        ([{"tipo_acao": "email", "assunto": "  ", "mensagem": "Oi"}], {"0": {"assunto"}}),
        ([{"tipo_acao": "whatsapp"}], {"0": {"mensagem"}}),
        ([{**WHATSAPP_STEP, "template_name": "Com Espaço"}], {"0": {"template_name"}}),
        ([{"tipo_acao": "ligacao", "descricao": "x"}], {"0": {"titulo"}}),
        ([{"tipo_acao": "tarefa"}], {"0": {"titulo"}}),
        ([{**EMAIL_STEP, "prioridade": 1}], {"0": {"prioridade"}}),
        ([{**EMAIL_STEP, "mensagem": "Oi {{ nome }}"}], {"0": {"mensagem"}}),
        ([TASK_STEP, {**TASK_STEP, "titulo": "{% if x %}"}], {"1": {"titulo"}}),
        ([{**EMAIL_STEP, "assunto": "{{ lead.email }}"}], {"0": {"assunto"}}),
        ([{**EMAIL_STEP, "mensagem": "{{ empresa|upper }}"}], {"0": {"mensagem"}}),
        (["texto"], {"0": {"non_field_errors"}}),
    ],
)
def test_it_names_the_step_and_field_of_each_problem(org_a, client_for, steps, expected):
    response = client_for(org_a.admin).post(URL, valid_body(steps=steps), format="json")

    assert response.status_code == 400, response.content
    details = response.json()["details"]["steps"]
    assert {index: set(fields) for index, fields in details.items()} == expected
    assert not FollowupSequence.objects.exists()


def test_a_template_error_names_the_offending_placeholder(org_a, client_for):
    steps = [EMAIL_STEP, {**EMAIL_STEP, "mensagem": "Olá {{ primeironome }}, tudo bem?"}]
    response = client_for(org_a.admin).post(URL, valid_body(steps=steps), format="json")

    assert response.status_code == 400
    [message] = response.json()["details"]["steps"]["1"]["mensagem"]
    assert "{{ primeironome }}" in message
    assert "primeiro_nome" in message


@pytest.mark.parametrize("steps", [[], "email", None, [EMAIL_STEP] * 31])
def test_it_refuses_missing_or_malformed_step_lists(org_a, client_for, steps):
    response = client_for(org_a.admin).post(URL, valid_body(steps=steps), format="json")
    assert response.status_code == 400
    assert "steps" in response.json()["details"]


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"cidade": ["SP"]}, "cidade"),
        ({"status": ["ganho"]}, "status"),
        ({"status": ["convertido"]}, "status"),
        ({"status": "novo"}, "status"),
        ({"temperatura": ["morna"]}, "temperatura"),
        ({"origem": ["Instagram Ads"]}, "origem"),
        ({"tags": [1, 2]}, "tags"),
        ({"score_min": -1}, "score_min"),
        ({"score_max": 101}, "score_max"),
        ({"score_min": 60, "score_max": 50}, "score_max"),
        ({"score_min": "10"}, "score_min"),
        ({"dias_sem_interacao": 1.5}, "dias_sem_interacao"),
    ],
)
def test_it_names_the_bad_criterion(org_a, client_for, criteria, field):
    response = client_for(org_a.admin).post(
        URL, valid_body(criterios_ativacao=criteria), format="json"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["details"]["criterios_ativacao"]) == {field}
    assert not FollowupSequence.objects.exists()


def test_a_window_that_ends_before_it_starts_is_refused(org_a, client_for):
    response = client_for(org_a.admin).post(
        URL,
        valid_body(horario_envio_inicio="18:00", horario_envio_fim="09:00"),
        format="json",
    )
    assert response.status_code == 400
    assert "horario_envio_fim" in response.json()["details"]


def test_a_window_patch_is_checked_against_the_stored_start(org_a, client_for):
    sequence = make_sequence(org_a.org, whole_day=False)  # 09:00-18:00 by default
    response = client_for(org_a.admin).patch(
        f"{URL}{sequence.pk}/", {"horario_envio_fim": "08:00"}, format="json"
    )
    assert response.status_code == 400
    sequence.refresh_from_db()
    assert str(sequence.horario_envio_fim) == "18:00:00"


@pytest.mark.parametrize("body", [[], "texto", {"nome": ""}, {"nome": "x", "ativo": "talvez"}])
def test_it_refuses_malformed_bodies(org_a, client_for, body):
    response = client_for(org_a.admin).post(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}


def test_editing_steps_creates_a_version_and_keeps_enrolled_leads_on_theirs(org_a, client_for):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))

    response = client_for(org_a.admin).patch(
        f"{URL}{sequence.pk}/", {"steps": [EMAIL_STEP, TASK_STEP]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["versao"] == 2
    execution.refresh_from_db()
    assert execution.versao.numero == 1
    assert len(execution.versao.steps) == 1
    # Same steps again: no new version.
    client_for(org_a.admin).patch(f"{URL}{sequence.pk}/", {"nome": "Outro nome"}, format="json")
    client_for(org_a.admin).patch(
        f"{URL}{sequence.pk}/", {"steps": [EMAIL_STEP, TASK_STEP]}, format="json"
    )
    assert FollowupSequenceVersion.objects.filter(sequence=sequence).count() == 2


def test_deactivating_through_the_api_pauses_executions(org_a, client_for):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))

    response = client_for(org_a.admin).patch(
        f"{URL}{sequence.pk}/", {"ativo": False}, format="json"
    )

    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PAUSED
    assert response.json()["estatisticas"]["paused"] == 1


def test_it_lists_filters_and_reads_sequences(org_a, org_b, client_for):
    active = make_sequence(org_a.org, nome="A")
    make_sequence(org_a.org, nome="B", ativo=False)
    make_sequence(org_b.org, nome="Outra org")
    make_execution(active, LeadFactory(organization=org_a.org))

    client = client_for(org_a.closer)
    listing = client.get(URL).json()
    assert listing["pagination"]["total"] == 2
    only_active = client.get(URL, {"ativo": "true"}).json()["data"]
    assert [item["nome"] for item in only_active] == ["A"]
    assert only_active[0]["estatisticas"]["active"] == 1
    assert client.get(URL, {"ativo": "talvez"}).status_code == 400
    assert client.get(URL, {"ordering": "senha"}).status_code == 400
    assert client.get(f"{URL}{active.pk}/").json()["nome"] == "A"


def test_list_queries_do_not_grow_with_the_page(org_a, client_for):
    for n in range(6):
        sequence = make_sequence(org_a.org, nome=f"S{n}")
        make_execution(sequence, LeadFactory(organization=org_a.org))
    client = client_for(org_a.admin)
    client.get(URL)  # warm up per-request caches

    with CaptureQueriesContext(connection) as one:
        assert client.get(URL, {"limit": 1}).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(URL, {"limit": 100}).json()["data"]) == 6

    assert len(many.captured_queries) == len(one.captured_queries)


def test_another_organizations_sequence_is_a_404(org_a, org_b, client_for):
    sequence = make_sequence(org_b.org)
    client = client_for(org_a.admin)
    assert client.get(f"{URL}{sequence.pk}/").status_code == 404
    assert client.patch(f"{URL}{sequence.pk}/", {"nome": "x"}, format="json").status_code == 404
    assert client.delete(f"{URL}{sequence.pk}/").status_code == 404
    assert FollowupSequence.objects.filter(pk=sequence.pk).exists()


@pytest.mark.parametrize("role", ["closer", "sdr"])
def test_sellers_read_but_do_not_write(org_a, client_for, role):
    sequence = make_sequence(org_a.org)
    client = client_for(org_a.member(role))
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}{sequence.pk}/").status_code == 200
    assert client.post(URL, valid_body(), format="json").status_code == 403
    assert client.patch(f"{URL}{sequence.pk}/", {"nome": "x"}, format="json").status_code == 403
    assert client.delete(f"{URL}{sequence.pk}/").status_code == 403
    assert FollowupSequence.objects.count() == 1


def test_mentors_have_no_access(org_a, client_for):
    sequence = make_sequence(org_a.org)
    client = client_for(org_a.mentor)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{sequence.pk}/").status_code == 403


def test_anonymous_requests_are_refused(anon):
    assert anon.get(URL).status_code == 401


def test_deleting_a_sequence_removes_its_executions(org_a, client_for):
    sequence = make_sequence(org_a.org)
    make_execution(sequence, LeadFactory(organization=org_a.org))

    assert client_for(org_a.admin).delete(f"{URL}{sequence.pk}/").status_code == 204

    assert not FollowupSequence.objects.exists()
    assert not FollowupExecution.objects.exists()


def test_put_replaces_the_sequence(org_a, client_for):
    sequence = make_sequence(org_a.org)
    response = client_for(org_a.admin).put(
        f"{URL}{sequence.pk}/", valid_body(nome="Trocada"), format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["nome"] == "Trocada"
    assert response.json()["versao"] == 2
