"""The consent ledger (LGPD): per lead and channel, append-only; the latest entry rules.

Invariant: ``lead.opt_out_<canal>`` is True exactly when the latest ledger entry of that channel
is ``revogado``. Both ways of changing it keep it:

- ``consent_set`` (unsubscribe page, a WhatsApp STOP word, the consents API, the admin) appends
  an entry and, when the state flips, updates the flag through ``lead_update``;
- ``lead_update`` with an ``opt_out_*`` change (the lead API's PATCH, the lead admin, imports)
  appends an entry itself (``record_flag_change``).

So every follow-up send, which checks the flag (followup.channels.OPT_OUT_FIELD), checks the
ledger. A channel without entries has the default basis: legitimate interest (the person gave
their contact to the business), state ``concedido``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from leads.models import BaseLegal, ConsentCanal, ConsentEstado, ConsentRecord, Lead
from organizations.models import Membership

FLAG_OF = {ConsentCanal.EMAIL: "opt_out_email", ConsentCanal.WHATSAPP: "opt_out_whatsapp"}
CANAL_OF = {flag: canal for canal, flag in FLAG_OF.items()}
DEFAULT_BASE = BaseLegal.LEGITIMO_INTERESSE
# An inbound WhatsApp message consisting of one of these words (any case, alone) revokes
# WhatsApp.
STOP_WORDS = frozenset({"PARAR", "SAIR", "STOP"})


def is_stop_word(text: str | None) -> bool:
    return bool(text) and text.strip().strip(".!").upper() in STOP_WORDS  # type: ignore[union-attr]


@dataclass(frozen=True)
class ConsentState:
    """A channel's current consent (from its latest entry, or the default)."""

    canal: str
    estado: str
    base_legal: str
    origem: str
    at: datetime | None
    evidencia: dict[str, Any]


def consent_states(*, lead: Lead) -> list[ConsentState]:
    """Current state of each channel, in ConsentCanal order (one query)."""
    latest: dict[str, ConsentRecord] = {}
    for entry in ConsentRecord.objects.filter(lead=lead).order_by("canal", "-at", "-created_at"):
        latest.setdefault(entry.canal, entry)
    states = []
    for canal in ConsentCanal.values:
        record = latest.get(canal)
        if record is None:
            revoked = getattr(lead, FLAG_OF[ConsentCanal(canal)])
            states.append(
                ConsentState(
                    canal=canal,
                    estado=ConsentEstado.REVOGADO if revoked else ConsentEstado.CONCEDIDO,
                    base_legal=DEFAULT_BASE,
                    origem="padrao",
                    at=None,
                    evidencia={},
                )
            )
        else:
            states.append(
                ConsentState(
                    canal=canal,
                    estado=record.estado,
                    base_legal=record.base_legal,
                    origem=record.origem,
                    at=record.at,
                    evidencia=record.evidencia,
                )
            )
    return states


def _append(
    *,
    lead: Lead,
    canal: str,
    estado: str,
    base_legal: str,
    origem: str,
    evidencia: dict[str, Any] | None,
    actor: Membership | None,
    at: datetime | None = None,
) -> ConsentRecord:
    return ConsentRecord.objects.create(
        organization_id=lead.organization_id,
        lead=lead,
        canal=canal,
        estado=estado,
        base_legal=base_legal,
        origem=origem[:30],
        evidencia=evidencia or {},
        actor=actor,
        at=at or timezone.now(),
    )


@transaction.atomic
def consent_set(
    *,
    lead: Lead,
    canal: str,
    estado: str,
    origem: str,
    base_legal: str | None = None,
    evidencia: dict[str, Any] | None = None,
    actor: Membership | None = None,
) -> ConsentRecord:
    """Append a consent entry; flips the lead's opt-out flag when the state changes."""
    from leads.services import lead_update

    canal = ConsentCanal(canal)
    estado = ConsentEstado(estado)
    if base_legal is None:
        current = next(s for s in consent_states(lead=lead) if s.canal == canal)
        base_legal = current.base_legal
    record = _append(
        lead=lead,
        canal=canal,
        estado=estado,
        base_legal=BaseLegal(base_legal),
        origem=origem,
        evidencia=evidencia,
        actor=actor,
    )
    flag = FLAG_OF[canal]
    revoked = estado == ConsentEstado.REVOGADO
    fresh = Lead.objects.select_for_update().get(pk=lead.pk)
    if getattr(fresh, flag) != revoked:
        lead_update(lead=fresh, actor=actor, data={flag: revoked}, consent_recorded=True)
        setattr(lead, flag, revoked)
    return record


def record_flag_change(
    *, lead: Lead, flag: str, revoked: bool, actor: Membership | None, origem: str
) -> None:
    """The ledger entry for an opt-out flag changed through the lead itself."""
    canal = CANAL_OF[flag]
    current = ConsentRecord.objects.filter(lead=lead, canal=canal).order_by("-at", "-created_at")
    last = current.values_list("base_legal", flat=True).first()
    _append(
        lead=lead,
        canal=canal,
        estado=ConsentEstado.REVOGADO if revoked else ConsentEstado.CONCEDIDO,
        base_legal=last or DEFAULT_BASE,
        origem=origem,
        evidencia={"campo": flag},
        actor=actor,
    )
