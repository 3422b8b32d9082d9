"""Run by tests/ops/test_replica.py in a child process against a real primary + streaming replica.

The primary already holds the migrated schema (a copy of the test database).

Prints one JSON object of observations; the test asserts on them. Environment: DATABASE_URL (the
primary), DATABASE_REPLICA_URL (a `pg_basebackup -R` copy of it), REPLICA_PIN_SECONDS, REDIS_URL.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import DatabaseError, connections  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

from leads import selectors  # noqa: E402
from leads.models import Lead  # noqa: E402
from organizations.models import Role  # noqa: E402
from tests.factories import (  # noqa: E402
    InteractionFactory,
    LeadFactory,
    MembershipFactory,
    OrganizationFactory,
)


def replica_sql(sql: str, params: tuple[Any, ...] = ()) -> Any:
    with connections["replica"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def wait_until_replayed(lead_id: Any) -> None:
    error: Exception | None = None
    for _ in range(400):
        try:
            if replica_sql("SELECT count(*) FROM leads WHERE id = %s", (lead_id,))[0]:
                return
        except DatabaseError as exc:  # the schema itself not replayed yet
            error = exc
        time.sleep(0.05)
    lsn = replica_sql("SELECT pg_last_wal_replay_lsn()::text, pg_is_wal_replay_paused()")
    raise SystemExit(f"the replica never caught up: {error!r} {lsn}")


def client_for(membership: Any) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(membership.user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def total(client: APIClient) -> int:
    response = client.get("/api/v1/leads/")
    assert response.status_code == 200, response.content
    return int(response.json()["pagination"]["total"])


def dashboard_total(client: APIClient) -> int:
    """The sales dashboard's `total_leads` (read from the rollups, leads/rollups.py)."""
    response = client.get("/api/v1/leads/performance/")
    assert response.status_code == 200, response.content
    return int(response.json()["metrics"]["total_leads"])


def main() -> None:
    organization = OrganizationFactory()
    writer: Any = MembershipFactory(organization=organization, role=Role.ADMIN)
    reader: Any = MembershipFactory(organization=organization, role=Role.ADMIN)
    first: Any = LeadFactory(organization=organization)
    wait_until_replayed(first.pk)
    seen: dict[str, Any] = {"replica_in_recovery": replica_sql("SELECT pg_is_in_recovery()")[0]}

    replica_sql("SELECT pg_wal_replay_pause()")  # from here the replica is frozen in time
    unseen: Any = LeadFactory(
        organization=organization
    )  # written outside any request: nobody pinned
    a, b = client_for(writer), client_for(reader)
    seen["list_while_paused"] = total(b)
    seen["dashboard_while_paused"] = dashboard_total(b)
    seen["detail_of_unreplayed"] = b.get(f"/api/v1/leads/{unseen.pk}/").status_code
    seen["timeline_of_unreplayed"] = b.get(f"/api/v1/leads/{unseen.pk}/timeline/").status_code
    # A lead read on the replica gets its interaction extras from the replica too.
    InteractionFactory(lead=first)
    replica_lead: Any = Lead.objects.using("replica").get(pk=first.pk)
    primary_lead: Any = Lead.objects.get(pk=first.pk)
    selectors.attach_list_extras([replica_lead])
    selectors.attach_list_extras([primary_lead])
    seen["extras_of_replica_lead"] = replica_lead.interactions_count
    seen["extras_of_primary_lead"] = primary_lead.interactions_count

    created = a.post(
        "/api/v1/leads/",
        {"nome_completo": "Escrita Recente", "email": "recente@example.com", "origem": "outro"},
        format="json",
    )
    seen["create_status"] = created.status_code
    seen["writer_list_after_write"] = total(a)
    seen["writer_dashboard_after_write"] = dashboard_total(a)
    seen["reader_list_after_write"] = total(b)
    seen["reader_dashboard_after_write"] = dashboard_total(b)
    time.sleep(float(os.environ["REPLICA_PIN_SECONDS"]) + 0.5)
    seen["writer_list_after_window"] = total(a)

    replica_sql("SELECT pg_wal_replay_resume()")
    wait_until_replayed(Lead.objects.get(email="recente@example.com").pk)
    seen["reader_list_after_resume"] = total(b)
    print("RESULT " + json.dumps(seen))


if __name__ == "__main__":
    main()
