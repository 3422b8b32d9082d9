"""Sales dashboard: every figure pinned on a hand-built data set (leads/dashboard_selectors.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads import dashboard_selectors
from leads.models import LeadStatusChange
from organizations.models import Organization, Role
from tests.factories import InteractionFactory, LeadFactory, MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/performance/"


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def make_lead(org, *, created: float, history: list[tuple[str, float]], **fields):
    """A lead created `created` days ago whose status moves are `history` [(status, days ago)]."""
    lead = LeadFactory(organization=org, created_at=ago(created), **fields)
    previous = ""
    for status, when in history:
        LeadStatusChange.objects.create(
            organization=org,
            lead=lead,
            from_status=previous,
            to_status=status,
            changed_at=ago(when),
        )
        previous = status
    return lead


@pytest.fixture
def data(org_a, org_b):
    """Leads of org_a (period 30 unless said otherwise), one lead of org_b.

    C1 = org_a.closer, C2 = a second closer, S = org_a.sdr.
    """
    org = org_a.org
    c1, s = org_a.closer, org_a.sdr
    c2 = MembershipFactory(organization=org, role=Role.CLOSER, nome_completo="Zeca Closer")
    leads = {}
    leads["L1"] = make_lead(
        org, created=10, history=[("novo", 10)], closer=c1, sdr=s,
        status="novo", temperatura="frio", lead_score=10,
    )  # fmt: skip
    leads["L2"] = make_lead(
        org, created=20, history=[("novo", 20), ("em_contato", 18), ("qualificado", 15)],
        closer=c1, status="qualificado", temperatura="morno", lead_score=50,
    )  # fmt: skip
    leads["L3"] = make_lead(
        org, created=5, history=[("novo", 5), ("negociacao", 4), ("convertido", 2)],
        closer=c1, status="convertido", temperatura="quente", lead_score=100,
        converted_at=ago(2), valor_fechado=Decimal("20000.00"),
    )  # fmt: skip
    # Created before the window, converted inside it.
    leads["L4"] = make_lead(
        org, created=60, history=[("novo", 60), ("qualificado", 40), ("convertido", 3)],
        closer=c2, status="convertido", temperatura="quente", lead_score=100,
        converted_at=ago(3), valor_fechado=Decimal("10000.00"),
    )  # fmt: skip
    # Qualified, then lost: still counts as qualified.
    leads["L5"] = make_lead(
        org, created=25, history=[("novo", 25), ("qualificado", 24), ("perdido", 20)],
        closer=c2, status="perdido", temperatura="frio", lead_score=30,
    )  # fmt: skip
    leads["L6"] = make_lead(
        org, created=0.9, history=[("novo", 0.9), ("em_contato", 0.5)],
        sdr=s, status="em_contato", temperatura="morno", lead_score=40,
    )  # fmt: skip
    leads["L7"] = make_lead(
        org, created=100, history=[("novo", 100)], closer=c1,
        status="novo", temperatura="frio", lead_score=0,
    )  # fmt: skip
    leads["B1"] = make_lead(
        org_b.org, created=5, history=[("novo", 5), ("convertido", 1)], closer=org_b.closer,
        status="convertido", temperatura="quente", lead_score=100,
        converted_at=ago(1), valor_fechado=Decimal("99999.00"),
    )  # fmt: skip
    InteractionFactory(lead=leads["L1"], closer=c1, data_interacao=ago(9))
    InteractionFactory(lead=leads["L3"], closer=c1, data_interacao=ago(3))
    InteractionFactory(lead=leads["L4"], closer=c2, data_interacao=ago(4))
    InteractionFactory(lead=leads["L7"], closer=c1, data_interacao=ago(50))
    InteractionFactory(lead=leads["L6"], closer=s, data_interacao=ago(0.5))
    # Logged by C2 on C1's lead: an interaction counts for its author.
    InteractionFactory(lead=leads["L2"], closer=c2, data_interacao=ago(6))
    InteractionFactory(lead=leads["B1"], closer=org_b.closer, data_interacao=ago(1))
    return {"c1": c1, "c2": c2, "sdr": s, "leads": leads}


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def stage(body, status):
    return next(item for item in body["funnel"] if item["status"] == status)


def test_it_computes_every_metric_for_the_organization(org_a, data, client_for):
    body = get(client_for(org_a.admin), period=30)
    assert body["metrics"] == {
        "total_leads": 5,  # L1 L2 L3 L5 L6
        "leads_qualificados": 3,  # L2, L3 (convertido), L5 (lost after qualificado)
        "leads_convertidos": 2,  # L3 and L4 (created before the window)
        "taxa_conversao": 40.0,
        "valor_total_convertido": "30000.00",
        "ticket_medio": "15000.00",
        "tempo_medio_conversao_dias": 30.0,  # (3 + 57) / 2
        "total_interacoes": 5,  # the one on L7 is older
        "leads_quentes": 1,
        "leads_mornos": 2,
        "leads_frios": 2,
        "score_medio": 46.0,  # (10 + 50 + 100 + 30 + 40) / 5
    }
    assert body["periodo"]["dias"] == 30
    assert body["periodo"]["closer_id"] is None
    # The moment the figures are exact as of: the read, at or after the window's end.
    read_at = datetime.fromisoformat(body["atualizado_em"])
    assert read_at >= datetime.fromisoformat(body["periodo"]["fim"])


def test_it_gives_every_status_in_pipeline_order(org_a, data, client_for):
    body = get(client_for(org_a.admin))
    assert [item["status"] for item in body["funnel"]] == [
        "novo", "em_contato", "qualificado", "agendado", "negociacao", "convertido", "perdido",
    ]  # fmt: skip
    assert [item["count"] for item in body["funnel"]] == [1, 1, 1, 0, 0, 1, 1]
    assert [item["percentual"] for item in body["funnel"]] == [
        20.0,
        20.0,
        20.0,
        0.0,
        0.0,
        20.0,
        20.0,
    ]


def test_it_gives_advancement_and_time_in_stage_from_status_changes(org_a, data, client_for):
    body = get(client_for(org_a.admin))
    novo = stage(body, "novo")
    # Entered: L1 L2 L3 L5 L6; advanced: all but L1; stays 2, 1, 1, 0.4 days (L1 still there).
    assert (novo["entraram"], novo["avancaram"], novo["taxa_avanco"]) == (5, 4, 80.0)
    assert novo["tempo_medio_dias"] == 1.1
    em_contato = stage(body, "em_contato")  # L2 (advanced after 3 days), L6 (still there)
    assert (em_contato["entraram"], em_contato["avancaram"], em_contato["taxa_avanco"]) == (
        2, 1, 50.0,
    )  # fmt: skip
    assert em_contato["tempo_medio_dias"] == 3.0
    qualificado = stage(body, "qualificado")  # L2 still there; L5 lost after 4 days
    assert (qualificado["entraram"], qualificado["avancaram"], qualificado["taxa_avanco"]) == (
        2, 0, 0.0,
    )  # fmt: skip
    assert qualificado["tempo_medio_dias"] == 4.0
    agendado = stage(body, "agendado")
    assert (agendado["entraram"], agendado["taxa_avanco"], agendado["tempo_medio_dias"]) == (
        0, 0.0, None,
    )  # fmt: skip
    negociacao = stage(body, "negociacao")  # L3: converted after 2 days
    assert (negociacao["entraram"], negociacao["taxa_avanco"], negociacao["tempo_medio_dias"]) == (
        1, 100.0, 2.0,
    )  # fmt: skip
    convertido = stage(body, "convertido")  # L3 and L4 entered in the window; terminal
    assert convertido["entraram"] == 2
    assert convertido["taxa_avanco"] is None
    assert convertido["tempo_medio_dias"] is None
    perdido = stage(body, "perdido")
    assert perdido["entraram"] == 1
    assert perdido["taxa_avanco"] is None


def test_it_ranks_top_closers_by_value_then_conversions(org_a, data, client_for):
    body = get(client_for(org_a.admin))
    assert body["topClosers"] == [
        {
            "closer_id": str(data["c1"].pk),
            "nome_completo": data["c1"].nome_completo,
            "total_leads": 3,  # L1 L2 L3 (L7 is older)
            "convertidos": 1,
            "taxa_conversao": 33.3,
            "valor_convertido": "20000.00",
            "total_interacoes": 2,  # on L1, L3 (the L7 call is outside the window)
        },
        {
            "closer_id": str(data["c2"].pk),
            "nome_completo": "Zeca Closer",
            "total_leads": 1,  # L5
            "convertidos": 1,  # L4
            "taxa_conversao": 100.0,
            "valor_convertido": "10000.00",
            "total_interacoes": 2,  # on L4, and on C1's lead L2
        },
    ]


def test_it_breaks_value_ties_by_conversions_and_keeps_at_most_ten(org_a, client_for):
    org = org_a.org
    closers = [
        MembershipFactory(organization=org, role=Role.CLOSER, nome_completo=f"Closer {i:02d}")
        for i in range(12)
    ]
    for index, closer in enumerate(closers):
        # Same value for everyone; closer i has i conversions (value split among them).
        for n in range(index):
            LeadFactory(
                organization=org, closer=closer, status="convertido", converted_at=ago(1),
                valor_fechado=Decimal(27720) / index, created_at=ago(2 + n),
            )  # fmt: skip
    body = get(client_for(org_a.admin))
    ranked = [row["nome_completo"] for row in body["topClosers"]]
    assert len(ranked) == 10
    # Closer 00 has nothing; 01..11 have 27720.00 each (divisible by 1..11): more conversions first.
    assert ranked == [f"Closer {i:02d}" for i in range(11, 1, -1)]


def test_it_narrows_to_a_closer_for_managers(org_a, data, client_for):
    body = get(client_for(org_a.gestor), closer_id=str(data["c1"].pk))
    metrics = body["metrics"]
    assert metrics["total_leads"] == 3
    assert metrics["leads_qualificados"] == 2
    assert metrics["leads_convertidos"] == 1
    assert metrics["taxa_conversao"] == 33.3
    assert metrics["valor_total_convertido"] == "20000.00"
    assert metrics["ticket_medio"] == "20000.00"
    assert metrics["tempo_medio_conversao_dias"] == 3.0
    assert metrics["total_interacoes"] == 2
    assert (metrics["leads_quentes"], metrics["leads_mornos"], metrics["leads_frios"]) == (1, 1, 1)
    assert metrics["score_medio"] == 53.3
    assert [row["closer_id"] for row in body["topClosers"]] == [str(data["c1"].pk)]
    assert body["periodo"]["closer_id"] == str(data["c1"].pk)
    assert stage(body, "novo")["entraram"] == 3  # L1 L2 L3


def test_it_forces_a_closer_to_their_own_figures(org_a, data, client_for):
    own = get(client_for(org_a.closer))
    # Asking for someone else changes nothing: closer_id is forced to the requester.
    other = get(client_for(org_a.closer), closer_id=str(data["c2"].pk))
    managers_view = get(client_for(org_a.admin), closer_id=str(org_a.closer.pk))
    assert own["metrics"] == other["metrics"] == managers_view["metrics"]
    assert own["metrics"]["total_leads"] == 3
    assert own["periodo"]["closer_id"] == str(org_a.closer.pk)
    assert [row["closer_id"] for row in own["topClosers"]] == [str(org_a.closer.pk)]


def test_it_gives_an_sdr_the_leads_where_they_are_the_sdr(org_a, data, client_for):
    body = get(client_for(org_a.sdr), closer_id=str(data["c1"].pk))
    assert body["metrics"] == {
        "total_leads": 2,  # L1, L6
        "leads_qualificados": 0,
        "leads_convertidos": 0,
        "taxa_conversao": 0.0,
        "valor_total_convertido": "0.00",
        "ticket_medio": None,
        "tempo_medio_conversao_dias": None,
        "total_interacoes": 1,  # the one the SDR logged
        "leads_quentes": 0,
        "leads_mornos": 1,
        "leads_frios": 1,
        "score_medio": 25.0,
    }
    assert body["periodo"] == {**body["periodo"], "closer_id": None, "sdr_id": str(org_a.sdr.pk)}
    # The closers of the SDR's leads, measured on those leads only.
    assert body["topClosers"] == [
        {
            "closer_id": str(data["c1"].pk),
            "nome_completo": data["c1"].nome_completo,
            "total_leads": 1,
            "convertidos": 0,
            "taxa_conversao": 0.0,
            "valor_convertido": "0.00",
            "total_interacoes": 1,  # C1's call on L1; C1's call on L3 is not the SDR's lead
        }
    ]


def test_it_keeps_the_top_closer_row_consistent_with_the_closer_view(org_a, data, client_for):
    ranking = get(client_for(org_a.admin))["topClosers"]
    for row in ranking:
        metrics = get(client_for(org_a.admin), closer_id=row["closer_id"])["metrics"]
        assert row["total_leads"] == metrics["total_leads"]
        assert row["convertidos"] == metrics["leads_convertidos"]
        assert row["valor_convertido"] == metrics["valor_total_convertido"]
        assert row["total_interacoes"] == metrics["total_interacoes"]


def test_it_respects_the_period(org_a, data, client_for):
    short = get(client_for(org_a.admin), period=1)
    assert short["metrics"]["total_leads"] == 1  # L6
    assert short["metrics"]["leads_convertidos"] == 0
    assert short["metrics"]["ticket_medio"] is None
    assert short["metrics"]["tempo_medio_conversao_dias"] is None
    assert short["metrics"]["total_interacoes"] == 1
    assert short["topClosers"] == []  # L6 has no closer
    year = get(client_for(org_a.admin), period=365)
    assert year["metrics"]["total_leads"] == 7  # L4 and L7 too
    assert year["metrics"]["total_interacoes"] == 6
    assert year["metrics"]["leads_qualificados"] == 4  # L4 now in the cohort


def test_it_answers_zeros_and_nulls_for_an_empty_period(org_a, client_for):
    body = get(client_for(org_a.admin), period=7)
    assert body["metrics"] == {
        "total_leads": 0,
        "leads_qualificados": 0,
        "leads_convertidos": 0,
        "taxa_conversao": 0.0,
        "valor_total_convertido": "0.00",
        "ticket_medio": None,
        "tempo_medio_conversao_dias": None,
        "total_interacoes": 0,
        "leads_quentes": 0,
        "leads_mornos": 0,
        "leads_frios": 0,
        "score_medio": None,
    }
    assert len(body["funnel"]) == 7
    for item in body["funnel"]:
        assert (item["count"], item["percentual"], item["entraram"], item["avancaram"]) == (
            0, 0.0, 0, 0,
        )  # fmt: skip
        assert item["tempo_medio_dias"] is None
    assert body["topClosers"] == []


def test_it_counts_a_conversion_in_the_period_of_a_lead_created_before(org_a, client_for):
    make_lead(
        org_a.org, created=200, history=[("novo", 200), ("convertido", 10)],
        closer=org_a.closer, status="convertido", converted_at=ago(10),
        valor_fechado=Decimal("5000.00"),
    )  # fmt: skip
    body = get(client_for(org_a.admin))
    metrics = body["metrics"]
    assert metrics["total_leads"] == 0
    assert metrics["leads_convertidos"] == 1
    assert metrics["taxa_conversao"] == 0.0  # no leads created: 0, not a division by zero
    assert metrics["valor_total_convertido"] == "5000.00"
    assert metrics["tempo_medio_conversao_dias"] == 190.0
    assert body["topClosers"][0]["convertidos"] == 1
    assert body["topClosers"][0]["total_leads"] == 0
    assert body["topClosers"][0]["taxa_conversao"] == 0.0


def test_it_counts_a_lead_once_per_stage_and_every_stay_in_it(org_a, client_for):
    make_lead(
        org_a.org, created=10,
        history=[("novo", 10), ("em_contato", 9), ("novo", 7), ("em_contato", 6),
                 ("qualificado", 2)],
        status="qualificado",
    )  # fmt: skip
    body = get(client_for(org_a.admin))
    em_contato = stage(body, "em_contato")
    assert (em_contato["entraram"], em_contato["avancaram"]) == (1, 1)
    assert em_contato["tempo_medio_dias"] == 3.0  # stays of 2 and 4 days
    novo = stage(body, "novo")
    assert (novo["entraram"], novo["avancaram"], novo["tempo_medio_dias"]) == (1, 1, 1.0)


def test_it_lists_a_closer_whose_only_activity_is_interactions(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, created_at=ago(90))
    InteractionFactory(lead=lead, closer=org_a.closer, data_interacao=ago(1))
    InteractionFactory(lead=lead, closer=org_a.gestor, data_interacao=ago(1))  # not a closer
    rows = get(client_for(org_a.admin))["topClosers"]
    assert [(row["closer_id"], row["total_leads"], row["total_interacoes"]) for row in rows] == [
        (str(org_a.closer.pk), 0, 1)
    ]


def test_it_ignores_a_reopened_conversion(org_a, client_for):
    # Reopening clears converted_at (leads.services); the lead is no longer a conversion.
    make_lead(
        org_a.org, created=3, history=[("novo", 3), ("convertido", 2), ("negociacao", 1)],
        status="negociacao", converted_at=None, valor_fechado=Decimal("5000.00"),
    )  # fmt: skip
    body = get(client_for(org_a.admin))
    assert body["metrics"]["leads_convertidos"] == 0
    assert stage(body, "convertido")["entraram"] == 1


def test_it_never_counts_another_organizations_data(org_b, data, client_for):
    body = get(client_for(org_b.admin))
    assert body["metrics"]["total_leads"] == 1
    assert body["metrics"]["valor_total_convertido"] == "99999.00"
    assert body["metrics"]["total_interacoes"] == 1
    assert [row["closer_id"] for row in body["topClosers"]] == [str(org_b.closer.pk)]
    assert body["topClosers"][0]["total_interacoes"] == 1


@pytest.mark.parametrize("period", ["0", "366", "abc", "-5", "1e3", "30; drop"])
def test_it_rejects_a_bad_period(org_a, client_for, period):
    response = client_for(org_a.admin).get(URL, {"period": period})
    assert response.status_code == 400
    body = response.json()
    assert "period" in body["details"]
    assert body["error"]


def test_it_defaults_an_empty_period_to_thirty_days(org_a, client_for):
    assert get(client_for(org_a.admin), period="")["periodo"]["dias"] == 30


def test_it_rejects_a_malformed_closer_id(org_a, client_for):
    for role in ("admin", "closer"):
        response = client_for(org_a.member(role)).get(URL, {"closer_id": "not-a-uuid"})
        assert response.status_code == 400
        assert "closer_id" in response.json()["details"]


def test_it_rejects_a_closer_of_another_organization(org_a, org_b, data, client_for):
    response = client_for(org_a.admin).get(URL, {"closer_id": str(org_b.closer.pk)})
    assert response.status_code == 400
    assert "closer_id" in response.json()["details"]
    # Same answer as an id that exists nowhere: nothing about org_b is revealed.
    missing = client_for(org_a.admin).get(
        URL, {"closer_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert missing.status_code == 400
    assert missing.json() == response.json()


def test_it_refuses_mentors(org_a, client_for):
    response = client_for(org_a.mentor).get(URL)
    assert response.status_code == 403
    assert response.json()["error"]


def test_it_needs_authentication(anon):
    assert anon.get(URL).status_code == 401


def test_it_uses_a_fixed_number_of_queries(org_a, data, client_for):
    client = client_for(org_a.admin)
    client.get(URL)  # warm-up (membership resolution is the same every time)
    with CaptureQueriesContext(connection) as full:
        get(client, period=365)
    with CaptureQueriesContext(connection) as empty:
        get(client_for(org_a.admin), period=1)
    assert len(full) == len(empty)
    # membership, closer check, the transaction's settings, the rollup sums (leads/rollups.py
    # read_window: rollups, raw edge days, re-entries and the closers' ranking in one statement)
    assert len([q for q in full.captured_queries if "SAVEPOINT" not in q["sql"]]) <= 4


def test_it_aggregates_without_touching_a_lead_per_row(org_a, client_for):
    # Not a speed test: the number of queries is the same for 2 and for 60 leads.
    for n in range(2):
        LeadFactory(organization=org_a.org, closer=org_a.closer, created_at=ago(n + 1))
    with CaptureQueriesContext(connection) as few:
        get(client_for(org_a.admin))
    for n in range(58):
        LeadFactory(organization=org_a.org, closer=org_a.closer, created_at=ago(n % 20 + 1))
    with CaptureQueriesContext(connection) as many:
        body = get(client_for(org_a.admin))
    assert body["metrics"]["total_leads"] == 60
    assert len(few) == len(many)


def test_the_selectors_take_an_explicit_now(org_a, data):
    # The window is [now - period, now]: moving "now" back 8 days drops L3 and L6 from it.
    scope = dashboard_selectors.dashboard_scope(membership=org_a.admin, period_days=30, now=ago(8))
    metrics = dashboard_selectors.dashboard_metrics(scope)
    assert metrics["total_leads"] == 3  # L1 (10 days ago), L2 (20), L5 (25)
    assert metrics["leads_convertidos"] == 0


def test_it_rejects_out_of_range_periods_in_the_selector(org_a):
    with pytest.raises(ValueError, match="period_days must be within 1-365"):
        dashboard_selectors.dashboard_scope(membership=org_a.admin, period_days=0)
    with pytest.raises(PermissionError):
        dashboard_selectors.dashboard_scope(membership=org_a.mentor, period_days=30)


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (0, 0, 0.0),
        (5, 0, 0.0),
        (1, 3, 33.3),
        (2, 3, 66.7),
        (1, 8, 12.5),
        (1, 16, 6.3),
        (3, 2, 150.0),
    ],
)
def test_it_rounds_percentages_half_up_to_one_decimal(part, whole, expected):
    assert dashboard_selectors.percent(part, whole) == expected


def test_it_converts_durations_and_means():
    assert dashboard_selectors.days(None) is None
    assert dashboard_selectors.days(timedelta(days=1, hours=6)) == 1.3  # 1.25 half up
    assert dashboard_selectors.days(Decimal(86400 * 2)) == 2.0
    assert dashboard_selectors.one_decimal(None) is None
    assert dashboard_selectors.one_decimal(Decimal("46.25")) == 46.3
    assert dashboard_selectors.money(Decimal("15000.005")) == Decimal("15000.01")
    assert dashboard_selectors.money(None) is None


def test_it_documents_the_closer_choice_for_atribuidos_organizations(org_a, data, client_for):
    # Visibility does not change dashboard figures: a closer sees their own either way.
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    body = get(client_for(org_a.closer))
    assert body["metrics"]["total_leads"] == 3
