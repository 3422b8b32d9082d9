"""The pipeline board (`/admin/leads/lead/board/`) and moving a card through the API."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.admin_board import PAGE_SIZE
from leads.models import Lead, LeadStatusChange
from organizations.models import Organization
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

BOARD = "/admin/leads/lead/board/"
COLUMN = "/admin/leads/lead/board/column/"


def login(membership, *, csrf: bool = False) -> Client:
    """A browser-like session for the member (staff flag set while the admin still needs it)."""
    user = membership.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def card_ids(html: str) -> set[str]:
    return set(re.findall(r'id="card-([0-9a-f-]{36})"', html))


def column_html(html: str, status: str) -> str:
    start = html.index(f'<section class="bo-column" data-status="{status}"')
    return html[start : html.index("</section>", start)]


def test_it_shows_a_column_per_status_with_count_and_brazilian_sum(org_a):
    LeadFactory(organization=org_a.org, status="novo", valor_potencial=Decimal("100000.00"))
    LeadFactory(organization=org_a.org, status="novo", valor_potencial=Decimal("47000.00"))
    LeadFactory(organization=org_a.org, status="negociacao", valor_potencial=None)
    response = login(org_a.gestor).get(BOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Novo", "Em contato", "Qualificado", "Agendado", "Negociação", "Convertido"):
        assert f">{label}</h2>" in html
    novo = column_html(html, "novo")
    assert 'data-count="2"' in novo
    assert "R$ 147.000,00" in novo
    assert "R$ 100.000,00" in novo  # a card's value
    negociacao = column_html(html, "negociacao")
    assert 'data-count="1"' in negociacao
    assert "R$ 0,00" in negociacao


def test_it_shows_name_company_temperature_score_and_days_in_stage(org_a):
    lead = LeadFactory(
        organization=org_a.org,
        nome_completo="Sérgio Prado",
        empresa="Prado Ltda",
        status="qualificado",
        temperatura="quente",
        lead_score=77,
    )
    LeadStatusChange.objects.create(
        organization=org_a.org,
        lead=lead,
        from_status="em_contato",
        to_status="qualificado",
        changed_at=timezone.now() - timedelta(days=3, hours=2),
    )
    card = column_html(login(org_a.gestor).get(BOARD).content.decode(), "qualificado")
    for text in ("Sérgio Prado", "Prado Ltda", "Quente", "Score 77", "3 dias na etapa"):
        assert text in card


def test_it_lands_a_closer_on_their_own_leads(org_a):
    own = LeadFactory(organization=org_a.org, closer=org_a.closer)
    other = LeadFactory(organization=org_a.org, closer=org_a.gestor)
    client = login(org_a.closer)
    assert card_ids(client.get(BOARD).content.decode()) == {str(own.pk)}
    # The organization lets sellers see every lead: clearing the filter shows them.
    every = client.get(BOARD, {"closer_id": "", "sdr_id": ""}).content.decode()
    assert card_ids(every) == {str(own.pk), str(other.pk)}


def test_it_lands_an_sdr_on_the_leads_they_prospect(org_a):
    own = LeadFactory(organization=org_a.org, sdr=org_a.sdr)
    LeadFactory(organization=org_a.org)
    assert card_ids(login(org_a.sdr).get(BOARD).content.decode()) == {str(own.pk)}


def test_it_keeps_sellers_to_their_leads_when_the_organization_says_so(org_a):
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    own = LeadFactory(organization=org_a.org, closer=org_a.closer)
    other = LeadFactory(organization=org_a.org, closer=org_a.gestor)
    client = login(org_a.closer)
    html = client.get(BOARD, {"closer_id": "", "sdr_id": ""}).content.decode()
    assert card_ids(html) == {str(own.pk)}
    # Asking for the other closer's leads shows nothing of theirs either.
    html = client.get(BOARD, {"closer_id": str(org_a.gestor.pk)}).content.decode()
    assert str(other.pk) not in html


def test_it_never_shows_another_organizations_cards(org_a, org_b):
    LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Lead da Alfa")
    mine = LeadFactory(organization=org_b.org, closer=org_b.closer)
    client = login(org_b.closer)
    for params in ({}, {"closer_id": ""}, {"org": str(org_a.org.pk), "closer_id": ""}):
        html = client.get(BOARD, params).content.decode()
        assert card_ids(html) == {str(mine.pk)}
        assert "Lead da Alfa" not in html
        # nor their members in the filters (by id: a random name can be part of another's)
        assert str(org_a.closer.pk) not in html
    for status in ("novo", "perdido"):
        body = client.get(
            COLUMN, {"status": status, "offset": 0, "org": str(org_a.org.pk), "closer_id": ""}
        ).json()
        assert "Lead da Alfa" not in body["html"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"temperatura": "quente"}, {"quente"}),
        ({"origem": "indicacao"}, {"indicacao"}),
        ({"tags": "vip"}, {"vip"}),
        ({"search": "zuleica"}, {"zuleica"}),
    ],
)
def test_it_filters_like_the_api(org_a, params, expected):
    leads = {
        "quente": LeadFactory(organization=org_a.org, temperatura="quente", nome_completo="Q"),
        "indicacao": LeadFactory(organization=org_a.org, origem="indicacao", nome_completo="I"),
        "vip": LeadFactory(organization=org_a.org, tags=["vip", "retorno"], nome_completo="V"),
        "zuleica": LeadFactory(organization=org_a.org, nome_completo="Zuleica Andrade"),
    }
    html = login(org_a.gestor).get(BOARD, params).content.decode()
    assert card_ids(html) == {str(leads[name].pk) for name in expected}


def test_it_filters_by_closer_and_sdr(org_a):
    by_closer = LeadFactory(organization=org_a.org, closer=org_a.closer)
    by_sdr = LeadFactory(organization=org_a.org, sdr=org_a.sdr)
    client = login(org_a.admin)
    assert card_ids(client.get(BOARD, {"closer_id": str(org_a.closer.pk)}).content.decode()) == {
        str(by_closer.pk)
    }
    assert card_ids(client.get(BOARD, {"sdr_id": str(org_a.sdr.pk)}).content.decode()) == {
        str(by_sdr.pk)
    }


def test_it_answers_a_bad_filter_with_a_portuguese_message(org_a):
    LeadFactory(organization=org_a.org)
    response = login(org_a.gestor).get(BOARD, {"temperatura": "fervendo", "closer_id": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Valor inválido: fervendo" in html
    assert card_ids(html) == set()


def test_it_loads_a_column_page_by_page(org_a):
    leads = [
        LeadFactory(organization=org_a.org, status="em_contato", lead_score=n)
        for n in range(PAGE_SIZE + 5)
    ]
    client = login(org_a.gestor)
    column = column_html(client.get(BOARD).content.decode(), "em_contato")
    first = card_ids(column)
    assert len(first) == PAGE_SIZE
    assert "Carregar mais" in column
    # Highest score first.
    assert str(leads[-1].pk) in first
    assert str(leads[0].pk) not in first
    body = client.get(COLUMN, {"status": "em_contato", "offset": str(PAGE_SIZE)}).json()
    rest = card_ids(body["html"])
    assert len(rest) == 5
    assert not rest & first
    assert body["next_offset"] is None
    assert first | rest == {str(lead.pk) for lead in leads}


@pytest.mark.parametrize(
    "params",
    [
        {"status": "ganho", "offset": 0},
        {"status": "novo", "offset": "-1"},
        {"status": "novo", "offset": "x"},
    ],
)
def test_it_refuses_a_bad_column_request(org_a, params):
    response = login(org_a.gestor).get(COLUMN, params)
    assert response.status_code == 400
    assert response.json()["error"]


def _queries(client: Client, url: str, params: dict[str, str | int] | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def test_it_runs_a_constant_number_of_queries(org_a):
    client = login(org_a.gestor)
    for status in ("novo", "em_contato", "perdido"):
        LeadFactory(organization=org_a.org, status=status, closer=org_a.closer)
    few_page = _queries(client, BOARD)
    few_column = _queries(client, COLUMN, {"status": "novo", "offset": 0})
    for index in range(3 * PAGE_SIZE):
        lead = LeadFactory(organization=org_a.org, status=("novo", "agendado")[index % 2])
        LeadStatusChange.objects.create(organization=org_a.org, lead=lead, to_status=lead.status)
    assert _queries(client, BOARD) == few_page
    assert _queries(client, COLUMN, {"status": "novo", "offset": 0}) == few_column
    assert _queries(client, COLUMN, {"status": "novo", "offset": PAGE_SIZE}) == few_column


# --- moving a card: the page's PATCH to the API, with the session and its CSRF token ----------


def _csrf(client: Client) -> str:
    html = client.get(BOARD, {"closer_id": ""}).content.decode()
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _move(client: Client, lead: Lead, body: dict[str, str], *, org, token: str):
    return client.patch(
        f"/api/v1/leads/{lead.pk}/",
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        HTTP_X_ORGANIZATION_ID=str(org.pk),
    )


def test_it_moves_a_card_through_the_status_service(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, status="novo")
    client = login(org_a.closer, csrf=True)
    response = _move(client, lead, {"status": "agendado"}, org=org_a.org, token=_csrf(client))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "agendado"
    change = LeadStatusChange.objects.get(lead=lead, to_status="agendado")
    assert change.from_status == "novo"
    assert change.changed_by == org_a.closer
    html = login(org_a.closer).get(BOARD).content.decode()
    assert str(lead.pk) in card_ids(column_html(html, "agendado"))


def test_it_refuses_a_move_without_the_csrf_token(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    client = login(org_a.closer, csrf=True)
    response = _move(client, lead, {"status": "agendado"}, org=org_a.org, token="wrong")
    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).status == "novo"


def test_it_answers_another_organizations_lead_with_404(org_a, org_b):
    theirs = LeadFactory(organization=org_a.org)
    client = login(org_b.admin, csrf=True)
    response = _move(client, theirs, {"status": "agendado"}, org=org_b.org, token=_csrf(client))
    assert response.status_code == 404
    assert Lead.objects.get(pk=theirs.pk).status == "novo"


def test_it_asks_the_reason_when_moving_to_perdido(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    client = login(org_a.closer, csrf=True)
    html = client.get(BOARD).content.decode()
    assert 'id="bo-lost-dialog"' in html
    assert "Motivo da perda" in html
    assert 'data-lost="perdido"' in html
    body = {"status": "perdido", "motivo_perda": "Sem orçamento"}
    response = _move(client, lead, body, org=org_a.org, token=_csrf(client))
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.status == "perdido"
    assert lead.motivo_perda == "Sem orçamento"


def test_it_shows_mentors_the_board_without_moves(org_a):
    lead = LeadFactory(organization=org_a.org)
    client = login(org_a.mentor, csrf=True)
    html = client.get(BOARD).content.decode()
    assert str(lead.pk) in card_ids(html)
    assert "bo-move-select" not in html
    assert 'draggable="true"' not in html
    response = _move(client, lead, {"status": "agendado"}, org=org_a.org, token=_csrf(client))
    assert response.status_code == 403


def test_it_sends_anonymous_visitors_to_the_login(client):
    assert client.get(BOARD).status_code == 302
    assert client.get(COLUMN, {"status": "novo"}).status_code == 302


def test_it_searches_ignoring_accents_like_the_api(org_a):
    sergio = LeadFactory(organization=org_a.org, nome_completo="Sérgio Lima", empresa="Acme")
    LeadFactory(organization=org_a.org, nome_completo="Outra Pessoa", empresa="Outra")
    html = login(org_a.gestor).get(BOARD, {"search": "sergio"}).content.decode()
    assert card_ids(html) == {str(sergio.pk)}
