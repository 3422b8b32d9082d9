"""The lead's page in the back office: the 360° view (leads/admin_lead_page.py).

Header, timeline (paginated, labels, organization's time zone), the forms to add an
interaction and a task (the API's validation and services; refused input writes nothing), the
role rule, another organization's lead as a 404, the audit trail, and a constant query count
whatever the length of the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import WhatsAppMessage
from leads import services
from leads.models import Lead, LeadAssignment, LeadInteraction, LeadStatusChange, Task
from organizations.models import Organization, Role
from privacy.models import AccessTipo, DataAccessLog
from tests.admin_support import login
from tests.factories import InteractionFactory, LeadFactory, TaskFactory
from tests.followup.factories import make_execution, make_sequence
from tests.integrations.factories import WhatsAppMessageFactory

pytestmark = pytest.mark.django_db

SELLERS_AND_MANAGERS = [Role.ADMIN, Role.GESTOR, Role.CLOSER, Role.SDR]


def page_url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/change/"


def interaction_url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/interacao/"


def task_url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/tarefa/"


def history_url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/history/"


@pytest.fixture
def lead(org_a) -> Lead:
    return LeadFactory(
        organization=org_a.org,
        nome_completo="Sérgio Página",
        empresa="Construtora Horizonte",
        closer=org_a.closer,
        sdr=org_a.sdr,
        valor_potencial=Decimal("147000.00"),
    )


def _counts(lead: Lead) -> tuple[int, int, int]:
    return (
        LeadInteraction.objects.filter(lead=lead).count(),
        Task.objects.filter(lead=lead).count(),
        LeadStatusChange.objects.filter(lead=lead).count(),
    )


# --- the page ------------------------------------------------------------------------------


def test_the_header_shows_the_lead_in_labels_money_and_the_organizations_time(org_a, lead):
    org_a.org.timezone = "America/Sao_Paulo"
    org_a.org.save(update_fields=["timezone"])
    due = datetime(2030, 3, 4, 18, 42, tzinfo=UTC)  # 15:42 in São Paulo
    TaskFactory(responsavel=org_a.closer, lead=lead, titulo="Enviar contrato", vencimento=due)
    services.lead_update(lead=lead, actor=org_a.closer, data={"status": "em_contato"})
    InteractionFactory(
        lead=lead, closer=org_a.closer, data_interacao=datetime(2026, 11, 2, 13, 5, tzinfo=UTC)
    )
    Lead.objects.filter(pk=lead.pk).update(
        last_interaction_at=datetime(2026, 11, 2, 13, 5, tzinfo=UTC)
    )
    body = login(org_a.gestor).get(page_url(lead)).content.decode()
    header = body[body.index('class="bo-page lp-header"') : body.index('id="linha-do-tempo"')]
    for expected in (
        "Sérgio Página",
        "Construtora Horizonte",
        "Em contato",
        "R$ 147.000,00",
        org_a.closer.nome_completo,
        org_a.sdr.nome_completo,
        "Enviar contrato",
        "04/03/2030 15:42",
        "02/11/2026 10:05",
        "Frio",
    ):
        assert expected in header, expected
    assert "em_contato" not in header.replace("lp-status-em_contato", "")


def test_the_timeline_shows_every_kind_newest_first_with_labels(org_a, lead):
    services.lead_update(lead=lead, actor=org_a.closer, data={"status": "em_contato"})
    InteractionFactory(
        lead=lead, closer=org_a.closer, tipo_interacao="reuniao", resultado="proposta_enviada",
        resumo="Apresentou a proposta", valor=Decimal("1500.50"),
        data_interacao=timezone.now() - timedelta(minutes=30),
    )  # fmt: skip
    TaskFactory(responsavel=org_a.closer, lead=lead, titulo="Retornar a ligação")
    execution = make_execution(make_sequence(org_a.org, nome="Reaquecimento"), lead)
    execution.logs.create(organization=org_a.org, step=0, evento="sent", message="Enviado")
    WhatsAppMessageFactory(organization=org_a.org, lead=lead, body="Oi, tudo bem?")
    LeadAssignment.objects.create(
        organization=org_a.org, lead=lead, membership=org_a.closer, campo="closer",
        motivo="Rodízio de closers", at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip
    LeadStatusChange.objects.create(
        organization=org_a.org, lead=lead, from_status="", to_status="novo",
        changed_at=timezone.now() - timedelta(hours=3),
    )  # fmt: skip
    body = login(org_a.closer).get(page_url(lead)).content.decode()
    timeline = body[body.index('id="linha-do-tempo"') :]
    for expected in (
        f"Atribuído a {org_a.closer.nome_completo}",
        "Rodízio de closers",
        "Criado como Novo",
        "Reunião · Proposta enviada",
        "Apresentou a proposta",
        "R$ 1.500,50",
        "Novo → Em contato",
        "Retornar a ligação",
        "Pendente",
        "Reaquecimento · passo 1",
        "Oi, tudo bem?",
        "WhatsApp",
        "Follow-up",
    ):
        assert expected in timeline, expected
    assert "proposta_enviada" not in timeline
    # Newest first: the WhatsApp message (just now) comes before the interaction (30 min ago).
    assert timeline.index("Oi, tudo bem?") < timeline.index("Apresentou a proposta")


def test_the_timeline_is_paginated_twenty_per_page(org_a, lead):
    start = timezone.now() - timedelta(days=2)
    for n in range(25):
        InteractionFactory(
            lead=lead, closer=org_a.closer, resumo=f"Contato número {n:02d}",
            data_interacao=start + timedelta(minutes=n),
        )  # fmt: skip
    client = login(org_a.closer)
    first = client.get(page_url(lead)).content.decode()
    assert "Contato número 24" in first
    assert "Contato número 05" in first
    assert "Contato número 04" not in first
    assert "Página 1 de 2" in first
    second = client.get(page_url(lead), {"timeline_page": 2}).content.decode()
    assert "Contato número 04" in second
    assert "Contato número 00" in second
    assert "Contato número 05" not in second
    # A page number out of range or garbage is the last / first page, never an error.
    assert client.get(page_url(lead), {"timeline_page": "99"}).status_code == 200
    assert client.get(page_url(lead), {"timeline_page": "x"}).status_code == 200


def test_the_query_count_does_not_grow_with_the_timeline(org_a, lead):
    other = LeadFactory(organization=org_a.org, closer=org_a.closer)
    InteractionFactory(lead=other, closer=org_a.closer)
    for n in range(120):
        InteractionFactory(lead=lead, closer=org_a.closer, resumo=f"Item {n}")
    for n in range(40):
        TaskFactory(responsavel=org_a.closer, lead=lead, titulo=f"Tarefa {n}")
    WhatsAppMessageFactory.create_batch(30, organization=org_a.org, lead=lead)
    client = login(org_a.closer)
    client.get(page_url(other))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as short:
        assert client.get(page_url(other)).status_code == 200
    with CaptureQueriesContext(connection) as long:
        assert client.get(page_url(lead)).status_code == 200
    assert len(long) == len(short), [q["sql"][:120] for q in long.captured_queries]
    assert len(long) <= 40


# --- who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", SELLERS_AND_MANAGERS)
def test_sales_roles_get_both_forms(org_a, lead, role):
    body = login(org_a.member(role)).get(page_url(lead)).content.decode()
    assert 'id="registrar-interacao"' in body
    assert 'id="nova-tarefa"' in body


def test_a_mentor_reads_the_page_without_forms_and_cannot_post(org_a, lead):
    client = login(org_a.mentor)
    response = client.get(page_url(lead))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="registrar-interacao"' not in body
    assert 'id="nova-tarefa"' not in body
    assert 'id="linha-do-tempo"' in body
    before = _counts(lead)
    ok = {"interacao-tipo_interacao": "ligacao", "interacao-resumo": "x"}
    assert client.post(interaction_url(lead), ok).status_code == 403
    assert client.post(task_url(lead), {"tarefa-titulo": "x"}).status_code == 403
    assert _counts(lead) == before


@pytest.mark.parametrize("role", Role.values)
def test_another_organizations_lead_is_a_404_everywhere(org_a, org_b, role):
    theirs = LeadFactory(organization=org_b.org, closer=org_b.closer, nome_completo="Beta Lead")
    client = login(org_a.member(role))
    for url in (page_url(theirs), history_url(theirs), interaction_url(theirs), task_url(theirs)):
        assert client.get(url).status_code == 404, url
    before = _counts(theirs)
    data = {
        "interacao-tipo_interacao": "ligacao",
        "interacao-resumo": "Invasão",
        "tarefa-titulo": "Invasão",
        "tarefa-tipo": "tarefa",
        "tarefa-responsavel_id": str(org_a.member(role).pk),
    }
    assert client.post(interaction_url(theirs), data).status_code == 404
    assert client.post(task_url(theirs), data).status_code == 404
    assert _counts(theirs) == before


def test_a_closer_of_an_atribuidos_organization_cannot_reach_a_colleagues_lead(org_a):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    theirs = LeadFactory(organization=org_a.org, closer=org_a.gestor)
    client = login(org_a.closer)
    assert client.get(page_url(theirs)).status_code == 404
    response = client.post(
        interaction_url(theirs), {"interacao-tipo_interacao": "ligacao", "interacao-resumo": "x"}
    )
    assert response.status_code == 404
    assert not LeadInteraction.objects.filter(lead=theirs).exists()


# --- adding an interaction -------------------------------------------------------------------


def test_a_closer_adds_an_interaction_through_the_service(org_a, lead):
    client = login(org_a.closer)
    response = client.post(
        interaction_url(lead),
        {
            "interacao-tipo_interacao": "ligacao",
            "interacao-resultado": "contato_realizado",
            "interacao-resumo": "Ligou e gostou da proposta",
            "interacao-duracao_minutos": "12",
            "interacao-proximo_passo": "Ligar amanhã às 10h",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"{page_url(lead)}#linha-do-tempo")
    interaction = LeadInteraction.objects.get(lead=lead)
    assert interaction.closer == org_a.closer
    assert interaction.duracao_minutos == 12
    # The service's side effects: last contact moved, the dated next step became a task.
    assert Lead.objects.get(pk=lead.pk).last_interaction_at == interaction.data_interacao
    task = Task.objects.get(lead=lead, origem_ref=f"interaction:{interaction.pk}")
    assert task.responsavel == org_a.closer
    page = client.get(response["Location"]).content.decode()
    assert "Interação registrada." in page
    assert "Ligou e gostou da proposta" in page


def test_a_positive_closing_converts_the_lead_with_the_value_typed_the_brazilian_way(org_a, lead):
    client = login(org_a.closer)
    response = client.post(
        interaction_url(lead),
        {
            "interacao-tipo_interacao": "reuniao",
            "interacao-resultado": "fechamento_positivo",
            "interacao-resumo": "Fechou",
            "interacao-valor": "15.000,50",
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "convertido"
    assert lead.valor_fechado == Decimal("15000.50")
    assert LeadStatusChange.objects.filter(lead=lead, to_status="convertido").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"interacao-resumo": "Sem tipo"}, "Este campo é obrigatório."),
        (
            {"interacao-tipo_interacao": "telepatia", "interacao-resumo": "x"},
            "&quot;telepatia&quot; não é uma escolha válida.",
        ),
        (
            {
                "interacao-tipo_interacao": "ligacao",
                "interacao-data_interacao": "2099-01-01T10:00",
            },
            "A data da interação não pode estar no futuro.",
        ),
        (
            {"interacao-tipo_interacao": "ligacao", "interacao-duracao_minutos": "muito"},
            "Um número inteiro válido é exigido.",
        ),
        (
            {"interacao-tipo_interacao": "ligacao", "interacao-valor": "caro"},
            "Um número válido é necessário.",
        ),
    ],
)
def test_bad_interaction_input_shows_the_apis_message_and_writes_nothing(
    org_a, lead, data, message
):
    client = login(org_a.closer)
    before = _counts(lead)
    response = client.post(interaction_url(lead), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body, body[body.find("registrar-interacao") :][:3000]
    assert 'role="alert"' in body
    assert 'aria-invalid="true"' in body
    assert _counts(lead) == before


def test_a_refusal_by_the_service_is_a_form_error_and_writes_nothing(org_a, lead):
    services.lead_update(lead=lead, actor=org_a.closer, data={"status": "convertido"})
    client = login(org_a.closer)
    before = _counts(lead)
    # Losing a converted lead: the status rules of leads.services refuse it.
    response = client.post(
        interaction_url(lead),
        {
            "interacao-tipo_interacao": "ligacao",
            "interacao-resultado": "fechamento_negativo",
            "interacao-resumo": "Desistiu",
            "interacao-proximo_passo": "Ligar amanhã às 10h",
        },
    )
    assert response.status_code == 400
    assert _counts(lead) == before
    assert Lead.objects.get(pk=lead.pk).status == "convertido"


# --- adding a task ---------------------------------------------------------------------------


def test_an_sdr_adds_a_task_for_a_colleague_due_in_the_organizations_time(org_a, lead):
    org_a.org.timezone = "America/Sao_Paulo"
    org_a.org.save(update_fields=["timezone"])
    client = login(org_a.sdr)
    response = client.post(
        task_url(lead),
        {
            "tarefa-titulo": "Mandar a proposta revisada",
            "tarefa-tipo": "ligacao",
            "tarefa-vencimento": "2030-03-04T15:42",
            "tarefa-responsavel_id": str(org_a.closer.pk),
            "tarefa-descricao": "Com o desconto combinado",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    task = Task.objects.get(lead=lead)
    assert task.responsavel == org_a.closer
    assert task.created_by == org_a.sdr
    assert task.tipo == "ligacao"
    assert task.vencimento == datetime(2030, 3, 4, 18, 42, tzinfo=UTC)
    page = login(org_a.closer).get(page_url(lead)).content.decode()
    assert "Mandar a proposta revisada" in page
    assert "04/03/2030 15:42" in page


def test_bad_task_input_writes_nothing(org_a, org_b, lead):
    client = login(org_a.closer)
    before = _counts(lead)
    response = client.post(task_url(lead), {"tarefa-titulo": "", "tarefa-tipo": "tarefa"})
    assert response.status_code == 400
    assert "Este campo pode não estar em branco." in response.content.decode()
    # Another organization's member as the assignee: refused as the API refuses it.
    response = client.post(
        task_url(lead),
        {
            "tarefa-titulo": "Ligar",
            "tarefa-tipo": "tarefa",
            "tarefa-responsavel_id": str(org_b.closer.pk),
        },
    )
    assert response.status_code == 400
    assert "Pk inválido" in response.content.decode()
    assert _counts(lead) == before


# --- the audit trail -------------------------------------------------------------------------


def test_the_audit_trail_shows_changes_field_by_field_and_is_logged(org_a, lead):
    services.lead_update(
        lead=lead,
        actor=org_a.gestor,
        data={"status": "em_contato", "closer": org_a.gestor, "valor_potencial": Decimal("2000")},
    )
    client = login(org_a.closer)
    page = client.get(page_url(lead)).content.decode()
    assert history_url(lead) in page
    response = client.get(history_url(lead))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Histórico de alterações" in body
    assert "Em contato" in body
    assert "Novo" in body
    assert org_a.gestor.nome_completo in body
    assert org_a.closer.nome_completo in body
    assert "R$ 2.000,00" in body
    assert "R$ 147.000,00" in body
    assert "<form" not in body.split('id="content-main"')[1]  # never editable
    assert "Valor potencial" in body
    assert str(org_a.org.pk) not in body.split('id="content-main"')[1]
    log = DataAccessLog.objects.get(organization=org_a.org, tipo=AccessTipo.AUDIT_READ)
    assert log.actor == org_a.closer
    assert log.filtro["lead_id"] == str(lead.pk)


def test_whatsapp_rows_of_another_lead_never_show(org_a, lead):
    other = LeadFactory(organization=org_a.org)
    WhatsAppMessageFactory(organization=org_a.org, lead=other, body="Mensagem alheia")
    body = login(org_a.closer).get(page_url(lead)).content.decode()
    assert "Mensagem alheia" not in body
    assert WhatsAppMessage.objects.filter(lead=other).exists()


def test_the_qualification_is_shown_with_a_link_to_fill_it_in_for_the_roles_that_write_it(
    org_a, lead
):
    closer_page = login(org_a.closer).get(page_url(lead)).content.decode()
    assert "Não preenchida" in closer_page
    assert f"/admin/leads/leadqualification/add/?lead={lead.pk}" in closer_page
    mentor_page = login(org_a.mentor).get(page_url(lead)).content.decode()
    assert "/admin/leads/leadqualification/add/" not in mentor_page
    assert "Não preenchida" in mentor_page
    services.qualification_save(
        lead=lead,
        actor=org_a.closer,
        data={"budget_confirmado": True, "authority_nivel": "decisor"},
    )
    page = login(org_a.gestor).get(page_url(lead)).content.decode()
    qualification = lead.qualification
    assert f"{qualification.qualification_score} pontos" in page
    assert f"/admin/leads/leadqualification/{qualification.pk}/change/" in page


def test_the_page_speaks_english_through_accept_language(org_a, lead):
    client = login(org_a.closer)
    body = client.get(page_url(lead), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Record an interaction" in body
    assert "New task" in body
    assert "Change history" in body


# --- reopening a converted lead (managers, with a reason) --------------------------------------


def reopen_url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/reabrir/"


@pytest.fixture
def converted(org_a, lead) -> Lead:
    return services.lead_update(lead=lead, actor=org_a.closer, data={"status": "convertido"})


@pytest.mark.parametrize("role", [Role.ADMIN, Role.GESTOR])
def test_a_manager_reopens_a_converted_lead_with_a_reason(org_a, converted, role):
    client = login(org_a.member(role))
    assert 'id="reabrir-lead"' in client.get(page_url(converted)).content.decode()
    response = client.post(
        reopen_url(converted), {"reabrir-status": "negociacao", "reabrir-motivo": "Cliente voltou"}
    )
    assert response.status_code == 302
    converted.refresh_from_db()
    assert converted.status == "negociacao"
    assert converted.converted_at is None
    change = LeadStatusChange.objects.get(lead=converted, to_status="negociacao")
    assert change.from_status == "convertido"
    assert change.changed_by == org_a.member(role)


def test_reopening_needs_a_reason_and_a_manager_and_writes_nothing_otherwise(org_a, converted):
    before = _counts(converted)
    manager = login(org_a.gestor)
    response = manager.post(reopen_url(converted), {"reabrir-status": "negociacao"})
    assert response.status_code == 400
    assert "Este campo é obrigatório." in response.content.decode()
    response = manager.post(
        reopen_url(converted), {"reabrir-status": "convertido", "reabrir-motivo": "x"}
    )
    assert response.status_code == 400
    closer = login(org_a.closer)
    assert 'id="reabrir-lead"' not in closer.get(page_url(converted)).content.decode()
    response = closer.post(
        reopen_url(converted), {"reabrir-status": "negociacao", "reabrir-motivo": "Quero"}
    )
    assert response.status_code == 403
    assert Lead.objects.get(pk=converted.pk).status == "convertido"
    assert _counts(converted) == before


def test_an_open_lead_offers_no_reopening(org_a, lead):
    client = login(org_a.gestor)
    assert 'id="reabrir-lead"' not in client.get(page_url(lead)).content.decode()
    response = client.post(reopen_url(lead), {"reabrir-status": "novo", "reabrir-motivo": "x"})
    assert response.status_code == 403
