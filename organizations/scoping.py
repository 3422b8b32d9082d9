"""Organization scoping, applied once for every viewset (NetBox-style base viewset).

A concrete viewset declares `queryset` (whose manager offers `for_org`), its serializer and its
roles; this mixin makes every read go through `for_org(request.organization)`, hands the
organization and membership to serializers, and stamps the organization on every create.
Another organization's object is therefore simply not in the queryset: a 404.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request

from config import replica
from organizations.models import Membership, Organization


def request_membership(request: Any) -> Membership:
    """The membership resolved for this request by the permission check."""
    membership: Membership = request.membership
    return membership


# The lookup rule of routes whose primary key is a UUID (anything else is a 404 from the router,
# never a query): every organization-scoped viewset has it through OrgScopedMixin (a model
# keyed otherwise overrides it).
UUID_RE = "[0-9a-fA-F-]{36}"


class OrgScopedMixin(GenericAPIView[Any]):
    """Base of every organization-owned viewset (put it before the DRF viewset class)."""

    lookup_value_regex = UUID_RE

    # Read-only actions whose reads may be served by a streaming replica when one is configured
    # (config/replica.py): lists, dashboards, timelines and exports. Authentication and the
    # membership lookup have already run on the primary when the switch happens.
    REPLICA_ACTIONS = frozenset({"list", "performance", "dashboard", "timeline", "export"})

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> Any:
        view: Any = super().as_view(*args, **kwargs)
        # ATOMIC_REQUESTS would wrap every method of the route; `dispatch` opens the
        # transaction itself, for everything but a read-only action.
        view._non_atomic_requests = {DEFAULT_DB_ALIAS}
        return view

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self.outside_transaction = self.read_only_action(request.method) in self.REPLICA_ACTIONS
        if self.outside_transaction:
            # GET/HEAD of a list, dashboard, timeline or export: no BEGIN/COMMIT (two round
            # trips of ~7 on a list page). They write nothing of their own; an export's audit
            # signal is a single insert, committed by itself.
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Any:
        if not getattr(self, "outside_transaction", False):
            return super().handle_exception(exc)
        # DRF's exception handler marks the innermost atomic block for rollback. A read-only
        # action opened none, so a block around it (a test's transaction, a caller's) is not
        # the request's to doom.
        connection = connections[DEFAULT_DB_ALIAS]
        doomed = connection.needs_rollback
        try:
            return super().handle_exception(exc)
        finally:
            connection.needs_rollback = doomed

    def read_only_action(self, method: str | None) -> str | None:
        """The viewset action a GET or HEAD maps to (`list` for a plain list view); None for
        every other method."""
        if method not in ("GET", "HEAD"):
            return None
        action_map: dict[str, str] | None = getattr(self, "action_map", None)
        if action_map is not None:
            return action_map.get(method.lower())
        return "list" if isinstance(self, ListModelMixin) else None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.read_only_action(request.method) in self.REPLICA_ACTIONS:
            replica.use_for_request(request)

    @property
    def membership(self) -> Membership:
        return request_membership(self.request)

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    def get_queryset(self) -> QuerySet[Any]:
        base: Any = cast(Any, self).queryset
        if base is None:
            raise RuntimeError(f"{type(self).__name__} needs a queryset")
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no requester
            return cast("QuerySet[Any]", base.none())
        return self.scope_queryset(base.all().for_org(self.organization))

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Role-based narrowing (e.g. lead visibility); the organization is already applied."""
        return queryset

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        membership = getattr(self.request, "membership", None)
        context["membership"] = membership
        context["organization"] = membership.organization if membership else None
        return context

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.save(organization=self.organization)


class OrgPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField[Any]):
    """A reference written as `<name>_id`; only rows of the requester's organization resolve.

    A foreign id (another organization's row) is indistinguishable from a missing one: a 400
    naming the field, never a cross-tenant link.
    """

    def __init__(self, *, scope: Any = None, **kwargs: Any) -> None:
        # `scope(queryset, context)` narrows further (e.g. members with a given role).
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        queryset: Any = super().get_queryset()
        organization = self.context.get("organization")
        if organization is None:
            return cast("QuerySet[Any]", queryset.none())
        queryset = queryset.for_org(organization)
        if self.scope is not None:
            queryset = self.scope(queryset, self.context)
        return cast("QuerySet[Any]", queryset)

    def to_internal_value(self, data: Any) -> Model:
        # Bad UUID syntax must be the same 400 as "does not exist", not a database error.
        if not isinstance(data, str | uuid.UUID):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            uuid.UUID(str(data))
        except ValueError:
            self.fail("does_not_exist", pk_value=data)
        return cast("Model", super().to_internal_value(data))
