"""Lead routing: new leads without an owner go to a member by the organization's rules.

Rules are tried in `ordem`; the first active rule whose condition matches the lead decides:
- `rodizio` cycles the rule's members in their fixed order (the cursor is stored with the rule
  and advanced under the rule's row lock, so simultaneous creates never give two leads the same
  turn);
- `ponderada` spreads leads by weight with smooth weighted round-robin (nginx's algorithm: each
  eligible member's running weight grows by its weight, the largest wins and pays back the
  total), deterministic and fair over any window, state kept per member under the same lock;
- `fixo` gives every lead to the rule's first member.
Members who are inactive, absent that day (organization time zone, inclusive range) or at the
rule's `capacidade_diaria` (leads routed to them since the start of that day) are skipped. If
no member is eligible the lead stays unassigned and the managers are told.

The member's role decides the field: an SDR becomes the lead's `sdr`, anyone else its `closer`.
Each decision is a `LeadAssignment` row (the lead's timeline shows it as
"atribuído por rodízio: regra X") and the member gets a `lead_assigned` notification.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import (
    LEAD_UTM_FIELDS,
    Distribuicao,
    Lead,
    LeadAssignment,
    RoutingRule,
    RoutingRuleMember,
)
from organizations.models import (
    MemberAbsence,
    Membership,
    NotificationTipo,
    Organization,
    Role,
)
from organizations.notifications import managers_of, notify

DISTRIBUTION_LABELS = {
    Distribuicao.RODIZIO: "rodízio",
    Distribuicao.PONDERADA: "distribuição ponderada",
    Distribuicao.FIXO: "membro fixo",
}


# --- condition --------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def rule_matches(condicao: dict[str, Any], lead: Lead) -> bool:
    """Every given part must hold: origem in the list, any tag in common, each given UTM
    parameter in its list (ignoring case), valor in range."""
    origens = [str(o).lower() for o in condicao.get("origem") or []]
    if origens and (lead.origem or "").lower() not in origens:
        return False
    for key in LEAD_UTM_FIELDS:
        wanted = [str(v).lower() for v in condicao.get(key) or []]
        if wanted and (getattr(lead, key) or "").strip().lower() not in wanted:
            return False
    tags = {str(t).lower() for t in condicao.get("tags") or []}
    if tags and not tags & {str(t).lower() for t in lead.tags or []}:
        return False
    valor_min, valor_max = _decimal(condicao.get("valor_min")), _decimal(condicao.get("valor_max"))
    if valor_min is not None or valor_max is not None:
        valor = _decimal(lead.valor_potencial)
        if valor is None:
            return False
        if valor_min is not None and valor < valor_min:
            return False
        if valor_max is not None and valor > valor_max:
            return False
    return True


def matching_rule(rules: Sequence[RoutingRule], lead: Lead) -> RoutingRule | None:
    return next((rule for rule in rules if rule_matches(rule.condicao or {}, lead)), None)


# --- eligibility ------------------------------------------------------------------------------


def _day_start(organization: Organization, now: datetime) -> tuple[date, datetime]:
    zone = zoneinfo.ZoneInfo(organization.timezone)
    today = timezone.localtime(now, zone).date()
    return today, datetime.combine(today, time.min, tzinfo=zone)


class _Eligibility:
    """Who may take a lead of one rule today; counts grow as this batch assigns leads."""

    def __init__(self, rule: RoutingRule, members: list[RoutingRuleMember], now: datetime):
        organization = rule.organization
        today, start = _day_start(organization, now)
        ids = [m.membership_id for m in members]
        self.absent = set(
            MemberAbsence.objects.filter(
                membership_id__in=ids, inicio__lte=today, fim__gte=today
            ).values_list("membership_id", flat=True)
        )
        self.capacity = rule.capacidade_diaria
        self.counts: dict[Any, int] = defaultdict(int)
        if self.capacity is not None:
            rows = (
                LeadAssignment.objects.filter(membership_id__in=ids, at__gte=start)
                .values("membership_id")
                .annotate(n=Count("id"))
            )
            self.counts.update({row["membership_id"]: row["n"] for row in rows})

    def ok(self, member: RoutingRuleMember) -> bool:
        membership = member.membership
        if not membership.ativo or membership.role == Role.MENTOR:
            return False
        if membership.pk in self.absent:
            return False
        return self.capacity is None or self.counts[membership.pk] < self.capacity

    def took_one(self, member: RoutingRuleMember) -> None:
        self.counts[member.membership_id] += 1


def _pick(
    rule: RoutingRule, members: list[RoutingRuleMember], eligible: _Eligibility
) -> RoutingRuleMember | None:
    if not members:
        return None
    if rule.distribuicao == Distribuicao.FIXO:
        first = members[0]
        return first if eligible.ok(first) else None
    if rule.distribuicao == Distribuicao.PONDERADA:
        candidates = [m for m in members if eligible.ok(m) and m.peso > 0]
        if not candidates:
            return None
        total = sum(m.peso for m in candidates)
        for member in candidates:
            member.peso_atual += member.peso
        chosen = max(candidates, key=lambda m: (m.peso_atual, -m.posicao))
        chosen.peso_atual -= total
        return chosen
    count = len(members)
    for step in range(count):
        index = (rule.cursor + step) % count
        if eligible.ok(members[index]):
            rule.cursor = (index + 1) % count
            return members[index]
    return None


# --- routing ----------------------------------------------------------------------------------


def _active_rules(organization_id: Any) -> list[RoutingRule]:
    return list(RoutingRule.objects.filter(organization_id=organization_id, ativo=True))


def leads_route(*, organization: Organization, leads: Sequence[Lead]) -> list[LeadAssignment]:
    """Choose owners for new, not yet saved leads that have neither closer nor SDR.

    Sets `closer`/`sdr` on the lead objects and returns the decisions; the caller saves the
    leads, then calls `leads_route_record`. Must run inside the caller's transaction: the rule
    rows stay locked until it commits, which is what keeps concurrent creates in turn.
    """
    unowned = [lead for lead in leads if lead.closer_id is None and lead.sdr_id is None]
    if not unowned:
        return []
    rules = _active_rules(organization.pk)
    if not rules:
        return []
    by_rule: dict[Any, list[Lead]] = defaultdict(list)
    for lead in unowned:
        rule = matching_rule(rules, lead)
        if rule is not None:
            by_rule[rule.pk].append(lead)
    now = timezone.now()
    assignments: list[LeadAssignment] = []
    # Lock in a fixed order so two batches touching the same rules cannot deadlock.
    for rule_id in sorted(by_rule, key=str):
        assignments += _route_with_rule(rule_id, by_rule[rule_id], now)
    return assignments


def leads_route_record(
    *,
    organization: Organization,
    assignments: Sequence[LeadAssignment],
    saved_ids: set[Any] | None = None,
) -> None:
    """Store the decisions of the leads that were saved and tell the members (and managers)."""
    kept = [a for a in assignments if saved_ids is None or a.lead_id in saved_ids]
    if not kept:
        return
    LeadAssignment.objects.bulk_create(kept)
    _notify(organization, kept)


def _route_with_rule(rule_id: Any, leads: list[Lead], now: datetime) -> list[LeadAssignment]:
    rule = RoutingRule.objects.select_for_update().select_related("organization").get(pk=rule_id)
    members = list(
        RoutingRuleMember.objects.filter(rule=rule)
        .select_related("membership")
        .order_by("posicao", "id")
    )
    eligible = _Eligibility(rule, members, now)
    label = DISTRIBUTION_LABELS.get(Distribuicao(rule.distribuicao), rule.distribuicao)
    assignments = []
    for lead in leads:
        chosen = _pick(rule, members, eligible)
        if chosen is None:
            motivo = _("sem membro disponível: regra %(regra)s") % {"regra": rule.nome}
            assignments.append(_assignment(lead, None, rule, "", motivo, now))
            continue
        eligible.took_one(chosen)
        field = "sdr" if chosen.membership.role == Role.SDR else "closer"
        setattr(lead, f"{field}_id", chosen.membership_id)
        setattr(lead, field, chosen.membership)
        motivo = _("atribuído por %(como)s: regra %(regra)s") % {"como": label, "regra": rule.nome}
        assignments.append(_assignment(lead, chosen.membership, rule, field, motivo, now))
    rule.save(update_fields=["cursor"])
    if rule.distribuicao == Distribuicao.PONDERADA:
        RoutingRuleMember.objects.bulk_update(members, ["peso_atual"])
    return assignments


def _assignment(
    lead: Lead,
    membership: Membership | None,
    rule: RoutingRule,
    field: str,
    motivo: str,
    now: datetime,
) -> LeadAssignment:
    return LeadAssignment(
        organization_id=lead.organization_id,
        lead=lead,
        membership=membership,
        rule=rule,
        campo=field,
        motivo=motivo,
        at=now,
    )


def _notify(organization: Organization, assignments: list[LeadAssignment]) -> None:
    per_member: dict[Any, list[LeadAssignment]] = defaultdict(list)
    unrouted: list[LeadAssignment] = []
    for assignment in assignments:
        if assignment.membership is None:
            unrouted.append(assignment)
        else:
            per_member[assignment.membership.pk].append(assignment)
    for items in per_member.values():
        member = items[0].membership
        lead = items[0].lead
        if len(items) == 1:
            titulo = _("Novo lead para você: %(nome)s") % {"nome": lead.nome_completo}
        else:
            titulo = _("%(n)d novos leads para você") % {"n": len(items)}
        notify(
            organization=organization,
            recipients=[member],
            tipo=NotificationTipo.LEAD_ASSIGNED,
            titulo=titulo,
            payload={"lead_ids": [str(a.lead_id) for a in items[:100]], "motivo": items[0].motivo},
        )
    if unrouted:
        notify(
            organization=organization,
            recipients=managers_of(organization),
            tipo=NotificationTipo.LEAD_ASSIGNED,
            titulo=_("%(n)d lead(s) sem responsável: nenhum membro disponível na regra")
            % {"n": len(unrouted)},
            payload={"lead_ids": [str(a.lead_id) for a in unrouted[:100]], "sem_responsavel": True},
        )
