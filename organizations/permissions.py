"""Who may do what (DOMAIN.md role table), applied by permission classes in one place.

Every API request resolves the requester's active membership first (`X-Organization-Id` picks
one when the user belongs to several organizations). Views then declare which roles may read
and write; querysets narrow what those roles see (see `organizations.scoping`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

# The role sets and per-area policies live in organizations.access (shared with the admin).
from organizations.access import ADMIN_ONLY, ALL_ROLES, MANAGERS, SALES_ROLES
from organizations.membership_lookup import active_membership
from organizations.models import Membership

if TYPE_CHECKING:
    # Imported lazily: rest_framework.views imports the default permission classes itself.
    from rest_framework.request import Request
    from rest_framework.views import APIView

__all__ = ["ADMIN_ONLY", "ALL_ROLES", "MANAGERS", "SALES_ROLES", "active_membership"]

ORGANIZATION_HEADER = "HTTP_X_ORGANIZATION_ID"


class NotAMember(exceptions.PermissionDenied):
    default_detail = gettext_lazy("Você não tem acesso ativo a esta organização.")
    default_code = "not_a_member"


def organization_header(request: Any) -> uuid.UUID | None:
    """The organization the request picks with `X-Organization-Id`; a malformed one is a 400."""
    header = request.META.get(ORGANIZATION_HEADER, "").strip()
    if not header:
        return None
    try:
        return uuid.UUID(header)
    except ValueError:
        raise exceptions.ValidationError(
            {
                "X-Organization-Id": [
                    _("Cabeçalho X-Organization-Id inválido: use o id da organização.")
                ]
            }
        ) from None


def resolve_membership(request: Request) -> Membership:
    """The requester's active membership, chosen by `X-Organization-Id` or the oldest one."""
    membership = active_membership(cast(int, request.user.pk), organization_header(request))
    if membership is None:
        raise NotAMember()
    return membership


def attach_membership(request: Request, membership: Membership) -> None:
    # Also on the Django request, so middleware (request logs) can name the organization.
    for target in (request, request._request):
        setattr(target, "membership", membership)  # noqa: B010
        setattr(target, "organization", membership.organization)  # noqa: B010


def ensure_membership(request: Request) -> Membership | None:
    """Attach `membership` and `organization` to the request once; None when anonymous.

    JWT requests usually have it already: `organizations.authentication` loads it with the user.
    """
    cached = getattr(request, "membership", None)
    if cached is not None:
        return cast("Membership | None", cached)
    user = request.user
    if not (user and user.is_authenticated):
        return None
    membership = resolve_membership(request)
    attach_membership(request, membership)
    return membership


class RolePermission(BasePermission):
    """Active member of the organization with a role the view allows for this method/action.

    Views declare `read_roles` and `write_roles` (defaults: every role reads, admin and gestor
    write) and may refine single actions with `action_roles = {"destroy": MANAGERS}`.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        membership = ensure_membership(request)
        if membership is None:
            raise exceptions.NotAuthenticated()
        allowed = allowed_roles(view, request)
        if membership.role not in allowed:
            raise exceptions.PermissionDenied(
                _("Seu papel (%(role)s) não permite esta operação.")
                % {"role": membership.get_role_display()}
            )
        return True


# The default permission class (settings.REST_FRAMEWORK): any view is members-only by default.
IsActiveMember = RolePermission


def allowed_roles(view: APIView, request: Request) -> frozenset[str]:
    action = getattr(view, "action", None)
    action_roles: dict[str, Any] = getattr(view, "action_roles", {}) or {}
    if action and action in action_roles:
        return frozenset(action_roles[action])
    if request.method in SAFE_METHODS:
        return frozenset(getattr(view, "read_roles", ALL_ROLES))
    return frozenset(getattr(view, "write_roles", MANAGERS))
