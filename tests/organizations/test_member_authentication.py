"""The JWT authentication that reads user and membership in one query
(organizations/authentication.py), and read-only actions outside a transaction
(organizations/scoping.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken

from organizations import authentication
from organizations.models import Membership
from tests.factories import LeadFactory, MembershipFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
TRANSACTION_STATEMENTS = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def bearer(membership: Membership, organization_header: str | None = None) -> APIClient:
    return client_with(str(AccessToken.for_user(membership.user)), organization_header)


def client_with(token: str, organization_header: str | None = None) -> APIClient:
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if organization_header is not None:
        headers["HTTP_X_ORGANIZATION_ID"] = organization_header
    client.credentials(**headers)
    return client


def statements(client: APIClient, method: str, path: str, **kwargs: Any) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(path, **kwargs)
    return response.status_code, [query["sql"] for query in captured.captured_queries]


def test_a_token_request_reads_user_and_membership_in_one_query(org_a):
    LeadFactory(organization=org_a.org)
    status, sql = statements(bearer(org_a.closer), "get", LEADS)
    assert status == 200
    # One statement: the membership joined to its user and organization. (The list's page
    # statement reads the closer and SDR from organization_users too, but not the users.)
    auth = [s for s in sql if 'FROM "organization_users"' in s and '"organizations_user"' in s]
    assert len(auth) == 1
    assert not [s for s in sql if 'FROM "organizations_user"' in s]


def test_the_header_picks_the_membership_in_that_same_query(org_a, org_b):
    user = org_a.closer.user
    other = MembershipFactory(organization=org_b.org, user=user, role="gestor")
    me = bearer(other, str(org_b.org.id)).get("/api/v1/me/").json()
    assert me["organization"]["id"] == str(org_b.org.id)
    assert bearer(other).get("/api/v1/me/").json()["organization"]["id"] == str(org_a.org.id)


def test_a_malformed_header_is_still_a_400(org_a):
    response = bearer(org_a.closer, "not-a-uuid").get(LEADS)
    assert response.status_code == 400
    assert "X-Organization-Id" in response.json()["details"]


def test_a_user_without_an_active_membership_is_refused_not_let_through(org_a):
    client = bearer(org_a.closer)
    assert client.get(LEADS).status_code == 200  # the token is now kept as validated
    Membership.objects.filter(pk=org_a.closer.pk).update(ativo=False)
    assert client.get(LEADS).status_code == 403  # at once: the membership is not kept


def test_a_role_change_takes_effect_on_the_next_request(org_a):
    client = bearer(org_a.closer)
    assert client.get("/api/v1/routing-rules/").status_code == 403  # managers only
    Membership.objects.filter(pk=org_a.closer.pk).update(role="admin")
    assert client.get("/api/v1/routing-rules/").status_code == 200
    Membership.objects.filter(pk=org_a.closer.pk).update(role="closer")
    assert client.get("/api/v1/routing-rules/").status_code == 403


def test_a_deactivated_user_is_a_401_even_with_an_active_membership(org_a):
    client = bearer(org_a.closer)
    assert client.get(LEADS).status_code == 200
    type(org_a.closer.user).objects.filter(pk=org_a.closer.user_id).update(is_active=False)
    assert client.get(LEADS).status_code == 401


def test_a_list_runs_outside_a_transaction_and_a_write_inside_one(org_a):
    client = bearer(org_a.admin)
    status, sql = statements(client, "get", LEADS)
    assert status == 200
    assert not [s for s in sql if s.startswith(TRANSACTION_STATEMENTS)]
    status, sql = statements(
        client, "post", LEADS, data={"nome_completo": "Ana Transação"}, format="json"
    )
    assert status == 201
    # Inside the test's transaction, the request's atomic block is a savepoint.
    assert sql[0].startswith("SAVEPOINT")
    assert sql[-1].startswith("RELEASE SAVEPOINT")


def test_a_detail_read_stays_in_a_transaction(org_a):
    lead = LeadFactory(organization=org_a.org)
    status, sql = statements(bearer(org_a.admin), "get", f"{LEADS}{lead.pk}/")
    assert status == 200
    assert sql[0].startswith("SAVEPOINT")


def test_a_refused_read_does_not_doom_the_transaction_around_it(org_a):
    client = bearer(org_a.admin)
    assert client.get(LEADS, {"status": "no-such-status"}).status_code == 400
    assert connection.needs_rollback is False
    # The enclosing (test) transaction still works, and so does the next request.
    assert Membership.objects.filter(pk=org_a.admin.pk).exists()
    assert client.get(LEADS).status_code == 200


def _orm_membership(user_id: Any, organization_id: Any) -> Membership | None:
    memberships = Membership.objects.filter(user_id=user_id, ativo=True).select_related(
        "organization", "user"
    )
    if organization_id is not None:
        memberships = memberships.filter(organization_id=organization_id)
    return memberships.order_by("created_at", "id").first()


def _fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_prepared_lookup_builds_what_the_orm_builds(org_a, org_b):
    from organizations.membership_lookup import active_membership

    user = org_a.closer.user
    MembershipFactory(organization=org_b.org, user=user, role="gestor")
    for organization_id in (None, org_a.org.id, org_b.org.id):
        with CaptureQueriesContext(connection) as captured:
            found = active_membership(user.pk, organization_id)
            # The user and organization come with it: reading them runs no query.
            assert found is not None
            found_user, found_organization = found.user, found.organization
        expected = _orm_membership(user.pk, organization_id)
        assert expected is not None
        assert len(captured.captured_queries) == 1
        assert _fields(found) == _fields(expected)
        assert _fields(found_user) == _fields(expected.user)
        assert _fields(found_organization) == _fields(expected.organization)
        assert not found._state.adding
        assert found._state.db == expected._state.db
    Membership.objects.filter(user=user, organization=org_b.org).update(ativo=False)
    assert active_membership(user.pk, org_b.org.id) is None
    assert active_membership(-1, None) is None


def test_a_token_is_validated_once_then_only_its_expiry_is_checked(org_a):
    authentication._validated.cache_clear()
    token = str(AccessToken.for_user(org_a.closer.user))
    client = client_with(token)
    decoded: list[Any] = []
    decode = TokenBackend.decode

    def counted(backend: TokenBackend, *args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return decode(backend, *args, **kwargs)

    with mock.patch.object(TokenBackend, "decode", counted):
        assert [client.get(LEADS).status_code for _ in range(3)] == [200, 200, 200]
        assert len(decoded) == 1
        other = bearer(org_a.admin)  # another token: validated on its own
        assert other.get(LEADS).status_code == 200
        assert len(decoded) == 2
    # Past its expiry the kept token is refused as simplejwt refuses an expired one.
    expires = datetime.fromtimestamp(authentication._validated(token.encode())["exp"], tz=UTC)
    with freeze_time(expires + timedelta(seconds=1)):
        refused = client.get(LEADS)
        authentication._validated.cache_clear()
        assert client_with(token).get(LEADS).json() == refused.json()
    assert refused.status_code == 401
    assert "token_not_valid" in str(refused.json())


def test_a_token_differing_from_a_kept_one_is_validated_and_refused(org_a):
    token = str(AccessToken.for_user(org_a.closer.user))
    assert client_with(token).get(LEADS).status_code == 200
    head, payload, signature = token.split(".")
    forged = ".".join([head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    assert client_with(forged).get(LEADS).status_code == 401
