"""The back-office painel (`/admin/painel/`): the API dashboards' figures, charted and linked.

The painel must show exactly what `GET /api/v1/leads/performance/` and
`GET /api/v1/mentorados/dashboard/` answer on the same data; each number links to the admin list
of exactly the rows it counts.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads import services
from leads.dashboard_selectors import DashboardScope, origem_breakdown
from leads.models import Lead
from tests.factories import InteractionFactory, LeadFactory
from tests.mentorados.factories import FeedbackFactory, MentoradoFactory

pytestmark = pytest.mark.django_db

PAINEL = "/admin/painel/"


def login(membership) -> Client:
    user = membership.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def _lead(org, actor, *, days_ago: int, path: list[str], **fields) -> Lead:
    lead = LeadFactory(organization=org.org, **fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    lead.refresh_from_db()
    for status in path:
        data = {"status": status}
        if status == "perdido":
            data["motivo_perda"] = "Sem orçamento"
        lead = services.lead_update(lead=lead, actor=actor, data=data)
    return lead


@pytest.fixture
def sales_data(org_a, org_b):
    a = org_a
    _lead(a, a.closer, days_ago=3, path=["em_contato", "qualificado"], closer=a.closer)
    _lead(a, a.closer, days_ago=10, path=["em_contato", "perdido"], closer=a.closer, origem="site")
    _lead(
        a,
        a.closer,
        days_ago=20,
        path=["qualificado", "negociacao", "convertido"],
        closer=a.closer,
        valor_potencial=Decimal("147000.00"),
        temperatura="quente",
        origem="indicacao",
    )
    _lead(a, a.gestor, days_ago=40, path=["agendado", "convertido"], closer=a.gestor, sdr=a.sdr)
    _lead(a, a.gestor, days_ago=200, path=["convertido"], closer=a.gestor)  # before 90 days
    _lead(a, a.gestor, days_ago=1, path=[], origem="whatsapp")
    for lead in Lead.objects.filter(organization=a.org)[:3]:
        InteractionFactory(lead=lead, closer=a.closer)
    InteractionFactory(lead=Lead.objects.filter(organization=a.org).first(), closer=a.gestor)
    # Another organization's data must change nothing.
    _lead(org_b, org_b.closer, days_ago=2, path=["convertido"], closer=org_b.closer)
    today = timezone.localdate()
    for nota, days in ((10, 5), (9, 40), (3, 70), (8, 100), (10, 400)):
        FeedbackFactory(
            mentorado=MentoradoFactory(organization=a.org),
            data_feedback=today - timedelta(days=days),
            nota_nps=nota,
        )
    return a


def _as_json(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _api(client_for, membership, url, **params):
    response = client_for(membership).get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("role", ["admin", "gestor", "closer", "sdr"])
def test_it_shows_the_api_dashboards_figures(sales_data, client_for, role):
    member = sales_data.member(role)
    response = login(member).get(PAINEL, {"period": "90"})
    assert response.status_code == 200
    sales = response.context["sales"]
    api = _api(client_for, member, "/api/v1/leads/performance/", period=90)
    assert _as_json(sales["metrics"]) == api["metrics"]
    assert _as_json(sales["sales"]["funnel"]) == api["funnel"]
    assert _as_json(sales["sales"]["topClosers"]) == api["topClosers"]
    # The charts' series break those figures down.
    assert sum(week["leads"] for week in sales["weeks"]) == api["metrics"]["total_leads"]
    assert (
        sum(week["convertidos"] for week in sales["weeks"]) == api["metrics"]["leads_convertidos"]
    )
    assert sum(row["leads"] for row in sales["origens"]) == api["metrics"]["total_leads"]
    chart = json.loads(
        response.content.decode()
        .split('id="painel-sales-data" type="application/json">')[1]
        .split("</script>")[0]
    )
    assert chart["funnel"]["entraram"] == [stage["entraram"] for stage in api["funnel"]]
    assert chart["closers"]["valor"] == [float(c["valor_convertido"]) for c in api["topClosers"]]


def test_it_shows_the_mentee_dashboard_and_nps_per_month(sales_data, client_for):
    response = login(sales_data.gestor).get(PAINEL, {"meses": "6"})
    mentees = response.context["mentees"]
    api = _api(client_for, sales_data.gestor, "/api/v1/mentorados/dashboard/", period=6)
    painel = _as_json(mentees["data"])
    # Both read the same figures; each says when it read them.
    assert painel.pop("atualizado_em")
    assert api.pop("atualizado_em")
    assert painel == api
    assert sum(m["respostas"] for m in mentees["nps"]) == api["satisfaction"]["total_respostas"]
    assert api["satisfaction"]["total_respostas"] == 4
    chart = json.loads(
        response.content.decode()
        .split('id="painel-mentees-data" type="application/json">')[1]
        .split("</script>")[0]
    )
    assert len(chart["nps"]) == 6
    assert chart["nps"] == [m["nps"] for m in mentees["nps"]]


def test_it_filters_by_closer_like_the_api(sales_data, client_for):
    closer = str(sales_data.closer.pk)
    sales = (
        login(sales_data.admin).get(PAINEL, {"period": "30", "closer_id": closer}).context["sales"]
    )
    api = _api(
        client_for, sales_data.admin, "/api/v1/leads/performance/", period=30, closer_id=closer
    )
    assert _as_json(sales["metrics"]) == api["metrics"]
    assert _as_json(sales["sales"]["funnel"]) == api["funnel"]


def test_it_shows_labels_and_brazilian_formatting(sales_data):
    html = login(sales_data.gestor).get(PAINEL, {"period": "90"}).content.decode()
    assert "R$ 147.000,00" in html  # the closer's converted value in the ranking
    for label in ("Em contato", "Negociação", "Indicação", "Quentes"):
        assert label in html
    assert ">em_contato<" not in html
    assert ">negociacao<" not in html
    assert ">indicacao<" not in html
    # Every figure says what it counts.
    assert "Leads criados dentro do período" in html
    assert "NPS = % de promotores" in html


def _listed(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.context["cl"].result_count


def test_every_number_links_to_the_rows_it_counts(sales_data):
    client = login(sales_data.gestor)
    sales = client.get(PAINEL, {"period": "90"}).context["sales"]
    metrics = sales["metrics"]
    for kpi in sales["kpis"]:
        if kpi["link"] and kpi["format"] == "num":
            assert _listed(client, kpi["link"]) == kpi["value"], kpi["key"]
    for stage in sales["funnel"]:
        assert _listed(client, stage["link_count"]) == stage["count"], stage["status"]
        assert _listed(client, stage["link_entraram"]) == stage["entraram"], stage["status"]
    for temperature in sales["temperatures"]:
        assert _listed(client, temperature["link"]) == temperature["value"]
    for row in sales["origens"]:
        assert _listed(client, row["link"]) == row["leads"]
    for week in sales["weeks"]:
        assert _listed(client, week["link_leads"]) == week["leads"]
        assert _listed(client, week["link_convertidos"]) == week["convertidos"]
    for closer in sales["closers"]:
        assert _listed(client, closer["link_leads"]) == closer["total_leads"]
        assert _listed(client, closer["link_convertidos"]) == closer["convertidos"]
    # One of the three conversions is of a lead created before the window.
    assert metrics["total_leads"] == 5
    assert metrics["leads_convertidos"] == 3


def test_it_refuses_bad_parameters_with_a_portuguese_message(org_a, org_b):
    client = login(org_a.gestor)
    response = client.get(PAINEL, {"period": "999"})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    other = client.get(PAINEL, {"closer_id": str(org_b.closer.pk)})
    assert other.status_code == 400
    assert "Membro não encontrado nesta organização." in other.content.decode()


def test_it_never_shows_another_organization(sales_data, org_b):
    client = login(org_b.admin)
    response = client.get(PAINEL, {"org": str(sales_data.org.pk), "period": "90"})
    assert response.context["organization"] == org_b.org
    assert response.context["sales"]["metrics"]["total_leads"] == 1
    # A painel link naming organization A lists nothing for B's admin.
    link = login(sales_data.gestor).get(PAINEL, {"period": "90"}).context["sales"]["kpis"][0]
    assert _listed(client, link["link"]) == 0


def test_it_shows_mentors_only_the_mentee_figures(org_a):
    response = login(org_a.mentor).get(PAINEL)
    assert response.status_code == 200
    assert "sales" not in response.context
    assert "mentees" in response.context


def test_it_answers_a_broken_painel_link_without_an_error_page(org_a):
    client = login(org_a.gestor)
    response = client.get("/admin/leads/lead/", {"painel": "coorte", "painel_inicio": "ontem"})
    assert response.status_code in (200, 302)
    assert client.get("/admin/leads/lead/", {"painel": "nada"}).status_code in (200, 302)


def test_the_origin_breakdown_is_read_from_the_created_order_index_alone(org_a):
    """The origin and status are carried in `lead_org_created_cover` (leads 0029): the
    leads the painel's origin breakdown reads (the window's two edge days beside the kept
    `lead_origin_days`, leads 0031) need no table read. Most of the organization's leads are
    older than the window, as in a real one; whole-table plans are forbidden, since a small
    table is cheapest to read whole."""
    now = timezone.now()
    old = LeadFactory.create_batch(150, organization=org_a.org, origem="site")
    Lead.objects.filter(pk__in=[lead.pk for lead in old]).update(
        created_at=now - timedelta(days=400)
    )
    LeadFactory.create_batch(3, organization=org_a.org, origem="instagram")
    end = timezone.now()
    scope = DashboardScope(org_a.org.id, end - timedelta(days=30), end, 30)
    with CaptureQueriesContext(connection) as queries:
        assert [row["leads"] for row in origem_breakdown(scope)] == [3]
    (statement,) = [q["sql"] for q in queries.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads")
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + statement)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using lead_org_created_cover" in plan, plan
