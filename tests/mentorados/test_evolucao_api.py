"""GET POST /api/v1/mentorados/{id}/evolucao-financeira/ and the figures it refreshes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mentorados import figures
from mentorados.models import EvolucaoFinanceira, Mentorado
from mentorados.services import organization_today
from tests.factories import MembershipFactory
from tests.mentorados.factories import EvolucaoFactory, MentoradoFactory

pytestmark = pytest.mark.django_db


def url(mentorado: Mentorado) -> str:
    return f"/api/v1/mentorados/{mentorado.pk}/evolucao-financeira/"


def months_ago(org, n: int) -> tuple[int, int]:
    today = organization_today(org)
    return figures.month_of_index(figures.month_index(today.year, today.month) - n)


def test_it_creates_then_updates_the_same_month(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    client = client_for(org_a.gestor)
    payload = {
        "ano": 2025,
        "mes": 3,
        "faturamento": "20000.50",
        "lucro": "-1500",
        "numero_clientes": 40,
        "ticket_medio": "500",
        "observacoes": "Mês fraco",
    }
    first = client.post(url(mentee), payload, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["faturamento"] == "20000.50"
    assert body["lucro"] == "-1500.00"
    assert body["mentorado_id"] == str(mentee.pk)
    assert body["crescimento_mensal"] is None

    second = client.post(
        url(mentee), {"ano": 2025, "mes": 3, "faturamento": "25000"}, format="json"
    )
    assert second.status_code == 200, second.content
    assert second.json()["id"] == body["id"]
    row = EvolucaoFinanceira.objects.get()
    assert row.faturamento == Decimal("25000.00")
    # Fields not sent keep their values.
    assert (row.lucro, row.numero_clientes, row.observacoes) == (Decimal("-1500"), 40, "Mês fraco")
    assert row.organization_id == org_a.org.pk


def test_it_returns_the_monthly_growth_of_the_posted_month(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    EvolucaoFactory(mentorado=mentee, ano=2024, mes=12, faturamento=Decimal("8000"))
    response = client_for(org_a.admin).post(
        url(mentee), {"ano": 2025, "mes": 1, "faturamento": "10000"}, format="json"
    )
    assert response.json()["crescimento_mensal"] == "25.00"


def test_it_recalculates_the_mentees_figures_after_each_post(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    closed = [months_ago(org_a.org, n) for n in (3, 2, 1)]
    for (ano, mes), value in zip(closed, ["10000", "12000", "15000"], strict=True):
        response = client.post(
            url(mentee), {"ano": ano, "mes": mes, "faturamento": value}, format="json"
        )
        assert response.status_code == 201
    mentee.refresh_from_db()
    assert mentee.faturamento_atual == Decimal("15000.00")
    assert mentee.crescimento_percentual == Decimal("50.00")
    assert mentee.engagement_score == 45 + 15  # three closed months, and growing
    # Correcting the latest month down removes the growth bonus and changes the growth.
    ano, mes = closed[-1]
    client.post(url(mentee), {"ano": ano, "mes": mes, "faturamento": "9000"}, format="json")
    mentee.refresh_from_db()
    assert mentee.faturamento_atual == Decimal("9000.00")
    assert mentee.crescimento_percentual == Decimal("-10.00")
    assert mentee.engagement_score == 45


def test_it_lists_months_in_order_with_monthly_growth(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    for ano, mes, value in [
        (2025, 2, "150"),
        (2024, 12, "100"),
        (2025, 1, "120"),
        (2025, 5, "300"),
        (2025, 4, "0"),
    ]:
        EvolucaoFactory(mentorado=mentee, ano=ano, mes=mes, faturamento=Decimal(value))
    EvolucaoFactory(ano=2025, mes=3, mentorado=MentoradoFactory(organization=org_a.org))
    response = client_for(org_a.sdr).get(url(mentee))
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert [(d["ano"], d["mes"], d["crescimento_mensal"]) for d in data] == [
        (2024, 12, None),
        (2025, 1, "20.00"),
        (2025, 2, "25.00"),
        (2025, 4, None),  # March missing
        (2025, 5, None),  # April is zero
    ]


def test_it_keeps_monthly_growth_across_page_boundaries(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    for mes in range(1, 5):
        EvolucaoFactory(mentorado=mentee, ano=2025, mes=mes, faturamento=Decimal(100 * mes))
    response = client_for(org_a.admin).get(url(mentee) + "?limit=2&page=2")
    data = response.json()["data"]
    assert [(d["mes"], d["crescimento_mensal"]) for d in data] == [(3, "50.00"), (4, "33.33")]


def test_it_orders_months_on_request_and_rejects_unknown_orderings(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    for mes in (1, 2):
        EvolucaoFactory(mentorado=mentee, ano=2025, mes=mes, faturamento=Decimal(100 * mes))
    client = client_for(org_a.admin)
    data = client.get(url(mentee) + "?ordering=-ano,-mes").json()["data"]
    assert [(d["mes"], d["crescimento_mensal"]) for d in data] == [(2, "100.00"), (1, None)]
    response = client.get(url(mentee) + "?ordering=faturamento")
    assert response.status_code == 400
    assert "ordering" in response.json()["details"]


def test_it_lists_months_with_a_query_count_independent_of_page_size(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    for mes in range(1, 13):
        EvolucaoFactory(mentorado=mentee, ano=2024, mes=mes)
    client = client_for(org_a.admin)
    client.get(url(mentee))
    with CaptureQueriesContext(connection) as one:
        client.get(url(mentee) + "?limit=1")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(mentee) + "?limit=100")
    assert len(response.json()["data"]) == 12
    assert len(many) == len(one)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ano": 2025, "mes": 0, "faturamento": "1"}, "mes"),
        ({"ano": 2025, "mes": 13, "faturamento": "1"}, "mes"),
        ({"ano": 1999, "mes": 5, "faturamento": "1"}, "ano"),
        ({"ano": 99999, "mes": 5, "faturamento": "1"}, "ano"),
        ({"ano": "dois mil", "mes": 5, "faturamento": "1"}, "ano"),
        ({"ano": 2025, "mes": 5, "faturamento": "-0.01"}, "faturamento"),
        ({"ano": 2025, "mes": 5, "faturamento": "1.001"}, "faturamento"),
        ({"ano": 2025, "mes": 5, "faturamento": "Infinity"}, "faturamento"),
        ({"ano": 2025, "mes": 5, "faturamento": "1000000000000"}, "faturamento"),
        ({"ano": 2025, "mes": 5}, "faturamento"),
        ({"mes": 5, "faturamento": "1"}, "ano"),
        ({"ano": 2025, "mes": 5, "faturamento": "1", "ticket_medio": "-5"}, "ticket_medio"),
        ({"ano": 2025, "mes": 5, "faturamento": "1", "numero_clientes": -1}, "numero_clientes"),
        (
            {"ano": 2025, "mes": 5, "faturamento": "1", "numero_clientes": 10**12},
            "numero_clientes",
        ),
    ],
)
def test_it_rejects_bad_months_and_writes_nothing(org_a, client_for, payload, field):
    mentee = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(url(mentee), payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error", "details"}
    assert field in body["details"]
    assert not EvolucaoFinanceira.objects.exists()


def test_it_rejects_months_that_have_not_started(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    today = organization_today(org_a.org)
    next_ano, next_mes = months_ago(org_a.org, -1)
    for payload in (
        {"ano": next_ano, "mes": next_mes, "faturamento": "1"},
        {"ano": today.year + 1, "mes": 1, "faturamento": "1"},
    ):
        response = client.post(url(mentee), payload, format="json")
        assert response.status_code == 400, response.content
    assert not EvolucaoFinanceira.objects.exists()
    # The current (open) month is accepted.
    current = {"ano": today.year, "mes": today.month, "faturamento": "1"}
    assert client.post(url(mentee), current, format="json").status_code == 201


def test_it_lets_a_mentor_report_only_for_their_own_mentees(org_a, client_for):
    other = MembershipFactory(organization=org_a.org, role="mentor")
    mine = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    theirs = MentoradoFactory(organization=org_a.org, mentor=other)
    client = client_for(org_a.mentor)
    payload = {"ano": 2025, "mes": 1, "faturamento": "1"}
    assert client.post(url(mine), payload, format="json").status_code == 201
    assert client.post(url(theirs), payload, format="json").status_code == 403
    assert client.get(url(theirs)).status_code == 200
    assert EvolucaoFinanceira.objects.filter(mentorado=theirs).count() == 0


@pytest.mark.parametrize("role", ["closer", "sdr"])
def test_it_forbids_sellers_to_report(org_a, client_for, role):
    mentee = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.member(role)).post(
        url(mentee), {"ano": 2025, "mes": 1, "faturamento": "1"}, format="json"
    )
    assert response.status_code == 403
    assert not EvolucaoFinanceira.objects.exists()


def test_it_hides_another_organizations_evolution(org_a, org_b, client_for):
    foreign = MentoradoFactory(organization=org_b.org)
    EvolucaoFactory(mentorado=foreign)
    client = client_for(org_a.admin)
    assert client.get(url(foreign)).status_code == 404
    response = client.post(url(foreign), {"ano": 2025, "mes": 2, "faturamento": "1"}, format="json")
    assert response.status_code == 404
    assert EvolucaoFinanceira.objects.count() == 1


def test_it_answers_404_for_an_unknown_mentee(org_a, client_for):
    response = client_for(org_a.admin).get(
        "/api/v1/mentorados/00000000-0000-0000-0000-000000000000/evolucao-financeira/"
    )
    assert response.status_code == 404
    assert set(response.json()) == {"error", "details"}
