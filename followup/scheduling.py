"""Glue between the models and the pure timing rule: the SendPolicy of a sequence."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from followup.models import FollowupSequence
from followup.timing import SendPolicy, next_send_time
from followup.validation import step_delay
from organizations.models import Organization, OrganizationHoliday


def organization_holidays(organization_id: Any) -> frozenset[datetime.date]:
    """The organization's own days off from yesterday on (older ones cannot matter)."""
    since = timezone.now().date() - datetime.timedelta(days=1)
    return frozenset(
        OrganizationHoliday.objects.filter(organization_id=organization_id, data__gte=since)
        .order_by()
        .values_list("data", flat=True)
    )


def build_policy(
    sequence: FollowupSequence,
    organization: Organization,
    holidays: frozenset[datetime.date] | None = None,
) -> SendPolicy:
    """The sequence's window and pauses in the organization's time zone and state."""
    if holidays is None:
        holidays = organization_holidays(organization.pk)
    return SendPolicy(
        window_start=sequence.horario_envio_inicio,
        window_end=sequence.horario_envio_fim,
        pause_weekends=sequence.pausar_fim_semana,
        pause_holidays=sequence.pausar_feriados,
        timezone=organization.timezone or "America/Sao_Paulo",
        state=organization.estado or None,
        extra_holidays=holidays,
    )


def due_time(
    step: Mapping[str, Any], after: datetime.datetime, policy: SendPolicy
) -> datetime.datetime:
    """When a step becomes due: its delay after ``after``, moved into the send window."""
    return next_send_time(after + step_delay(dict(step)), policy)
