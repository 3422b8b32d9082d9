"""The kept per-organization lead count: exact on every write path, raced, and used by the list."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from leads import selectors
from leads.models import Lead, LeadCount
from organizations.models import Organization
from tests.conftest import make_org
from tests.factories import LeadFactory, OrganizationFactory

URL = "/api/v1/leads/"


def assert_exact(*organizations: Organization) -> None:
    for organization in organizations:
        counted = Lead.objects.filter(organization=organization).count()
        assert selectors.lead_total(organization.pk) == counted


@pytest.mark.django_db
def test_every_write_path_keeps_the_count_exact(org_a: Any, org_b: Any, client_for: Any) -> None:
    assert_exact(org_a.org, org_b.org)
    created = client_for(org_a.admin).post(
        URL, {"nome_completo": "Pela API", "email": "api@example.com"}, format="json"
    )
    assert created.status_code == 201
    LeadFactory.create_batch(3, organization=org_a.org)  # one save each
    Lead.objects.bulk_create(  # one statement, many rows
        [Lead(organization=org_b.org, nome_completo=f"Em lote {n}") for n in range(25)]
    )
    assert_exact(org_a.org, org_b.org)
    assert selectors.lead_total(org_b.org.pk) == 25

    Lead.objects.filter(organization=org_b.org, nome_completo__endswith="1").delete()
    client_for(org_a.admin).delete(f"{URL}{created.json()['id']}/")
    Lead.objects.filter(organization=org_a.org).first().delete()  # type: ignore[union-attr]
    assert_exact(org_a.org, org_b.org)

    moved = Lead.objects.filter(organization=org_b.org).first()
    assert moved is not None
    moved.organization = org_a.org
    moved.save()  # a row moving between organizations
    Lead.objects.filter(organization=org_b.org)[:1].get().save()  # an ordinary update
    assert_exact(org_a.org, org_b.org)


@pytest.mark.django_db
def test_an_organization_deleted_leaves_no_count_behind() -> None:
    organization = OrganizationFactory()
    LeadFactory.create_batch(2, organization=organization)
    organization_id = organization.pk
    organization.delete()
    assert not LeadCount.objects.filter(organization_id=organization_id).exists()


@pytest.mark.django_db(transaction=True)
def test_racing_creates_and_deletes_keep_the_count_exact() -> None:
    """Threads on PostgreSQL, each its own connection and transactions, create and delete."""
    org = make_org().org
    doomed = [lead.pk for lead in LeadFactory.create_batch(40, organization=org)]
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def create(worker: int) -> None:
        try:
            barrier.wait()
            for n in range(15):
                Lead.objects.create(organization=org, nome_completo=f"Corrida {worker}-{n}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def delete(worker: int) -> None:
        try:
            barrier.wait()
            for pk in doomed[worker::3]:
                Lead.objects.filter(pk=pk).delete()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=delete, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Lead.objects.filter(organization=org).count() == 45
    assert selectors.lead_total(org.pk) == 45


def _lead_count_statements(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        # A COUNT over leads (the list page's statement counts interactions, not leads), on
        # its own or inside the page's statement (leads.selectors.lead_list_page_and_total).
        if (q["sql"].upper().startswith("SELECT COUNT(") and 'FROM "leads"' in q["sql"])
        or 'COUNT(*) FROM (SELECT "leads"."id"' in q["sql"]
    ]


@pytest.mark.django_db
def test_the_unfiltered_list_reads_the_kept_count_and_filters_still_count(
    org_a: Any, client_for: Any
) -> None:
    LeadFactory.create_batch(4, organization=org_a.org, closer=org_a.closer)
    LeadFactory.create_batch(2, organization=org_a.org)
    client = client_for(org_a.admin)

    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"limit": 2, "ordering": "nome_completo"}).json()
    assert body["pagination"]["total"] == 6
    assert _lead_count_statements(queries) == []  # no scan of the leads for the total
    assert any("lead_counts" in q["sql"] for q in queries.captured_queries)

    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"closer_id": str(org_a.closer.pk)}).json()
    assert body["pagination"]["total"] == 4
    assert len(_lead_count_statements(queries)) == 1  # a filter: an exact count of its rows


@pytest.mark.django_db
def test_a_seller_who_sees_only_their_leads_gets_their_count(org_a: Any, client_for: Any) -> None:
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    LeadFactory.create_batch(3, organization=org_a.org, closer=org_a.closer)
    LeadFactory.create_batch(5, organization=org_a.org)
    assert client_for(org_a.closer).get(URL).json()["pagination"]["total"] == 3
    assert client_for(org_a.admin).get(URL).json()["pagination"]["total"] == 8
