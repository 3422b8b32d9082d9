"""Reactions to other apps' signals (connected in MentoradosConfig.ready)."""

from __future__ import annotations

from typing import Any

from leads.models import Lead
from mentorados import services


def create_mentorado_on_conversion(sender: Any, lead: Lead, **kwargs: Any) -> None:
    """A converted lead becomes a mentee, once (runs inside the conversion's transaction)."""
    services.mentorado_from_lead(lead=lead)
