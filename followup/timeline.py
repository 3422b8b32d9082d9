"""The lead timeline's follow-up entries: every step executed, skipped, retried or failed."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from followup.models import FollowupExecutionLog
from leads.models import Lead
from leads.timeline import register_timeline_source, timeline_rows


def followup_step_rows(lead: Lead) -> QuerySet[Any]:
    return timeline_rows(
        FollowupExecutionLog.objects.filter(execution__lead=lead),
        tipo="followup_step",
        at="created_at",
        fields={
            "execution_id": "execution",
            "sequence_id": "execution__sequence",
            "sequence_nome": "execution__sequence__nome",
            "step": "step",
            "tipo_acao": "tipo_acao",
            "evento": "evento",
            "level": "level",
            "message": "message",
        },
    )


def register() -> None:
    register_timeline_source("followup_step", followup_step_rows)
