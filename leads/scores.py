"""Lead scoring formulas (DOMAIN.md, "Scores"): pure functions, no database access.

`leads/scoring.py` applies them to rows (per lead after a change, and in bulk by the daily
decay job, whose PostgreSQL statement mirrors these functions and is tested against them).

What "days old" and "the last 30 days" mean here (DOMAIN.md leaves it open):

- Ages are **elapsed time** measured from `now`, not calendar days in the organization's time
  zone. A contact is "at most 7 days old" when `now - data_interacao <= 7 * 24h`; an interaction
  is "in the last 30 days" when `now - data_interacao <= 30 * 24h`. Both ends are inclusive.
  Elapsed time gives the same answer whichever job computes it and whenever it runs, needs no
  time zone (so no DST or per-organization cut-off), and is one comparison in SQL. The cost:
  a lead crosses a boundary at an arbitrary hour and the daily decay job notices it at its next
  run, so a stored temperatura may lag by up to a day (any interaction or qualification change
  recomputes the lead at once).
- An interaction dated in the future (clock skew; the API refuses them) counts as 0 days old.
- "The latest such interaction" (for the +10) is the latest non-`sem_resposta` interaction
  inside the 30-day window. When several share that latest instant, the bonus applies if any
  of them is `agendamento` or `proposta_enviada` (order-independent, so SQL and Python agree).
- An interaction with an empty resultado is "not sem_resposta": it counts as a contact.
- No qualification counts as a qualification_score of 0; a missing valor_potencial earns no
  ticket points.
- Rounding is half-up (`round()` of a non-negative numeric in PostgreSQL); with integer
  qualification scores 0.6 x q never ends in .5, so this only matters for robustness.
- A `convertido` lead scores 100 whatever its history; its temperatura still follows the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

AUTHORITY_POINTS = {"decisor": 25, "influenciador": 15, "usuario": 5}
PRAZO_POINTS = {"imediato": 20, "curto": 12, "medio": 6}

# DOMAIN.md "Scores" constants, named once so the SQL in leads/scoring.py uses the same values.
NO_ANSWER = "sem_resposta"
CONVERTED = "convertido"
REFERRAL_ORIGIN = "indicacao"
BONUS_RESULTS = frozenset({"agendamento", "proposta_enviada"})
QUALIFICATION_WEIGHT = Decimal("0.6")
POINTS_PER_INTERACTION = 5
INTERACTION_POINTS_MAX = 15
LATEST_RESULT_BONUS = 10
TICKET_POINTS = 10
REFERRAL_POINTS = 5
SCORE_MAX = 100
ENGAGEMENT_WINDOW = timedelta(days=30)
HOT_SCORE = 70
HOT_CONTACT_AGE = timedelta(days=7)
WARM_SCORE = 40
WARM_CONTACT_AGE = timedelta(days=14)

QUENTE, MORNO, FRIO = "quente", "morno", "frio"


def qualification_score(
    *,
    budget_confirmado: bool,
    authority_nivel: str | None,
    necessidade_identificada: bool,
    prazo_decisao: str | None,
) -> int:
    """BANT score 0-100: budget 30 + authority (25/15/5) + need 25 + timing (20/12/6)."""
    score = 30 if budget_confirmado else 0
    score += AUTHORITY_POINTS.get(authority_nivel or "", 0)
    score += 25 if necessidade_identificada else 0
    score += PRAZO_POINTS.get(prazo_decisao or "", 0)
    return score


class InteractionLike(Protocol):
    """What the formulas read from an interaction (a LeadInteraction or a `Contact`)."""

    @property
    def resultado(self) -> str: ...

    @property
    def data_interacao(self) -> datetime: ...


@dataclass(frozen=True)
class Contact:
    """An interaction as the formulas see it: its outcome and when it happened."""

    resultado: str
    data_interacao: datetime


def is_contact(interaction: InteractionLike) -> bool:
    """A contact is any interaction whose resultado is not `sem_resposta`."""
    return interaction.resultado != NO_ANSWER


def last_contact_at(interactions: Iterable[InteractionLike]) -> datetime | None:
    """When the lead was last contacted (latest non-`sem_resposta` interaction), any age."""
    moments = [i.data_interacao for i in interactions if is_contact(i)]
    return max(moments) if moments else None


def _within(moment: datetime, age: timedelta, now: datetime) -> bool:
    # Inclusive: exactly `age` old still counts; future moments count as 0 days old.
    return now - moment <= age


def engagement_points(interactions: Iterable[InteractionLike], *, now: datetime) -> int:
    """0-25: 5 per contact in the last 30 days (max 15), +10 if the latest of them is
    `agendamento` or `proposta_enviada`."""
    recent = [
        i
        for i in interactions
        if is_contact(i) and _within(i.data_interacao, ENGAGEMENT_WINDOW, now)
    ]
    if not recent:
        return 0
    points = min(INTERACTION_POINTS_MAX, POINTS_PER_INTERACTION * len(recent))
    latest = max(i.data_interacao for i in recent)
    if any(i.resultado in BONUS_RESULTS for i in recent if i.data_interacao == latest):
        points += LATEST_RESULT_BONUS
    return points


def fit_points(*, valor_potencial: Decimal | None, ticket_alvo: Decimal, origem: str) -> int:
    """0-15: 10 if valor_potencial >= the organization's ticket_alvo, 5 if origem is a referral."""
    points = 0
    if valor_potencial is not None and valor_potencial >= ticket_alvo:
        points += TICKET_POINTS
    if origem == REFERRAL_ORIGIN:
        points += REFERRAL_POINTS
    return points


def lead_score(
    *,
    status: str,
    qualification_score: int | None,
    interactions: Iterable[InteractionLike],
    valor_potencial: Decimal | None,
    origem: str,
    ticket_alvo: Decimal,
    now: datetime,
) -> int:
    """round(0.6 x qualification_score + engagement + fit), at most 100; `convertido` is 100.

    `interactions` may hold all of the lead's interactions: the window and the `sem_resposta`
    rule are applied here.
    """
    if status == CONVERTED:
        return SCORE_MAX
    raw = (
        QUALIFICATION_WEIGHT * (qualification_score or 0)
        + engagement_points(interactions, now=now)
        + fit_points(valor_potencial=valor_potencial, ticket_alvo=ticket_alvo, origem=origem)
    )
    rounded = int(raw.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return max(0, min(SCORE_MAX, rounded))


def temperatura(*, lead_score: int, last_contact_at: datetime | None, now: datetime) -> str:
    """`quente` if score >= 70 and the last contact is at most 7 days old; else `morno` if
    score >= 40 or that contact is at most 14 days old; else `frio`."""
    recent_7 = last_contact_at is not None and _within(last_contact_at, HOT_CONTACT_AGE, now)
    recent_14 = last_contact_at is not None and _within(last_contact_at, WARM_CONTACT_AGE, now)
    if lead_score >= HOT_SCORE and recent_7:
        return QUENTE
    if lead_score >= WARM_SCORE or recent_14:
        return MORNO
    return FRIO
