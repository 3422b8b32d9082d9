"""Signal receivers: historical rows get the request id and the way in; bulk reads are logged."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

from config.context import current_request_id, current_via
from leads import signals as lead_signals
from leads.models import Lead
from privacy import services


@receiver(pre_create_historical_record)
def _stamp_history(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    history_instance.request_id = (current_request_id() or "")[:128]
    history_instance.via = current_via()


@receiver(lead_signals.leads_exported)
def _log_csv_export(
    sender: Any,
    organization: Any,
    actor: Any,
    filtro: dict[str, Any],
    linhas: int | None = None,
    **kwargs: Any,
) -> None:
    services.access_log_record(
        organization=organization, actor=actor, tipo="csv_export", filtro=filtro, linhas=linhas
    )


@receiver(lead_signals.lead_created)
def _record_imported_lead(sender: Any, lead: Lead, actor: Any = None, **kwargs: Any) -> None:
    """A CSV import inserts its leads with bulk_create (no post_save, so no historical row):
    their creation is recorded here, in the import batch's transaction."""
    if current_via() != "import":
        return
    Lead.history.bulk_history_create(  # type: ignore[attr-defined]
        [lead],
        default_user=actor.user if actor is not None else None,
        default_date=lead.created_at,
        custom_historical_attrs={"request_id": (current_request_id() or "")[:128], "via": "import"},
    )
