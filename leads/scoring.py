"""Score recalculation (writes): after a change to a few leads, and the daily decay of all.

The formulas live in `leads/scores.py` (pure). Two ways to apply them, same results:

- PostgreSQL: one set-based statement per batch, `UPDATE leads ... FROM (aggregates over the
  batch's interactions and qualifications) WHERE the stored values differ`, so a lead whose
  score and temperatura are unchanged is not written at all (no dead tuple, no updated_at
  bump, no signal). `tests/leads/test_score_jobs.py` checks it against the pure functions.
- Anywhere else (SQLite in development): the rows are loaded in batches, the pure functions
  run in Python, and the changed leads are updated grouped by their new values.

Every batch that changed something sends `leads.signals.lead_scores_changed` inside its
transaction, so receivers that enqueue work do it on commit.

Concurrency: `lead_scores_recalculate` locks the leads first, so two recalculations of one
lead serialize and the later one reads everything committed before it. The decay job does not
lock (it would write every row); instead its UPDATE skips leads modified after the batch
started (`updated_at`), which PostgreSQL re-checks on the newest row version when a
recalculation commits concurrently, so a stale bulk value never overwrites a fresh one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from config.transaction_settings import set_local
from leads import scores, signals
from leads.models import CLOSED_STATUSES, Lead, LeadInteraction, LeadQualification
from organizations.models import Organization

# Leads per decay batch: big enough for set-based work to pay, small enough that a batch's row
# locks (only the changed leads) are held for a fraction of a second.
DECAY_BATCH_SIZE = 5000
PYTHON_BATCH_SIZE = 1000
# Written out as literals (our own constants) so PostgreSQL can match the partial index
# lead_org_open_id, whose predicate is the same list.
_CLOSED_SQL = ", ".join(f"'{status.value}'" for status in sorted(CLOSED_STATUSES))


@dataclass(frozen=True)
class DecayResult:
    """What one organization's decay run did."""

    leads_seen: int
    leads_updated: int
    batches: int


@dataclass(frozen=True)
class _BatchOutcome:
    size: int
    last_id: uuid.UUID | None
    changed: list[uuid.UUID]


def use_sql() -> bool:
    return connection.vendor == "postgresql"


def lead_scores_recalculate(
    *, organization_id: Any, lead_ids: Iterable[Any], now: datetime | None = None
) -> list[uuid.UUID]:
    """Recomputes the given leads of one organization (any status); returns those changed.

    Unknown ids and other organizations' leads are ignored (a lead may be deleted between the
    enqueue and the job).
    """
    ids = sorted({uuid.UUID(str(i)) for i in lead_ids})
    if not ids:
        return []
    now = now or timezone.now()
    organization = _organization(organization_id)
    if organization is None:
        return []
    changed: list[uuid.UUID] = []
    with transaction.atomic():
        # Lock in id order: concurrent recalculations of overlapping sets cannot deadlock.
        locked = list(
            Lead.objects.filter(organization_id=organization.pk, pk__in=ids)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        if not locked:
            return []
        if use_sql():
            changed = _update_sql(
                organization=organization,
                batch="l.organization_id = %(org)s AND l.id = ANY(%(ids)s)",
                params={"ids": locked},
                now=now,
                guard_at=None,
            ).changed
        else:
            changed = _update_python(
                organization=organization,
                leads=Lead.objects.filter(pk__in=locked),
                now=now,
                guard_at=None,
            )
        _announce(organization.pk, changed)
    return changed


def lead_scores_decay(
    *,
    organization_id: Any,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> DecayResult:
    """Recomputes every open lead of the organization in batches (one transaction each),
    writing only the leads whose lead_score or temperatura changes."""
    organization = _organization(organization_id)
    if organization is None:
        return DecayResult(leads_seen=0, leads_updated=0, batches=0)
    sql = use_sql()
    size = batch_size or (DECAY_BATCH_SIZE if sql else PYTHON_BATCH_SIZE)
    open_leads = Lead.objects.filter(organization_id=organization.pk).exclude(
        status__in=CLOSED_STATUSES
    )
    seen = updated = batches = 0
    after: uuid.UUID | None = None
    while True:
        # The guard is always the real clock: `now` may be a chosen reference time (tests).
        guard_at = timezone.now()
        reference = now or guard_at
        with transaction.atomic():
            if sql:
                # One statement per batch: it picks the next `size` open leads by id itself,
                # so no id list travels between Python and the database.
                outcome = _update_sql(
                    organization=organization,
                    batch=(
                        f"l.organization_id = %(org)s AND l.status NOT IN ({_CLOSED_SQL})"
                        " AND l.id > %(after)s ORDER BY l.id LIMIT %(size)s"
                    ),
                    params={"after": after or uuid.UUID(int=0), "size": size},
                    now=reference,
                    guard_at=guard_at,
                )
            else:
                outcome = _decay_batch_python(
                    organization=organization,
                    open_leads=open_leads,
                    after=after,
                    size=size,
                    now=reference,
                    guard_at=guard_at,
                )
            _announce(organization.pk, outcome.changed)
        if not outcome.size:
            break
        seen += outcome.size
        updated += len(outcome.changed)
        batches += 1
        after = outcome.last_id
    return DecayResult(leads_seen=seen, leads_updated=updated, batches=batches)


def _decay_batch_python(
    *,
    organization: Organization,
    open_leads: QuerySet[Lead],
    after: uuid.UUID | None,
    size: int,
    now: datetime,
    guard_at: datetime,
) -> _BatchOutcome:
    """One Python-side decay batch: the next `size` open leads after `after`, by id."""
    keys = open_leads.order_by("pk")
    if after is not None:
        keys = keys.filter(pk__gt=after)
    ids = list(keys.values_list("pk", flat=True)[:size])
    return _BatchOutcome(
        size=len(ids),
        last_id=ids[-1] if ids else None,
        changed=_update_python(
            organization=organization,
            leads=open_leads.filter(pk__in=ids),
            now=now,
            guard_at=guard_at,
        )
        if ids
        else [],
    )


def _organization(organization_id: Any) -> Organization | None:
    # Deleted between the enqueue and the job: nothing to do (a retry would not help).
    return Organization.objects.only("id", "ticket_alvo").filter(pk=organization_id).first()


def _announce(organization_id: Any, changed: Sequence[uuid.UUID]) -> None:
    if changed:
        signals.lead_scores_changed.send(
            sender=Lead, organization_id=organization_id, lead_ids=list(changed)
        )


# The statement mirrors leads.scores (see its docstring for the exact meaning of each rule):
# - `batch` selects the leads: the next N open leads by id for the decay (the keyset walks the
#   partial index lead_org_open_id), a list of ids for a recalculation;
# - per lead, one index-only probe into interaction_lead_contact gives, over its contacts
#   (non-sem_resposta interactions): the last contact (any age), the number in the 30-day
#   window, the latest instant in the window, and the latest instant in the window of a
#   bonus result; the +10 applies when the last two are equal (a bonus-type interaction is
#   among the latest ones);
# - round() of a non-negative numeric rounds half up, like ROUND_HALF_UP in Python;
# - a NULL last contact makes both age tests false, as "no contact" does in Python;
# - only the changed leads reach the UPDATE; the statement returns the batch's size and last
#   id (the decay's keyset) with the ids it updated.
# Shapes chosen from EXPLAIN on 1M leads: batches are never id ranges (PostgreSQL cannot
# estimate a range of uuids and then picks plans that rescan it), and every step keeps exact
# row estimates so the UPDATE probes the primary key instead of hashing the whole table.
_SCORE_SQL = """
WITH batch AS MATERIALIZED (
    SELECT l.id, l.status, l.valor_potencial, l.origem, l.lead_score, l.temperatura
    FROM leads l
    WHERE {batch}
),
-- MATERIALIZED: compute each score once (inlined, the expression is repeated per use).
scored AS MATERIALIZED (
    SELECT b.id, b.lead_score AS old_score, b.temperatura AS old_temperatura, c.last_contact,
           CASE WHEN b.status = %(converted)s THEN %(score_max)s
           ELSE LEAST(%(score_max)s, GREATEST(0, round(
               %(weight)s * coalesce((
                   SELECT q.qualification_score FROM lead_qualification_details q
                   WHERE q.lead_id = b.id
               ), 0)
               + LEAST(%(interaction_max)s, %(per_interaction)s * c.recent)
               + CASE WHEN c.latest_bonus = c.latest_recent THEN %(bonus_points)s ELSE 0 END
               + CASE WHEN b.valor_potencial >= %(ticket_alvo)s THEN %(ticket_points)s ELSE 0 END
               + CASE WHEN b.origem = %(referral)s THEN %(referral_points)s ELSE 0 END
           )))::integer END AS score
    FROM batch b
    -- An aggregate without GROUP BY gives exactly one row per lead (count 0 and NULL maxima
    -- when it has no contact), which also keeps the planner's row estimates exact.
    CROSS JOIN LATERAL (
        SELECT max(i.data_interacao) AS last_contact,
               count(*) FILTER (WHERE i.data_interacao >= %(window_start)s) AS recent,
               max(i.data_interacao) FILTER (WHERE i.data_interacao >= %(window_start)s)
                   AS latest_recent,
               max(i.data_interacao) FILTER (
                   WHERE i.data_interacao >= %(window_start)s AND i.resultado = ANY(%(bonus)s)
               ) AS latest_bonus
        FROM lead_interactions i
        WHERE i.lead_id = b.id AND i.resultado <> %(no_answer)s
    ) c
),
changed AS MATERIALIZED (
    SELECT id, score, temperatura
    FROM (
        SELECT id, score, old_score, old_temperatura,
               CASE WHEN score >= %(hot_score)s AND last_contact >= %(hot_since)s
                        THEN %(quente)s
                    WHEN score >= %(warm_score)s OR last_contact >= %(warm_since)s
                        THEN %(morno)s
                    ELSE %(frio)s END AS temperatura
        FROM scored
    ) t
    WHERE old_score <> score OR old_temperatura <> temperatura
),
updated AS (
    UPDATE leads l
    SET lead_score = f.score, temperatura = f.temperatura, updated_at = %(now)s
    FROM changed f
    WHERE l.id = f.id
      -- Re-checked on the newest row version if a concurrent write committed meanwhile.
      AND (l.lead_score <> f.score OR l.temperatura <> f.temperatura)
      {guard}
    RETURNING l.id
)
SELECT (SELECT count(*) FROM batch),
       (SELECT id FROM batch ORDER BY id DESC LIMIT 1),
       ARRAY(SELECT id FROM updated ORDER BY id)
"""


def _update_sql(
    *,
    organization: Organization,
    batch: str,
    params: dict[str, Any],
    now: datetime,
    guard_at: datetime | None,
) -> _BatchOutcome:
    guard = "AND l.updated_at <= %(guard_at)s" if guard_at is not None else ""
    sql = _SCORE_SQL.format(batch=batch, guard=guard)
    all_params = {
        **params,
        "org": organization.pk,
        "now": guard_at or now,
        "guard_at": guard_at,
        "window_start": now - scores.ENGAGEMENT_WINDOW,
        "hot_since": now - scores.HOT_CONTACT_AGE,
        "warm_since": now - scores.WARM_CONTACT_AGE,
        "bonus": sorted(scores.BONUS_RESULTS),
        "no_answer": scores.NO_ANSWER,
        "converted": scores.CONVERTED,
        "referral": scores.REFERRAL_ORIGIN,
        "score_max": scores.SCORE_MAX,
        "weight": scores.QUALIFICATION_WEIGHT,
        "interaction_max": scores.INTERACTION_POINTS_MAX,
        "per_interaction": scores.POINTS_PER_INTERACTION,
        "bonus_points": scores.LATEST_RESULT_BONUS,
        "ticket_alvo": organization.ticket_alvo,
        "ticket_points": scores.TICKET_POINTS,
        "referral_points": scores.REFERRAL_POINTS,
        "hot_score": scores.HOT_SCORE,
        "warm_score": scores.WARM_SCORE,
        "quente": scores.QUENTE,
        "morno": scores.MORNO,
        "frio": scores.FRIO,
    }
    # The plan's estimated cost crosses the JIT threshold, but compiling it costs more than
    # the whole batch takes to run (bench/README.md).
    set_local(jit="off")
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        size, last_id, changed = cursor.fetchone()
    return _BatchOutcome(size=size, last_id=last_id, changed=list(changed))


def compute_scores(
    *, organization: Organization, leads: QuerySet[Lead], now: datetime
) -> dict[uuid.UUID, tuple[int, str]]:
    """(lead_score, temperatura) of each lead by the pure functions: 3 queries per call."""
    rows = list(leads.values("pk", "status", "valor_potencial", "origem"))
    ids = [row["pk"] for row in rows]
    qualification = dict(
        LeadQualification.objects.filter(lead_id__in=ids).values_list(
            "lead_id", "qualification_score"
        )
    )
    contacts = LeadInteraction.objects.filter(lead_id__in=ids).exclude(resultado=scores.NO_ANSWER)
    recent: dict[uuid.UUID, list[scores.Contact]] = defaultdict(list)
    for lead_id, resultado, moment in contacts.filter(
        data_interacao__gte=now - scores.ENGAGEMENT_WINDOW
    ).values_list("lead_id", "resultado", "data_interacao"):
        recent[lead_id].append(scores.Contact(resultado=resultado, data_interacao=moment))
    last_contact = dict(
        contacts.order_by()
        .values("lead_id")
        .annotate(last=Max("data_interacao"))
        .values_list("lead_id", "last")
    )
    ticket_alvo: Decimal = organization.ticket_alvo
    result: dict[uuid.UUID, tuple[int, str]] = {}
    for row in rows:
        score = scores.lead_score(
            status=row["status"],
            qualification_score=qualification.get(row["pk"]),
            interactions=recent.get(row["pk"], []),
            valor_potencial=row["valor_potencial"],
            origem=row["origem"],
            ticket_alvo=ticket_alvo,
            now=now,
        )
        temperatura = scores.temperatura(
            lead_score=score, last_contact_at=last_contact.get(row["pk"]), now=now
        )
        result[row["pk"]] = (score, temperatura)
    return result


def _update_python(
    *,
    organization: Organization,
    leads: QuerySet[Lead],
    now: datetime,
    guard_at: datetime | None,
) -> list[uuid.UUID]:
    computed = compute_scores(organization=organization, leads=leads, now=now)
    stored = {
        pk: (score, temperatura)
        for pk, score, temperatura in Lead.objects.filter(pk__in=list(computed)).values_list(
            "pk", "lead_score", "temperatura"
        )
    }
    groups: dict[tuple[int, str], list[uuid.UUID]] = defaultdict(list)
    for pk, values in computed.items():
        if pk in stored and stored[pk] != values:
            groups[values].append(pk)
    changed: list[uuid.UUID] = []
    stamp = guard_at or now
    for (score, temperatura), pks in groups.items():
        targets = Lead.objects.filter(pk__in=pks)
        if guard_at is not None:
            targets = targets.filter(updated_at__lte=guard_at)
        # Read then write inside the batch's transaction; SQLite serializes writers, so the
        # ids read are the ids written.
        hit = list(targets.values_list("pk", flat=True))
        Lead.objects.filter(pk__in=hit).update(
            lead_score=score, temperatura=temperatura, updated_at=stamp
        )
        changed.extend(hit)
    return sorted(changed)
