"""lead_search_rows, the narrow copy of each lead's searched text (leads 0025): kept exact on
every write path, raced, equal to the leads' own search on random data, and read by the list
for the total of a search-only list (leads.selectors.kept_total_for)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.api import pagination
from leads import selectors, services
from leads.merge import leads_merge
from leads.models import Lead, LeadSearchRow
from organizations.models import Organization
from tests.conftest import make_org
from tests.factories import LeadFactory, OrganizationFactory
from tests.race_support import race

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite's triggers: test_lead_list_speed"
)

URL = "/api/v1/leads/"


def assert_mirrored() -> None:
    """One row per lead, with its organization, folded text and phone: nothing more."""
    leads = Lead.objects.values_list("pk", "organization_id", "search_fold", "telefone")
    rows = LeadSearchRow.objects.values_list(
        "lead_id", "organization_id", "search_fold", "telefone"
    )
    assert sorted(rows, key=str) == sorted(leads, key=str)


def _lead_scans(queries: CaptureQueriesContext) -> list[str]:
    """Statements counting leads (the page's own statement counts interactions, not leads)."""
    return [
        q["sql"] for q in queries.captured_queries if 'COUNT(*) FROM (SELECT "leads"' in q["sql"]
    ]


@pytest.mark.django_db
def test_every_write_path_keeps_the_rows(org_a: Any, org_b: Any, client_for: Any) -> None:
    client = client_for(org_a.admin)
    created = client.post(
        URL, {"nome_completo": "Sérgio Dias", "telefone": "11987654321"}, format="json"
    ).json()
    first, second = LeadFactory.create_batch(2, organization=org_a.org)
    Lead.objects.bulk_create(
        [Lead(organization=org_b.org, nome_completo=f"Açaí {n}") for n in range(5)]
    )
    assert_mirrored()
    assert LeadSearchRow.objects.filter(organization_id=org_b.org.pk).count() == 5

    services.lead_update(lead=first, actor=org_a.admin, data={"nome_completo": "Érica Souza"})
    Lead.objects.filter(pk=second.pk).update(telefone="21912345678")  # the phone alone
    assert_mirrored()
    Lead.objects.filter(pk=second.pk).update(lead_score=40)  # nothing searched
    second.refresh_from_db()
    second.email = "NOVO@Exemplo.com.br"
    Lead.objects.bulk_update([second], ["email"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE leads SET empresa = %s WHERE id = %s", ["São João", first.pk])
    assert_mirrored()
    folded = LeadSearchRow.objects.get(pk=first.pk).search_fold
    assert folded is not None
    assert (folded[:11], folded[-8:]) == ("erica souza", "sao joao")

    moved = Lead.objects.filter(organization=org_b.org).first()
    assert moved is not None
    moved.organization = org_a.org
    moved.save()  # a lead moving between organizations
    leads_merge(target=first, other=second, campos={"email": "outro"}, actor=org_a.admin)
    client.delete(f"{URL}{created['id']}/")
    Lead.objects.filter(organization=org_b.org, nome_completo__endswith="1").delete()
    assert_mirrored()

    organization = OrganizationFactory()
    LeadFactory.create_batch(2, organization=organization)
    organization.delete()  # its leads go with it, and their rows
    assert_mirrored()


@pytest.mark.django_db(transaction=True)
def test_racing_writes_keep_the_rows() -> None:
    """Threads, each its own connection: creates, renames and deletes at the same time."""
    org = make_org().org
    doomed = [lead.pk for lead in LeadFactory.create_batch(30, organization=org)]
    renamed = [lead.pk for lead in LeadFactory.create_batch(30, organization=org)]

    def create(worker: int) -> None:
        for n in range(10):
            Lead.objects.create(organization=org, nome_completo=f"Corrida {worker}-{n}")

    def rename(worker: int) -> None:
        for pk in renamed[worker::2]:
            Lead.objects.filter(pk=pk).update(nome_completo=f"Renomeado {worker}")

    def delete(worker: int) -> None:
        for pk in doomed[worker::2]:
            Lead.objects.filter(pk=pk).delete()

    work = [create, create, rename, rename, delete, delete]
    assert race(work) == []
    assert_mirrored()
    assert selectors.lead_total(org.pk, "corrida") == 20
    assert selectors.lead_total(org.pk, "renomeado") == 30


# Names from few letters (with accents and case), so that random terms match some of them.
_letters = st.sampled_from("aAáÁeéioóuçÇ s-")
_names = st.text(_letters, min_size=0, max_size=8)
_phones = st.one_of(st.none(), st.from_regex(r"\A[1-9][0-9]{3,7}\Z"))
_terms = st.one_of(st.text(_letters, min_size=0, max_size=3), st.from_regex(r"\A[0-9]{1,4}\Z"))


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leads=st.lists(st.tuples(_names, _names, _phones), min_size=0, max_size=8),
    renames=st.lists(st.tuples(st.integers(0, 7), _names, _phones), max_size=3),
    terms=st.lists(_terms, min_size=1, max_size=4),
)
@pytest.mark.django_db
def test_the_kept_search_total_is_the_search_count(
    org_a: Any, org_b: Any, leads: list[Any], renames: list[Any], terms: list[str]
) -> None:
    """On random names, companies and phones, and after random renames and new phones, the count in
    lead_search_rows equals the leads' own search (the list's rows) for any term."""
    with transaction.atomic():
        made = []
        for n, (name, company, phone) in enumerate(leads):
            made.append(
                Lead.objects.create(
                    organization=org_a.org if n % 3 else org_b.org,
                    nome_completo=name,
                    empresa=company,
                    telefone=None if phone is None else f"{phone}{n}",
                )
            )
        for n, (index, name, phone) in enumerate(renames):
            if index < len(made):
                lead = Lead.objects.filter(pk=made[index].pk)
                lead.update(nome_completo=name)
                lead.update(telefone=None if phone is None else f"{phone}{n + 10}")
        for organization in (org_a.org, org_b.org):
            for term in terms:
                own = selectors.lead_search(Lead.objects.filter(organization=organization), term)
                assert selectors.lead_total(organization.pk, term) == own.count(), term
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_search_only_list_counts_its_matches_in_the_narrow_rows(
    org_a: Any, org_b: Any, client_for: Any, monkeypatch: Any
) -> None:
    LeadFactory(organization=org_a.org, nome_completo="Ana Silva", telefone="11987650001")
    LeadFactory(organization=org_a.org, nome_completo="João SILVA", status="qualificado")
    LeadFactory(organization=org_a.org, nome_completo="Rita Souza", telefone="11987650002")
    LeadFactory(organization=org_b.org, nome_completo="Outra Silva")
    client = client_for(org_a.admin)

    def read(params: dict[str, Any]) -> tuple[int, list[str], list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, params)
        assert response.status_code == 200, response.content
        statements = [q["sql"] for q in queries.captured_queries]
        return response.json()["pagination"]["total"], statements, _lead_scans(queries)

    # The page and the kept search total in one statement; no count of leads.
    total, statements, scans = read({"search": "silva", "limit": 1})
    assert (total, len(statements), scans) == (2, 2, [])
    assert "lead_search_rows" in statements[-1]
    assert "WITH ORDINALITY" in statements[-1]
    # the phone's digits, accents ignored, and no match at all (no row: read apart)
    assert read({"search": "98765"})[0] == 2
    assert read({"search": "JOÃO"})[0] == 1
    assert read({"search": "ninguém"})[:1] + read({"search": "ninguém"})[2:] == (0, [])
    # a deep page: the kept search total and the page gated on it, in one statement
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_OFFSET", 1)
    total, statements, scans = read({"search": "silva", "limit": 1, "page": 2})
    assert (total, len(statements), scans) == (2, 2, [])
    assert "page_total(n) AS MATERIALIZED (SELECT COUNT(*)" in statements[-1]
    assert "lead_search_rows" in statements[-1]
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_OFFSET", 1_000)
    # a blank search is the whole list: the kept count
    total, statements, scans = read({"search": "   "})
    assert (total, scans) == (3, [])
    assert "lead_counts" in statements[-1]
    # a search with a filter counts the leads
    total, statements, scans = read({"search": "silva", "status": "qualificado"})
    assert total == 1
    assert len(scans) == 1
    assert not any("lead_search_rows" in sql for sql in statements)
    # bad input is still a 400, before any count
    response = client.get(URL, {"search": "x" * 101})
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}


@pytest.mark.django_db
def test_a_seller_who_sees_only_their_leads_counts_their_matches(
    org_a: Any, client_for: Any
) -> None:
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    LeadFactory(organization=org_a.org, nome_completo="Ana Silva", closer=org_a.closer)
    LeadFactory.create_batch(2, organization=org_a.org, nome_completo="Beto Silva")
    with CaptureQueriesContext(connection) as queries:
        body = client_for(org_a.closer).get(URL, {"search": "silva"}).json()
    assert body["pagination"]["total"] == 1
    assert len(_lead_scans(queries)) == 1
    assert client_for(org_a.admin).get(URL, {"search": "silva"}).json()["pagination"]["total"] == 3
