"""GET /api/v1/mentorados/dashboard/: every figure pinned on a hand-built data set."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mentorados import figures
from mentorados.selectors import mentorado_dashboard
from mentorados.services import organization_today
from tests.mentorados.factories import EvolucaoFactory, FeedbackFactory, MentoradoFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/mentorados/dashboard/"
TODAY = date(2026, 3, 15)  # period=3 is Jan 1 .. Mar 15, 2026


def build(org, noise_org) -> None:
    """Seven mentees of `org` (plus noise in `noise_org`); expected figures in the tests."""

    def mentee(**fields):
        return MentoradoFactory(organization=org, **fields)

    a = mentee(
        status="ativo",
        data_inicio=date(2025, 6, 1),
        faturamento_atual=Decimal("10000.00"),
        crescimento_percentual=Decimal("50.00"),
        engagement_score=75,
    )
    b = mentee(
        status="ativo",
        data_inicio=date(2026, 1, 10),  # new in the period
        faturamento_atual=Decimal("5000.00"),
        engagement_score=24,
    )
    c = mentee(
        status="pausado",
        data_inicio=date(2025, 1, 1),
        faturamento_atual=Decimal("99999.00"),  # not active: not in the current totals
        crescimento_percentual=Decimal("900.00"),
        engagement_score=10,
    )
    d = mentee(status="cancelado", data_inicio=date(2025, 3, 1), data_fim=date(2026, 2, 10))
    e = mentee(status="cancelado", data_inicio=date(2024, 1, 1), data_fim=date(2025, 11, 30))
    mentee(  # starts after today: neither new in the period nor exposed
        status="ativo",
        data_inicio=date(2026, 4, 1),
        crescimento_percentual=Decimal("10.10"),
        engagement_score=74,
    )
    mentee(status="ativo", data_inicio=date(2025, 9, 1), engagement_score=49)
    mentee(status="concluido", data_inicio=date(2024, 6, 1), data_fim=date(2025, 12, 31))

    for who, ano, mes, value in [
        (a, 2025, 12, "9000"),  # before the period
        (a, 2026, 1, "8000"),
        (a, 2026, 2, "10000"),
        (c, 2026, 1, "4000"),
        (d, 2026, 2, "1000.01"),
    ]:
        EvolucaoFactory(mentorado=who, ano=ano, mes=mes, faturamento=Decimal(value))
    for who, day, nps, geral in [
        (a, date(2026, 1, 1), 10, 9),  # first day of the period
        (a, date(2025, 12, 31), 0, 0),  # the day before
        (b, date(2026, 3, 15), 6, 4),  # today
        (c, date(2026, 2, 1), 8, 7),
        (d, date(2026, 2, 2), 9, 10),
        (e, date(2026, 3, 16), 0, 0),  # after today
    ]:
        FeedbackFactory(mentorado=who, data_feedback=day, nota_nps=nps, nota_geral=geral)

    noise = MentoradoFactory(
        organization=noise_org,
        status="cancelado",
        data_inicio=date(2026, 1, 5),
        data_fim=date(2026, 2, 1),
        faturamento_atual=Decimal("1.00"),
        engagement_score=100,
    )
    EvolucaoFactory(mentorado=noise, ano=2026, mes=1, faturamento=Decimal("77777"))
    FeedbackFactory(mentorado=noise, data_feedback=date(2026, 2, 1), nota_nps=0)


def test_it_pins_every_figure_on_a_hand_built_data_set(org_a, org_b):
    build(org_a.org, org_b.org)
    result = mentorado_dashboard(organization=org_a.org, period=3, today=TODAY)
    assert result["period"] == {"months": 3, "start": "2026-01-01", "end": "2026-03-15"}
    assert result["overview"] == {
        "total": 8,
        "ativos": 4,
        "pausados": 1,
        "concluidos": 1,
        "cancelados": 2,
        "novos_no_periodo": 1,  # b (the one starting in April is not yet new)
        # d cancelled in the period; exposed: a, b, c, d and the one active since 2025-09.
        "taxa_churn": 20.0,
    }
    assert result["growth"] == {
        "crescimento_medio_12m": 30.1,  # mean(50.00, 10.10) = 30.05, ties away from zero
        "faturamento_total_atual": "15000.00",
        "meses": [
            {
                "ano": 2026,
                "mes": 1,
                "faturamento_total": "12000.00",
                "faturamento_medio": "6000.00",
                "mentorados_reportando": 2,
            },
            {
                "ano": 2026,
                "mes": 2,
                "faturamento_total": "11000.01",
                "faturamento_medio": "5500.01",  # 5500.005
                "mentorados_reportando": 2,
            },
            {
                "ano": 2026,
                "mes": 3,
                "faturamento_total": "0.00",
                "faturamento_medio": None,
                "mentorados_reportando": 0,
            },
        ],
    }
    assert result["engagement"] == {
        "media": 55.5,  # (75 + 24 + 74 + 49) / 4
        "faixas": [
            {"faixa": "0-24", "count": 1},
            {"faixa": "25-49", "count": 1},
            {"faixa": "50-74", "count": 1},
            {"faixa": "75-100", "count": 1},
        ],
    }
    assert result["satisfaction"] == {
        "nps": 25,  # (2 promoters - 1 detractor) / 4 answers
        "promotores": 2,
        "neutros": 1,
        "detratores": 1,
        "total_respostas": 4,
        "nota_geral_media": 7.5,
    }


def test_it_widens_the_period_by_calendar_months(org_a, org_b):
    build(org_a.org, org_b.org)
    result = mentorado_dashboard(organization=org_a.org, period=4, today=TODAY)
    assert result["period"]["start"] == "2025-12-01"
    assert [m["mes"] for m in result["growth"]["meses"]] == [12, 1, 2, 3]
    assert result["growth"]["meses"][0]["faturamento_total"] == "9000.00"
    assert result["satisfaction"]["total_respostas"] == 5
    assert result["satisfaction"]["nps"] == 0  # 2 promoters, 2 detractors
    # e was cancelled on 2025-11-30, still before the period; g ended on 2025-12-31: exposed.
    assert result["overview"]["taxa_churn"] == round(100 * 1 / 6, 1)
    one = mentorado_dashboard(organization=org_a.org, period=1, today=TODAY)
    assert one["period"]["start"] == "2026-03-01"
    assert [(m["ano"], m["mes"]) for m in one["growth"]["meses"]] == [(2026, 3)]
    assert one["overview"]["novos_no_periodo"] == 0
    assert one["overview"]["taxa_churn"] == 0.0


def test_it_gives_zeros_and_nulls_for_an_empty_organization(org_a, client_for):
    response = client_for(org_a.admin).get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["overview"] == {
        "total": 0,
        "ativos": 0,
        "pausados": 0,
        "concluidos": 0,
        "cancelados": 0,
        "novos_no_periodo": 0,
        "taxa_churn": 0.0,
    }
    assert body["growth"]["crescimento_medio_12m"] is None
    assert body["growth"]["faturamento_total_atual"] == "0.00"
    assert len(body["growth"]["meses"]) == 12
    assert all(
        m["faturamento_total"] == "0.00"
        and m["faturamento_medio"] is None
        and m["mentorados_reportando"] == 0
        for m in body["growth"]["meses"]
    )
    assert body["engagement"] == {
        "media": None,
        "faixas": [
            {"faixa": "0-24", "count": 0},
            {"faixa": "25-49", "count": 0},
            {"faixa": "50-74", "count": 0},
            {"faixa": "75-100", "count": 0},
        ],
    }
    assert body["satisfaction"] == {
        "nps": None,
        "promotores": 0,
        "neutros": 0,
        "detratores": 0,
        "total_respostas": 0,
        "nota_geral_media": None,
    }


def test_it_serves_the_dashboard_for_the_requesters_organization_only(org_a, org_b, client_for):
    today = organization_today(org_a.org)
    mine = MentoradoFactory(organization=org_a.org, data_inicio=today, engagement_score=80)
    EvolucaoFactory(mentorado=mine, ano=today.year, mes=today.month, faturamento=Decimal("10"))
    FeedbackFactory(mentorado=mine, data_feedback=today, nota_nps=10)
    theirs = MentoradoFactory(organization=org_b.org, data_inicio=today)
    EvolucaoFactory(mentorado=theirs, ano=today.year, mes=today.month, faturamento=Decimal("5"))
    FeedbackFactory(mentorado=theirs, data_feedback=today, nota_nps=0)
    body = client_for(org_a.mentor).get(URL + "?period=2").json()
    assert body["overview"]["total"] == 1
    assert body["overview"]["novos_no_periodo"] == 1
    assert body["growth"]["meses"][-1] == {
        "ano": today.year,
        "mes": today.month,
        "faturamento_total": "10.00",
        "faturamento_medio": "10.00",
        "mentorados_reportando": 1,
    }
    current = figures.month_index(today.year, today.month)
    assert (
        body["growth"]["meses"][0]["ano"],
        body["growth"]["meses"][0]["mes"],
    ) == figures.month_of_index(current - 1)
    assert body["satisfaction"]["nps"] == 100
    assert body["engagement"]["media"] == 80.0


@pytest.mark.parametrize("role", ["admin", "gestor", "closer", "sdr", "mentor"])
def test_it_lets_every_role_read_the_dashboard(org_a, client_for, role):
    assert client_for(org_a.member(role)).get(URL).status_code == 200


@pytest.mark.parametrize("period", ["0", "37", "-1", "abc", "1.5", ""])
def test_it_rejects_a_bad_period(org_a, client_for, period):
    response = client_for(org_a.admin).get(URL + f"?period={period}")
    if period == "":
        # An empty value is the default, like an absent one.
        assert response.status_code == 200
        assert len(response.json()["growth"]["meses"]) == 12
        return
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error", "details"}
    assert "period" in body["details"]


@pytest.mark.parametrize("period", [1, 36])
def test_it_accepts_the_period_bounds(org_a, client_for, period):
    response = client_for(org_a.admin).get(URL + f"?period={period}")
    assert response.status_code == 200
    assert len(response.json()["growth"]["meses"]) == period


def test_it_computes_the_dashboard_with_a_fixed_number_of_queries(org_a, org_b, client_for):
    client = client_for(org_a.admin)
    client.get(URL)
    with CaptureQueriesContext(connection) as empty:
        client.get(URL + "?period=36")
    build(org_a.org, org_b.org)
    with CaptureQueriesContext(connection) as full:
        client.get(URL + "?period=36")
    # The requester's membership, then the whole dashboard in one statement over the rollups.
    assert len(empty) == len(full) == 2


def test_it_rejects_writes_on_the_dashboard(org_a, client_for):
    assert client_for(org_a.admin).post(URL, {}, format="json").status_code == 405
