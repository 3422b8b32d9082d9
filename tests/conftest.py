"""Shared fixtures: two organizations with a member of every role, API clients per member.

Every endpoint gets an ownership test: members of organization A act on rows of organization
B and must get a 404 (or a 400 for a foreign id inside a body).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import django_rq
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from organizations.models import Membership, Organization, Role
from tests import fast_flush, template_db
from tests.factories import MembershipFactory, OrganizationFactory


def pytest_configure(config: pytest.Config) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Provider tests talk real HTTP to local stub servers (127.0.0.1): allowed explicitly here;
    # the SSRF tests (tests/integrations/test_outbound_guard.py, ...) switch it off again.
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True
    # Transactional tests end with a flush: DELETEs instead of a TRUNCATE (tests/fast_flush.py).
    fast_flush.install()
    # Parallel workers' databases are clones of one migrated database (tests/template_db.py).
    template_db.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `heavy` tests (over ~5 s each) go first, in their files' order. `--dist worksteal`
    hands each worker a contiguous share and lets an idle worker take half of another's rest; a
    long test near the end of a share leaves one worker running it while the others have
    nothing left. Every worker collects the same order (a stable sort)."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """Each test starts with an empty Redis database (cache, throttles, queues)."""
    connection = django_rq.get_connection("default")
    connection.flushdb()
    return


@dataclass
class Org:
    """An organization and one active member per role."""

    org: Organization
    admin: Membership
    gestor: Membership
    closer: Membership
    sdr: Membership
    mentor: Membership

    def member(self, role: str) -> Membership:
        return getattr(self, role)


def make_org(**org_fields: object) -> Org:
    org = OrganizationFactory(**org_fields)
    members = {role: MembershipFactory(organization=org, role=role) for role in Role.values}
    return Org(org=org, **members)


@pytest.fixture
def org_a(db: None) -> Org:
    return make_org(nome="Mentoria Alfa")


@pytest.fixture
def org_b(db: None) -> Org:
    return make_org(nome="Mentoria Beta")


@pytest.fixture
def client_for() -> Callable[[Membership], APIClient]:
    """An API client authenticated as the member's user, pinned to the member's organization."""

    def make(membership: Membership) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=membership.user)
        client.credentials(HTTP_X_ORGANIZATION_ID=str(membership.organization_id))
        return client

    return make


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
