"""lead_tag_counts, the per-organization count of each tag (leads 0026): kept exact on every
write path, raced, equal to the scan of the leads' tags on random data, and read by
`known_tags(..., organization_id=...)` (the tag filter's choices) without touching `leads`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import JSONField, Sum, Value
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads import selectors, services
from leads.merge import leads_merge
from leads.models import Lead, LeadTagCount
from organizations.models import Organization
from tests.conftest import make_org
from tests.factories import LeadFactory, OrganizationFactory
from tests.race_support import race

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL triggers; SQLite scans the leads"
)

URL = "/api/v1/leads/"


def counted(organization: Organization) -> Counter[str]:
    """Each tag of the organization's leads: how many leads carry it (string elements of an
    array, each once per lead), counted in Python."""
    tags: Counter[str] = Counter()
    for value in Lead.objects.filter(organization=organization).values_list("tags", flat=True):
        if isinstance(value, list):
            tags.update({tag for tag in value if isinstance(tag, str)})
    return tags


def kept(organization: Organization) -> Counter[str]:
    """The kept count of each tag (its shards summed), tags at 0 left out."""
    rows = (
        LeadTagCount.objects.filter(organization_id=organization.pk)
        .values("tag")
        .annotate(n=Sum("total"))
    )
    totals = {row["tag"]: row["n"] for row in rows}
    assert all(n >= 0 for n in totals.values()), totals
    return Counter({tag: n for tag, n in totals.items() if n})


def assert_exact(*organizations: Organization, scan: bool = True) -> None:
    """The kept counts are the leads' own, and the kept choices the scanned ones (`scan`: the
    scan expands arrays only; it fails on other `tags` values)."""
    for organization in organizations:
        expected = counted(organization)
        assert kept(organization) == expected, organization.nome
        leads = Lead.objects.filter(organization=organization)
        choices = selectors.known_tags(leads, organization_id=organization.pk)
        assert choices == sorted(expected)
        if scan:
            assert choices == selectors.known_tags(leads)


@pytest.mark.django_db
def test_every_write_path_keeps_the_counts_exact(org_a: Any, org_b: Any, client_for: Any) -> None:
    assert_exact(org_a.org, org_b.org)
    client = client_for(org_a.admin)
    created = client.post(
        URL, {"nome_completo": "Pela API", "tags": ["VIP", "evento"]}, format="json"
    )
    assert created.status_code == 201, created.content
    first, second = LeadFactory.create_batch(2, organization=org_a.org, tags=["vip", "quente"])
    Lead.objects.bulk_create(  # one statement, many rows
        [
            Lead(organization=org_b.org, nome_completo=f"Lote {n}", tags=[f"t{n % 3}"])
            for n in range(9)
        ]
    )
    assert_exact(org_a.org, org_b.org)
    assert kept(org_a.org) == {"vip": 3, "quente": 2, "evento": 1}

    services.lead_update(lead=first, actor=org_a.admin, data={"tags": ["Frio", "vip"]})
    Lead.objects.filter(pk=second.pk).update(tags=["quente", "retorno"])
    assert_exact(org_a.org, org_b.org)
    Lead.objects.filter(organization=org_b.org).update(tags=["t0", "lote"])  # many rows
    second.refresh_from_db()
    second.tags = ["retorno"]
    Lead.objects.bulk_update([second], ["tags"])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads SET tags = %s::jsonb WHERE id = %s", ['["sql", "vip"]', first.pk]
        )
    assert_exact(org_a.org, org_b.org)

    upserted = Lead(pk=second.pk, organization=org_a.org, nome_completo="Nova", tags=["upsert"])
    Lead.objects.bulk_create(  # INSERT ... ON CONFLICT DO UPDATE: an update, no insert
        [upserted], update_conflicts=True, unique_fields=["id"], update_fields=["tags"]
    )
    assert_exact(org_a.org, org_b.org)
    assert kept(org_a.org)["upsert"] == 1

    repeated = LeadFactory(organization=org_a.org, tags=["eco", "eco", "vip", "eco"])
    assert kept(org_a.org)["eco"] == 1  # once per lead
    Lead.objects.filter(pk=repeated.pk).update(tags=["eco", "eco"])
    Lead.objects.filter(pk=repeated.pk).update(lead_score=40)  # tags untouched
    repeated.save()  # every column written, tags unchanged
    assert_exact(org_a.org, org_b.org)

    moved = Lead.objects.filter(organization=org_b.org).first()
    assert moved is not None
    moved.organization = org_a.org
    moved.save()  # a lead moving between organizations, with its tags
    leads_merge(target=first, other=second, campos={"tags": "outro"}, actor=org_a.admin)
    assert_exact(org_a.org, org_b.org)

    client.delete(f"{URL}{created.json()['id']}/")
    repeated.delete()
    Lead.objects.filter(organization=org_b.org, nome_completo__endswith="1").delete()
    assert_exact(org_a.org, org_b.org)
    Lead.objects.filter(organization=org_b.org).delete()
    assert_exact(org_a.org, org_b.org)
    assert kept(org_b.org) == {}


@pytest.mark.django_db
def test_tags_that_are_not_an_array_of_strings_count_nothing_and_never_fail(org_a: Any) -> None:
    lead, other = LeadFactory.create_batch(2, organization=org_a.org, tags=["vip"])
    Lead.objects.filter(pk=lead.pk).update(tags=Value(None, JSONField()))  # JSON null
    assert_exact(org_a.org, scan=False)
    assert kept(org_a.org) == {"vip": 1}
    Lead.objects.filter(pk=lead.pk).update(tags={"vip": True})  # an object
    Lead.objects.filter(pk=other.pk).update(tags="vip")  # a string
    assert_exact(org_a.org, scan=False)
    assert kept(org_a.org) == {}
    LeadFactory(organization=org_a.org, tags={"novo": ["x"]})
    LeadFactory(organization=org_a.org, tags=[1, None, {"a": "b"}, ["c"], "texto"])
    Lead.objects.filter(pk=lead.pk).update(tags=["vip", 2])  # an object back to an array
    assert_exact(org_a.org, scan=False)
    assert kept(org_a.org) == {"vip": 1, "texto": 1}
    Lead.objects.filter(organization=org_a.org).delete()
    assert_exact(org_a.org)
    assert kept(org_a.org) == {}


@pytest.mark.django_db
def test_an_organization_deleted_leaves_no_tag_counts_behind(org_a: Any) -> None:
    organization = OrganizationFactory()
    LeadFactory.create_batch(2, organization=organization, tags=["vip"])
    LeadFactory(organization=org_a.org, tags=["vip"])
    organization_id = organization.pk
    organization.delete()  # its leads go first, then its counts
    assert not LeadTagCount.objects.filter(organization_id=organization_id).exists()
    assert_exact(org_a.org)


@pytest.mark.django_db
def test_the_kept_choices_read_no_lead_and_match_the_scan(org_a: Any, org_b: Any) -> None:
    tags = ["zebra", "Ábaco", "abaco", "B", "b", "", "evento-sp", "a b", "ção", "Zeta"]
    for n, tag in enumerate(tags):
        LeadFactory(organization=org_a.org, tags=[tag, tags[n - 1]])
    LeadFactory(organization=org_b.org, tags=["outra"])
    leads = Lead.objects.filter(organization=org_a.org)
    with CaptureQueriesContext(connection) as queries:
        choices = selectors.known_tags(leads, organization_id=str(org_a.org.pk))
    assert [q["sql"] for q in queries.captured_queries if "leads" in q["sql"]] == []
    assert len(queries.captured_queries) == 1
    assert choices == selectors.known_tags(leads)  # the same order: both sort the text
    assert set(choices) == set(tags)
    limited = selectors.known_tags(leads, limit=3, organization_id=org_a.org.pk)
    assert limited == selectors.known_tags(leads, limit=3) == choices[:3]
    # a tag no lead carries any more is no choice (its rows stay, summed to 0)
    Lead.objects.filter(organization=org_a.org).update(tags=["só"])
    assert LeadTagCount.objects.filter(organization_id=org_a.org.pk, tag="zebra").exists()
    assert selectors.known_tags(leads, organization_id=org_a.org.pk) == ["só"]
    assert selectors.known_tags(Lead.objects.none(), organization_id=OrganizationFactory().pk) == []


@pytest.mark.django_db(transaction=True)
def test_racing_creates_deletes_and_retags_keep_the_counts_exact() -> None:
    """Threads, each its own connection: tagged creates, deletes and re-tags at the same time."""
    org = make_org().org
    doomed = [lead.pk for lead in LeadFactory.create_batch(30, organization=org, tags=["a", "b"])]
    retagged = [lead.pk for lead in LeadFactory.create_batch(30, organization=org, tags=["b"])]

    def create(worker: int) -> None:
        for n in range(15):
            tags = ["a", "c", "b"] if n % 2 else ["c", f"w{worker}"]
            Lead.objects.create(organization=org, nome_completo=f"Corrida {n}", tags=tags)

    def retag(worker: int) -> None:
        mine = retagged[worker::2]
        for start in range(0, len(mine), 3):  # a few leads per statement
            Lead.objects.filter(pk__in=mine[start : start + 3]).update(
                tags=["c", "a", f"w{worker}"]
            )

    def delete(worker: int) -> None:
        for pk in doomed[worker::2]:
            Lead.objects.filter(pk=pk).delete()

    work = [create, create, retag, retag, delete, delete]
    assert race(work) == []
    assert kept(org) == {"a": 30 + 14, "b": 14, "c": 30 + 30, "w0": 8 + 15, "w1": 8 + 15}
    assert_exact(org)


# Few tags (case and accents apart), so that random lists share and repeat them.
_tags = st.lists(
    st.sampled_from(["vip", "VIP", "ábaco", "abaco", "z", "", "evento sp"]), max_size=4
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leads=st.lists(_tags, min_size=0, max_size=8),
    retags=st.lists(st.tuples(st.integers(0, 7), _tags, st.booleans()), max_size=4),
    deletes=st.lists(st.integers(0, 7), max_size=2),
)
@pytest.mark.django_db
def test_the_kept_choices_are_the_scanned_choices(
    org_a: Any, org_b: Any, leads: list[Any], retags: list[Any], deletes: list[int]
) -> None:
    """On random tag lists, after random re-tags (some moving the lead to the other
    organization) and deletes, the kept choices and counts are the leads' own, in both
    organizations."""
    with transaction.atomic():
        made = [
            Lead.objects.create(
                organization=org_a.org if n % 3 else org_b.org, nome_completo=f"L{n}", tags=tags
            )
            for n, tags in enumerate(leads)
        ]
        for index, tags, move in retags:
            if index < len(made):
                changes: dict[str, Any] = {"tags": tags}
                if move:
                    changes["organization"] = (
                        org_b.org if made[index].organization == org_a.org else org_a.org
                    )
                    made[index].organization = changes["organization"]
                Lead.objects.filter(pk=made[index].pk).update(**changes)
        Lead.objects.filter(pk__in=[made[i].pk for i in deletes if i < len(made)]).delete()
        assert_exact(org_a.org, org_b.org)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_every_trigger_on_leads_counts_a_whole_statement_at_once() -> None:
    """Row by row, a statement re-tagging 19,000 leads upserted the same count rows 19,000
    times in one transaction: 16 s, quadratic (leads 0026's docstring). Statement-level: one
    upsert per statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, (tgtype & 1) = 1 FROM pg_trigger "
            "WHERE tgrelid = 'leads'::regclass AND tgname LIKE 'lead_tag_counts%'"
        )
        triggers = dict(cursor.fetchall())
    assert triggers == {
        "lead_tag_counts_insert": False,
        "lead_tag_counts_delete": False,
        "lead_tag_counts_update": False,
    }
