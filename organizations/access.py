"""Who may do what: the one rule for the API (DRF permissions) and the admin (ModelAdmins).

DOMAIN.md's role table, written once as a `Policy` per area. API views take their
`read_roles` / `write_roles` from here; the admin's `OrgScopedAdmin` asks `may()` with the
same policy, and narrows rows with the same visibility rule (`lead_visibility_q`). Role changes
go through `ensure_may_assign_role` (no member raises a role above their own).

The admin works for one organization at a time, like the API with `X-Organization-Id`:
`admin_membership(request)` is the requester's active membership chosen by `?org=` (kept in the
session), else the last one chosen, else the oldest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _

from organizations.models import MANAGER_ROLES, Membership, Organization, Role

ALL_ROLES = frozenset(Role.values)
MANAGERS = frozenset(MANAGER_ROLES)
ADMIN_ONLY = frozenset({Role.ADMIN})
SALES_ROLES = frozenset({Role.ADMIN, Role.GESTOR, Role.CLOSER, Role.SDR})
MENTEE_WRITERS = MANAGERS | {Role.MENTOR}
NOBODY: frozenset[str] = frozenset()

Action = Literal["read", "add", "change", "delete"]


@dataclass(frozen=True)
class Policy:
    """Roles allowed per action on one area; `add` and `delete` default to `change`."""

    read: frozenset[str]
    change: frozenset[str]
    add: frozenset[str] | None = None
    delete: frozenset[str] | None = None

    def roles(self, action: Action) -> frozenset[str]:
        if action == "read":
            return self.read
        if action == "add":
            return self.change if self.add is None else self.add
        if action == "delete":
            return self.change if self.delete is None else self.delete
        return self.change


# An organization-owned model whose admin names no policy: everyone reads, managers write.
DEFAULT = Policy(read=ALL_ROLES, change=MANAGERS)
# DOMAIN.md: "members, organization settings, integrations: admin write, gestor read"; the API
# lists members and the organization to every role (pickers, /me), so those read for all.
ORGANIZATION = Policy(read=ALL_ROLES, change=ADMIN_ONLY, add=NOBODY, delete=NOBODY)
MEMBERS = Policy(read=ALL_ROLES, change=ADMIN_ONLY, delete=NOBODY)  # deactivated, never deleted
# Invitations: admins see them and cancel pending ones (an action); they are created through
# MEMBERS ("add member") and never edited, as in the API (GET/DELETE /invitations/).
INVITATIONS = Policy(read=ADMIN_ONLY, change=ADMIN_ONLY, add=NOBODY, delete=NOBODY)
USERS = Policy(read=MANAGERS, change=NOBODY)  # accounts are created through MEMBERS
HOLIDAYS = Policy(read=ALL_ROLES, change=ADMIN_ONLY)
INTEGRATIONS = Policy(read=ADMIN_ONLY, change=ADMIN_ONLY)
WHATSAPP_GATEWAYS = Policy(read=ADMIN_ONLY, change=ADMIN_ONLY, delete=NOBODY)  # revoked, kept
INTEGRATION_RECORDS = Policy(read=ADMIN_ONLY, change=NOBODY)  # written by the integrations
# Outbound deliveries are a log; admins replay them (a change of the list, not of a row).
WEBHOOK_DELIVERIES = Policy(read=ADMIN_ONLY, change=ADMIN_ONLY, add=NOBODY, delete=NOBODY)
NOTIFICATIONS = Policy(read=ALL_ROLES, change=NOBODY)  # one's own; marked read, not edited
# Leads and what hangs off them: sellers write the leads they can see; only managers delete.
LEADS = Policy(read=ALL_ROLES, change=SALES_ROLES, delete=MANAGERS)
INTERACTIONS = Policy(read=ALL_ROLES, change=NOBODY, add=SALES_ROLES)  # append-only
QUALIFICATIONS = Policy(read=ALL_ROLES, change=SALES_ROLES, delete=NOBODY)
TASKS = Policy(read=ALL_ROLES, change=SALES_ROLES, delete=NOBODY)
STATUS_HISTORY = Policy(read=ALL_ROLES, change=NOBODY)
# CSV/XLSX imports: the import roles start them; the record of an import is history.
IMPORTS = Policy(read=SALES_ROLES, change=NOBODY, add=SALES_ROLES)
# Lead routing rules and absences: managers only, as in the API.
ROUTING = Policy(read=MANAGERS, change=MANAGERS)
# The privacy records (personal-data access log, the leads' audit trail): managers read them.
PRIVACY_RECORDS = Policy(read=MANAGERS, change=NOBODY)
SEQUENCES = Policy(read=SALES_ROLES, change=MANAGERS)
# Sellers pause, resume and cancel the executions of the leads they may write.
EXECUTIONS = Policy(read=SALES_ROLES, change=SALES_ROLES, add=NOBODY, delete=NOBODY)
EXECUTION_LOGS = Policy(read=SALES_ROLES, change=NOBODY)
# Mentors write only their own mentees (`may_write_mentee`); only managers delete a mentee.
MENTEES = Policy(read=ALL_ROLES, change=MENTEE_WRITERS, delete=MANAGERS)
MENTEE_RECORDS = Policy(read=ALL_ROLES, change=MENTEE_WRITERS)

# A role's rank: nobody grants a role ranked above their own.
ROLE_RANK = {Role.ADMIN: 3, Role.GESTOR: 2, Role.CLOSER: 1, Role.SDR: 1, Role.MENTOR: 1}


def may(membership: Membership | None, policy: Policy, action: Action) -> bool:
    return membership is not None and membership.ativo and membership.role in policy.roles(action)


def lead_visibility_q(membership: Membership, prefix: str = "") -> Q:
    """Rows of leads the member may see (`prefix` is the path to the lead, e.g. "lead__").

    Closers and SDRs see every lead of the organization, or only those where they are the
    closer or the SDR when the organization's `visibilidade_leads` is `atribuidos`.
    """
    organization: Organization = membership.organization
    if (
        membership.is_seller
        and organization.visibilidade_leads == Organization.LeadVisibility.ATRIBUIDOS
    ):
        return Q(**{f"{prefix}closer": membership}) | Q(**{f"{prefix}sdr": membership})
    return Q()


def may_write_mentee(membership: Membership, mentor_id: Any) -> bool:
    """A mentor writes only the mentees they mentor; managers write every mentee."""
    return membership.role != Role.MENTOR or mentor_id == membership.pk


class RoleNotAllowed(Exception):
    """A role change the actor may not make (the message says why, in Portuguese)."""


def assignable_roles(actor: Membership | None) -> list[str]:
    """Roles the actor may give (None: a superuser or the system, every role)."""
    if actor is None:
        return list(Role.values)
    return [role for role in Role.values if ROLE_RANK[Role(role)] <= ROLE_RANK[Role(actor.role)]]


def ensure_may_assign_role(
    *, actor: Membership | None, target: Membership | None, role: str
) -> None:
    """No member raises their own role, or anyone's above their own."""
    if actor is None:
        return
    if role not in assignable_roles(actor):
        raise RoleNotAllowed(_("Você não pode atribuir um papel acima do seu."))
    if (
        target is not None
        and target.pk == actor.pk
        and ROLE_RANK[Role(role)] > ROLE_RANK[Role(target.role)]
    ):
        raise RoleNotAllowed(_("Você não pode elevar o próprio papel."))


# --- The admin's current organization -------------------------------------------------------

SESSION_KEY = "backoffice_organization_id"


def admin_memberships(request: HttpRequest) -> list[Membership]:
    """The requester's active memberships, oldest first (one query per request)."""
    cached = getattr(request, "_backoffice_memberships", None)
    if cached is None:
        user = request.user
        if not (user.is_authenticated and user.is_active):
            cached = []
        else:
            cached = list(
                Membership.objects.filter(user_id=user.pk, ativo=True)
                .select_related("organization", "user")
                .order_by("created_at", "id")
            )
        request._backoffice_memberships = cached  # type: ignore[attr-defined]
    return cast(list[Membership], cached)


def admin_membership(request: HttpRequest) -> Membership | None:
    """The membership the back office acts as: `?org=` (one of theirs; another organization's
    id is ignored, never honoured), else the one chosen before in this session, else the
    oldest, as the API does without `X-Organization-Id`.

    Kept on the request with the session's choice it was made under (a page asks ~180 times:
    every permission check and menu entry); a choice changed in the session since is honoured.
    """
    session = getattr(request, "session", None)
    kept = getattr(request, "_backoffice_membership", None)
    if kept is not None and kept[0] == _remembered(session):
        return cast("Membership | None", kept[1])
    membership = _choose_membership(request, session)
    request._backoffice_membership = (_remembered(session), membership)  # type: ignore[attr-defined]
    return membership


def _remembered(session: Any) -> str:
    return str(session.get(SESSION_KEY, "")) if session is not None else ""


def _choose_membership(request: HttpRequest, session: Any) -> Membership | None:
    memberships = admin_memberships(request)
    if not memberships:
        return None
    by_org = {str(m.organization_id): m for m in memberships}
    chosen = request.GET.get("org", "") if request.method == "GET" else ""
    if chosen in by_org:
        if session is not None and session.get(SESSION_KEY) != chosen:
            session[SESSION_KEY] = chosen
        return by_org[chosen]
    return by_org.get(_remembered(session), memberships[0])


def has_backoffice_access(request: HttpRequest) -> bool:
    """Staff status follows the membership: superusers and every active member."""
    user = request.user
    if not (user.is_authenticated and user.is_active):
        return False
    return bool(user.is_superuser or admin_memberships(request))
