"""lead_status_totals, the per-organization count and value of each status (leads 0028): kept
exact on every write path, raced, equal to the GROUP BY over the leads on random data, and read
by the pipeline board for an organization's whole lead table without grouping its leads."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads import services
from leads.admin_board import column_totals
from leads.merge import leads_merge
from leads.models import PIPELINE_ORDER, Lead, LeadStatusTotal
from organizations.models import Organization
from tests.admin_support import login
from tests.conftest import make_org
from tests.factories import LeadFactory, OrganizationFactory
from tests.race_support import race

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL triggers; SQLite groups the leads"
)

URL = "/api/v1/leads/"
BOARD = "/admin/leads/lead/board/"

Totals = dict[str, tuple[int, Decimal]]


def grouped(organization: Organization) -> Totals:
    """The organization's leads grouped by status: (count, summed valor_potencial or 0)."""
    rows = (
        Lead.objects.filter(organization=organization)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"), total=Sum("valor_potencial"))
    )
    return {row["status"]: (row["n"], row["total"] or Decimal("0")) for row in rows}


def kept(organization: Organization) -> Totals:
    """The kept totals of each status (shards summed), statuses without leads left out (their
    value must then sum to 0 too)."""
    rows = (
        LeadStatusTotal.objects.filter(organization_id=organization.pk)
        .values("status")
        .annotate(n=Sum("leads"), total=Sum("valor"))
    )
    totals = {row["status"]: (row["n"], row["total"]) for row in rows}
    assert all(n >= 0 for n, _ in totals.values()), totals
    assert all(total == 0 for n, total in totals.values() if n == 0), totals
    return {status: (n, total) for status, (n, total) in totals.items() if n}


def assert_exact(*organizations: Organization) -> None:
    """The kept totals are the leads' own, and the board's kept read says the same."""
    for organization in organizations:
        expected = grouped(organization)
        assert kept(organization) == expected, organization.nome
        leads = Lead.objects.filter(organization=organization)
        assert column_totals(leads, organization.pk) == expected
        assert column_totals(leads) == expected


@pytest.mark.django_db
def test_every_write_path_keeps_the_totals_exact(org_a: Any, org_b: Any, client_for: Any) -> None:
    assert_exact(org_a.org, org_b.org)
    client = client_for(org_a.admin)
    created = client.post(
        URL,
        {"nome_completo": "Pela API", "status": "qualificado", "valor_potencial": "1234.56"},
        format="json",
    )
    assert created.status_code == 201, created.content
    first, second = LeadFactory.create_batch(2, organization=org_a.org, status="novo")
    LeadFactory(organization=org_a.org, status="novo", valor_potencial=None)  # null valor
    Lead.objects.bulk_create(  # one statement, many rows
        [
            Lead(
                organization=org_b.org,
                nome_completo=f"Lote {n}",
                status=("novo", "agendado", "negociacao")[n % 3],
                valor_potencial=Decimal(n * 100) if n % 2 else None,
            )
            for n in range(9)
        ]
    )
    assert_exact(org_a.org, org_b.org)
    assert kept(org_a.org) == {
        "novo": (3, Decimal("30000.00")),
        "qualificado": (1, Decimal("1234.56")),
    }

    # the status service: an ordinary move, a conversion, a reopening, a loss (with a reason)
    services.lead_update(lead=first, actor=org_a.admin, data={"status": "agendado"})
    services.lead_update(lead=second, actor=org_a.admin, data={"status": "convertido"})
    assert_exact(org_a.org, org_b.org)
    services.lead_reopen(lead=second, actor=org_a.admin, status="negociacao", motivo="Voltou")
    services.lead_update(
        lead=first, actor=org_a.admin, data={"status": "perdido", "motivo_perda": "Sem verba"}
    )
    services.lead_update(lead=second, actor=org_a.admin, data={"valor_potencial": None})
    assert_exact(org_a.org, org_b.org)

    Lead.objects.filter(pk=second.pk).update(status="agendado", valor_potencial=Decimal("7.5"))
    Lead.objects.filter(organization=org_b.org).update(status="em_contato")  # many rows
    Lead.objects.filter(organization=org_b.org, status="em_contato").update(
        valor_potencial=Decimal("10.00")  # a value change within one status
    )
    assert_exact(org_a.org, org_b.org)
    assert kept(org_b.org) == {"em_contato": (9, Decimal("90.00"))}

    second.refresh_from_db()
    second.status, second.valor_potencial = "qualificado", Decimal("99.99")
    Lead.objects.bulk_update([second], ["status", "valor_potencial"])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads SET status = 'negociacao', valor_potencial = NULL WHERE id = %s",
            [first.pk],
        )
    assert_exact(org_a.org, org_b.org)

    Lead.objects.filter(pk=second.pk).update(lead_score=40)  # no counted column
    second.refresh_from_db()
    second.save()  # every column written, nothing counted changed
    upserted = Lead(
        pk=second.pk, organization=org_a.org, nome_completo="Nova", status="agendado"
    )  # INSERT ... ON CONFLICT DO UPDATE: an update, no insert
    Lead.objects.bulk_create(
        [upserted], update_conflicts=True, unique_fields=["id"], update_fields=["status"]
    )
    assert_exact(org_a.org, org_b.org)

    moved = Lead.objects.filter(organization=org_b.org).first()
    assert moved is not None
    moved.organization = org_a.org
    moved.save()  # a lead moving between organizations, with its status and value
    Lead.objects.filter(organization=org_b.org)[:1].get().save()  # an ordinary save
    assert_exact(org_a.org, org_b.org)
    leads_merge(
        target=first, other=second, campos={"valor_potencial": "outro"}, actor=org_a.admin
    )  # the other lead deleted, the target taking its value
    assert_exact(org_a.org, org_b.org)

    client.delete(f"{URL}{created.json()['id']}/")
    moved.delete()
    Lead.objects.filter(organization=org_b.org, nome_completo__endswith="1").delete()
    assert_exact(org_a.org, org_b.org)
    Lead.objects.filter(organization=org_b.org).delete()
    assert_exact(org_a.org, org_b.org)
    assert kept(org_b.org) == {}


@pytest.mark.django_db
def test_a_changed_id_counts_its_lead_once(org_a: Any) -> None:
    """A row whose id changes has no pair in the UPDATE's transition tables: its old row counts
    out and its new row in, once each."""
    lead = LeadFactory(organization=org_a.org, status="agendado")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads SET id = gen_random_uuid(), status = 'negociacao' WHERE id = %s",
            [lead.pk],
        )
        cursor.execute(
            "UPDATE leads SET id = gen_random_uuid() WHERE organization_id = %s", [org_a.org.pk]
        )
    assert_exact(org_a.org)
    assert kept(org_a.org) == {"negociacao": (1, Decimal("15000.00"))}


@pytest.mark.django_db
def test_an_organization_deleted_leaves_no_totals_behind(org_a: Any) -> None:
    organization = OrganizationFactory()
    LeadFactory.create_batch(2, organization=organization)
    LeadFactory(organization=org_a.org)
    organization_id = organization.pk
    organization.delete()  # its leads go first, then its totals
    assert not LeadStatusTotal.objects.filter(organization_id=organization_id).exists()
    assert_exact(org_a.org)


@pytest.mark.django_db
def test_a_status_left_empty_is_no_column_total(org_a: Any) -> None:
    lead = LeadFactory(organization=org_a.org, status="agendado")
    Lead.objects.filter(pk=lead.pk).update(status="novo")
    assert LeadStatusTotal.objects.filter(organization_id=org_a.org.pk, status="agendado").exists()
    leads = Lead.objects.filter(organization=org_a.org)
    assert column_totals(leads, org_a.org.pk) == {"novo": (1, Decimal("15000.00"))}
    assert column_totals(Lead.objects.none(), OrganizationFactory().pk) == {}


@pytest.mark.django_db(transaction=True)
def test_racing_creates_moves_and_deletes_keep_the_totals_exact() -> None:
    """Threads, each its own connection: creates, status changes and deletes at the same time."""
    org = make_org().org
    doomed = [lead.pk for lead in LeadFactory.create_batch(30, organization=org, status="novo")]
    moving = [lead.pk for lead in LeadFactory.create_batch(30, organization=org, status="novo")]

    def create(worker: int) -> None:
        for n in range(15):
            Lead.objects.create(
                organization=org,
                nome_completo=f"Corrida {worker}-{n}",
                status=("agendado", "negociacao")[n % 2],
                valor_potencial=Decimal(10 + worker) if n % 3 else None,
            )

    def move(worker: int) -> None:
        mine = moving[worker::2]
        for start in range(0, len(mine), 3):  # a few leads per statement
            Lead.objects.filter(pk__in=mine[start : start + 3]).update(
                status=("qualificado", "perdido")[worker], valor_potencial=Decimal(1)
            )

    def delete(worker: int) -> None:
        for pk in doomed[worker::2]:
            Lead.objects.filter(pk=pk).delete()

    work = [create, create, move, move, delete, delete]
    assert race(work) == []
    # creates: n odd -> negociacao (7 per worker), even -> agendado (8); valor when n % 3
    assert kept(org) == {
        "agendado": (16, Decimal(10 * 5 + 11 * 5)),
        "negociacao": (14, Decimal(10 * 5 + 11 * 5)),
        "qualificado": (15, Decimal(15)),
        "perdido": (15, Decimal(15)),
    }
    assert_exact(org)


_statuses = st.sampled_from(["novo", "em_contato", "agendado", "convertido", "perdido"])
_valores = st.one_of(
    st.none(),
    st.sampled_from([Decimal("0"), Decimal("0.01"), Decimal("15000.00"), Decimal("99999.99")]),
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leads=st.lists(st.tuples(_statuses, _valores), min_size=0, max_size=8),
    changes=st.lists(
        st.tuples(st.integers(0, 7), st.none() | _statuses, st.none() | _valores, st.booleans()),
        max_size=5,
    ),
    deletes=st.lists(st.integers(0, 7), max_size=2),
)
@pytest.mark.django_db
def test_the_kept_totals_are_the_grouped_totals(
    org_a: Any, org_b: Any, leads: list[Any], changes: list[Any], deletes: list[int]
) -> None:
    """On random statuses and values, after random changes of status and value (some moving the
    lead to the other organization, some changing several leads at once) and deletes, the kept
    totals are the leads' own, in both organizations."""
    with transaction.atomic():
        made = [
            Lead.objects.create(
                organization=org_a.org if n % 3 else org_b.org,
                nome_completo=f"L{n}",
                status=status,
                valor_potencial=valor,
            )
            for n, (status, valor) in enumerate(leads)
        ]
        for index, status, valor, move in changes:
            if index >= len(made):
                continue
            update: dict[str, Any] = {"valor_potencial": valor}
            if status is not None:
                update["status"] = status
            targets = Lead.objects.filter(pk__in=[lead.pk for lead in made[index::3]])
            if move:
                lead = made[index]
                lead.organization = org_b.org if lead.organization == org_a.org else org_a.org
                update["organization"] = lead.organization
                targets = Lead.objects.filter(pk=lead.pk)
            targets.update(**update)
        Lead.objects.filter(pk__in=[made[i].pk for i in deletes if i < len(made)]).delete()
        assert_exact(org_a.org, org_b.org)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_every_trigger_on_leads_counts_a_whole_statement_at_once() -> None:
    """Row-level updates grow quadratically on big statements (leads 0026's docstring)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, (tgtype & 1) = 1 FROM pg_trigger "
            "WHERE tgrelid = 'leads'::regclass AND tgname LIKE 'lead_status_totals%'"
        )
        triggers = dict(cursor.fetchall())
    assert triggers == {
        "lead_status_totals_insert": False,
        "lead_status_totals_delete": False,
        "lead_status_totals_update": False,
    }


# --- the board -------------------------------------------------------------------------------


def _board_leads(org: Any) -> None:
    for n, status in enumerate(["novo", "novo", "agendado", "negociacao", "perdido", "novo"]):
        LeadFactory(
            organization=org.org,
            status=status,
            temperatura=("quente", "frio")[n % 2],
            closer=org.closer if n % 3 == 0 else None,
            valor_potencial=None if n == 3 else Decimal(1000 * (n + 1)),
        )


def _figures(html: str) -> dict[str, tuple[int, str]]:
    """Each column's count and sum, as the page shows them (data-count, data-sum)."""
    found = re.findall(
        r'<section class="bo-column" data-status="([a-z_]+)".*?'
        r'data-count="(\d+)".*?data-sum="([^"]*)"',
        html,
        re.S,
    )
    return {status: (int(n), total) for status, n, total in found}


def _aggregated(leads: Any) -> dict[str, tuple[int, str]]:
    """The figures the board showed before the kept totals: the aggregate over its leads."""
    totals = column_totals(leads)
    return {
        status: (n, str(total))
        for status, (n, total) in (
            (status, totals.get(status, (0, Decimal("0")))) for status in PIPELINE_ORDER
        )
    }


def _grouped_over_leads(sql: str) -> bool:
    return bool(re.search(r'FROM "leads".*GROUP BY', sql, re.S))


def _board(client: Any, params: dict[str, str] | None = None) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BOARD, params or {})
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db
def test_a_managers_whole_board_reads_the_kept_totals(org_a: Any, org_b: Any) -> None:
    _board_leads(org_a)
    _board_leads(org_b)
    Lead.objects.filter(organization=org_a.org, status="perdido").update(status="agendado")
    html, queries = _board(login(org_a.admin))
    assert [sql for sql in queries if "lead_status_totals" in sql] != []
    assert [sql for sql in queries if _grouped_over_leads(sql)] == []
    figures = _figures(html)
    assert figures == _aggregated(Lead.objects.filter(organization=org_a.org))
    assert figures["novo"] == (3, "9000.00")  # 1000 + 2000 + 6000
    assert figures["agendado"] == (2, "8000.00")  # 3000 + the former perdido's 5000
    assert figures["negociacao"] == (1, "0")  # no value: the aggregate's Decimal("0")
    assert figures["perdido"] == (0, "0")  # its rows stay at 0, no column total


@pytest.mark.django_db
def test_a_closers_and_a_filtered_board_aggregate_their_leads(org_a: Any) -> None:
    _board_leads(org_a)
    leads = Lead.objects.filter(organization=org_a.org)
    # a closer lands on their own leads (the default closer filter)
    html, queries = _board(login(org_a.closer))
    assert [sql for sql in queries if "lead_status_totals" in sql] == []
    assert [sql for sql in queries if _grouped_over_leads(sql)] != []
    assert _figures(html) == _aggregated(leads.filter(closer=org_a.closer))
    # a manager's board filtered by temperature
    html, queries = _board(login(org_a.admin), {"temperatura": "quente"})
    assert [sql for sql in queries if "lead_status_totals" in sql] == []
    assert [sql for sql in queries if _grouped_over_leads(sql)] != []
    assert _figures(html) == _aggregated(leads.filter(temperatura="quente"))
    # a seller clearing the filter where sellers see only their leads
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    html, queries = _board(login(org_a.closer), {"closer_id": "", "sdr_id": ""})
    assert [sql for sql in queries if "lead_status_totals" in sql] == []
    assert _figures(html) == _aggregated(leads.filter(closer=org_a.closer))
    # ... and where they see every lead: the whole table, kept
    org_a.org.visibilidade_leads = Organization.LeadVisibility.TODOS
    org_a.org.save()
    html, queries = _board(login(org_a.closer), {"closer_id": "", "sdr_id": ""})
    assert [sql for sql in queries if _grouped_over_leads(sql)] == []
    assert _figures(html) == _aggregated(leads)
