"""The lead page's audit trail (`/admin/leads/lead/<id>/history/`) reads the `privacy` app.

The audit trail (django-simple-history) is kept by `privacy`, which sits above `leads`, so the
lead admin cannot import it: this module, in config (which composes the apps), hands the
reader to the lead page (`leads.admin_lead_page.register_history_reader`) at start-up. The
reading is the API's (`GET /api/v1/leads/{id}/history/`): the same field-by-field entries
(`privacy.selectors.history_entries`, secrets never recorded) and the same access-log record.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from leads.admin_lead_page import register_history_reader
from leads.models import Lead
from organizations import access
from privacy import selectors, services
from privacy.models import AccessTipo


def lead_history(request: HttpRequest, lead: Lead, limit: int) -> list[dict[str, Any]]:
    """The lead's newest `limit` audit entries; reading them is logged as the API logs it."""
    records = list(
        Lead.history.filter(id=lead.pk).order_by("-history_date", "-history_id")[: limit + 1]  # type: ignore[attr-defined]
    )
    entries = selectors.history_entries(records=records, organization_id=lead.organization_id)[
        :limit
    ]
    actor = next(
        (m for m in access.admin_memberships(request) if m.organization_id == lead.organization_id),
        None,
    )
    services.access_log_record(
        organization=lead.organization_id,
        actor=actor,
        tipo=AccessTipo.AUDIT_READ,
        filtro={"lead_id": str(lead.pk), "pagina": "admin"},
        linhas=len(entries),
    )
    return entries


def register() -> None:
    register_history_reader(lead_history)
