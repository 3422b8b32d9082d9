"""Signal receivers: historical rows get the request id and the way in; bulk reads are logged."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

from config.context import current_request_id, current_via
from leads import signals as lead_signals
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
