"""lead_origin_days, each organization's leads by UTC day of creation and origin (leads 0031):
kept exact on every write path, raced, equal to the GROUP BY over the leads on random data,
and read by the painel's origin breakdown, which equals the reference query on random
histories and windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads import dashboard_selectors, services
from leads.dashboard_selectors import DashboardScope, origem_breakdown, reference_origem_breakdown
from leads.merge import leads_merge
from leads.models import Lead, LeadOriginDay
from organizations.models import Organization
from tests.conftest import make_org
from tests.factories import LeadFactory, OrganizationFactory
from tests.race_support import race

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL triggers; SQLite groups the leads"
)

URL = "/api/v1/leads/"
Counts = dict[tuple[date, str], tuple[int, int]]


def grouped(organization: Organization) -> Counts:
    """The organization's leads by (UTC day of creation, origem): (leads, convertidos)."""
    rows = (
        Lead.objects.filter(organization=organization)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by()
        .values("day", "origem")
        .annotate(n=Count("pk"), won=Count("pk", filter=Q(status="convertido")))
    )
    return {(row["day"], row["origem"]): (row["n"], row["won"]) for row in rows}


def kept(organization: Organization) -> Counts:
    """The kept counts (shards summed), keys without leads left out (their convertidos must
    then sum to 0 too)."""
    rows = (
        LeadOriginDay.objects.filter(organization_id=organization.pk)
        .values("day", "origem")
        .annotate(n=Sum("leads"), won=Sum("convertidos"))
    )
    counts = {(row["day"], row["origem"]): (row["n"], row["won"]) for row in rows}
    assert all(0 <= won <= n for n, won in counts.values()), counts
    return {key: value for key, value in counts.items() if value[0]}


def assert_exact(*organizations: Organization) -> None:
    for organization in organizations:
        assert kept(organization) == grouped(organization), organization.nome


@pytest.mark.django_db
def test_every_write_path_keeps_the_counts_exact(org_a: Any, org_b: Any, client_for: Any) -> None:
    assert_exact(org_a.org, org_b.org)
    client = client_for(org_a.admin)
    created = client.post(URL, {"nome_completo": "Pela API", "origem": "instagram"}, format="json")
    assert created.status_code == 201, created.content
    first, second = LeadFactory.create_batch(2, organization=org_a.org, origem="site")
    Lead.objects.bulk_create(  # one statement, many rows, several days
        [
            Lead(
                organization=org_b.org,
                nome_completo=f"Lote {n}",
                origem=("site", "evento")[n % 2],
                status=("novo", "convertido")[n % 3 == 0],
                created_at=datetime(2026, 3, 1 + n, 23, 30, tzinfo=UTC),
            )
            for n in range(9)
        ]
    )
    assert_exact(org_a.org, org_b.org)

    # the status service: a conversion and a reopening; an origin changed through the API
    services.lead_update(lead=second, actor=org_a.admin, data={"status": "convertido"})
    assert_exact(org_a.org)
    services.lead_reopen(lead=second, actor=org_a.admin, status="negociacao", motivo="Voltou")
    changed = client.patch(f"{URL}{first.pk}/", {"origem": "indicacao"}, format="json")
    assert changed.status_code == 200, changed.content
    assert_exact(org_a.org)

    Lead.objects.filter(organization=org_b.org).update(status="convertido")  # many rows
    Lead.objects.filter(organization=org_b.org, origem="evento").update(
        created_at=datetime(2026, 4, 2, 0, 0, tzinfo=UTC)  # a new day for several leads
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads SET origem = 'whatsapp', created_at = created_at - interval '1 day' "
            "WHERE id = %s",
            [second.pk],
        )
    Lead.objects.filter(pk=second.pk).update(lead_score=40)  # no counted column
    assert_exact(org_a.org, org_b.org)

    moved = Lead.objects.filter(organization=org_b.org).first()
    assert moved is not None
    moved.organization = org_a.org
    moved.save()  # a lead moving between organizations
    leads_merge(target=first, other=second, campos={}, actor=org_a.admin)  # `second` deleted
    client.delete(f"{URL}{created.json()['id']}/")
    assert_exact(org_a.org, org_b.org)
    Lead.objects.filter(organization=org_b.org).delete()
    assert kept(org_b.org) == {}
    assert_exact(org_a.org)


@pytest.mark.django_db
def test_a_changed_id_counts_its_lead_once(org_a: Any) -> None:
    lead = LeadFactory(organization=org_a.org, origem="site")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads SET id = gen_random_uuid(), status = 'convertido' WHERE id = %s",
            [lead.pk],
        )
    assert_exact(org_a.org)
    assert list(kept(org_a.org).values()) == [(1, 1)]


@pytest.mark.django_db
def test_an_organization_deleted_leaves_no_counts_behind(org_a: Any) -> None:
    organization = OrganizationFactory()
    LeadFactory.create_batch(2, organization=organization)
    LeadFactory(organization=org_a.org)
    organization_id = organization.pk
    organization.delete()
    assert not LeadOriginDay.objects.filter(organization_id=organization_id).exists()
    assert_exact(org_a.org)


@pytest.mark.django_db(transaction=True)
def test_racing_creates_conversions_and_deletes_keep_the_counts_exact() -> None:
    """Threads, each its own connection: creates, conversions and deletes at the same time."""
    org = make_org().org
    doomed = [lead.pk for lead in LeadFactory.create_batch(30, organization=org, origem="site")]
    moving = [lead.pk for lead in LeadFactory.create_batch(30, organization=org, origem="site")]

    def create(worker: int) -> None:
        for n in range(15):
            Lead.objects.create(
                organization=org, nome_completo=f"Corrida {worker}-{n}", origem="evento"
            )

    def convert(worker: int) -> None:
        mine = moving[worker::2]
        for start in range(0, len(mine), 3):
            Lead.objects.filter(pk__in=mine[start : start + 3]).update(status="convertido")

    def delete(worker: int) -> None:
        for pk in doomed[worker::2]:
            Lead.objects.filter(pk=pk).delete()

    assert race([create, create, convert, convert, delete, delete]) == []
    totals: dict[str, tuple[int, int]] = {}
    for (_, origem), (n, won) in kept(org).items():
        before = totals.get(origem, (0, 0))
        totals[origem] = (before[0] + n, before[1] + won)
    assert totals == {"evento": (30, 0), "site": (30, 30)}
    assert_exact(org)


_origens = st.sampled_from(["site", "instagram", "evento"])
_statuses = st.sampled_from(["novo", "qualificado", "convertido"])
# Hours before "now": on and around UTC midnights and the windows' edges, and arbitrary ones.
_ages = st.one_of(
    st.sampled_from([0.01, 1.0, 23.99, 24.0, 24.01, 167.99, 168.0, 720.0, 720.01, 8759.9]),
    st.floats(min_value=0.001, max_value=9000),
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leads=st.lists(st.tuples(_ages, _origens, _statuses), min_size=0, max_size=10),
    changes=st.lists(
        st.tuples(
            st.integers(0, 9), st.none() | _origens, st.none() | _statuses, st.none() | _ages
        ),
        max_size=5,
    ),
    deletes=st.lists(st.integers(0, 9), max_size=2),
    clock=st.sampled_from([0.0, 0.5, 11.99, 12.0, 23.5]),
)
@pytest.mark.django_db
def test_the_kept_counts_and_the_breakdown_are_the_leads_own(
    org_a: Any,
    org_b: Any,
    leads: list[Any],
    changes: list[Any],
    deletes: list[int],
    clock: float,
) -> None:
    """On random leads, after random changes of origin, status and creation time (several
    leads at once) and deletes, the kept counts are the leads' own in both organizations, and
    the painel's breakdown is the reference query's for every period and scope."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    now = today + timedelta(hours=clock)
    with transaction.atomic():
        made = [
            Lead.objects.create(
                organization=org_a.org if n % 4 else org_b.org,
                nome_completo=f"L{n}",
                origem=origem,
                status=status,
                created_at=now - timedelta(hours=age),
            )
            for n, (age, origem, status) in enumerate(leads)
        ]
        for index, origem, status, age in changes:
            if index >= len(made):
                continue
            update: dict[str, Any] = {}
            if origem is not None:
                update["origem"] = origem
            if status is not None:
                update["status"] = status
            if age is not None:
                update["created_at"] = now - timedelta(hours=age)
            if update:
                Lead.objects.filter(pk__in=[lead.pk for lead in made[index::3]]).update(**update)
        Lead.objects.filter(pk__in=[made[i].pk for i in deletes if i < len(made)]).delete()
        assert_exact(org_a.org, org_b.org)
        for membership, closer_id in (
            (org_a.admin, None),
            (org_a.gestor, org_a.closer.pk),
            (org_a.sdr, None),
        ):
            for period in (1, 7, 30, 365):
                scope = dashboard_selectors.dashboard_scope(
                    membership=membership, period_days=period, closer_id=closer_id, now=now
                )
                assert origem_breakdown(scope) == reference_origem_breakdown(scope), period
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_whole_organizations_breakdown_reads_the_kept_days_and_the_edges(org_a: Any) -> None:
    """Leads on the window's first (partial) day, on a full day inside it and on its last day:
    the full day is read from lead_origin_days (a figure changed there moves the result), the
    edges from the leads; one statement."""
    end = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
    scope = DashboardScope(org_a.org.pk, end - timedelta(days=30), end, 30)
    for moment in (
        scope.start - timedelta(minutes=1),  # before the window: not counted
        scope.start + timedelta(minutes=1),
        datetime(2026, 6, 10, 12, 0, tzinfo=UTC),
        end,
        end + timedelta(minutes=1),  # after it: not counted
    ):
        LeadFactory(organization=org_a.org, origem="site", created_at=moment)
    with CaptureQueriesContext(connection) as queries:
        figures = origem_breakdown(scope)
    assert len(queries.captured_queries) == 1
    assert [(row["origem"], row["leads"]) for row in figures] == [("site", 3)]
    assert figures == reference_origem_breakdown(scope)
    LeadOriginDay.objects.filter(organization_id=org_a.org.pk, day=date(2026, 6, 10)).update(
        leads=5
    )
    assert origem_breakdown(scope)[0]["leads"] == 7  # the kept day, read
    LeadOriginDay.objects.filter(organization_id=org_a.org.pk, day=scope.start.date()).update(
        leads=50
    )
    assert origem_breakdown(scope)[0]["leads"] == 7  # the first day is partial: its leads
