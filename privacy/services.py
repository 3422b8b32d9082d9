"""Writes of the privacy app (one transaction each)."""

from __future__ import annotations

from typing import Any

from config.context import current_request_id, current_via
from organizations.models import Membership, Organization
from privacy.models import DataAccessLog


def access_log_record(
    *,
    organization: Organization | Any,
    actor: Membership | None,
    tipo: str,
    filtro: dict[str, Any],
    linhas: int | None = None,
) -> DataAccessLog:
    """Record a bulk read of personal data (in the reading request's transaction)."""
    return DataAccessLog.objects.create(
        organization_id=getattr(organization, "pk", organization),
        actor=actor,
        user_id=actor.user_id if actor is not None else None,
        tipo=tipo,
        filtro={str(k)[:50]: str(v)[:200] for k, v in list(filtro.items())[:50]},
        linhas=linhas,
        via=current_via(),
        request_id=(current_request_id() or "")[:128],
    )
