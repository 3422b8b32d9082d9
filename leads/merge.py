"""Duplicate leads: candidate pairs beyond the exact duplicate rule, and merging two leads.

Candidates (`lead_duplicate_candidates`), each pair once with a score in [0, 1] and reasons:
- `telefone`: the same phone once Brazil's mobile ninth digit is ignored (`telefone_chave`),
  score 0.95 (the exact-phone rule already refuses identical numbers);
- `nome`: similar names, accents and case ignored (PostgreSQL: pg_trgm similarity >= 0.6
  through the organization-first trigram index `lead_org_name_fold`; SQLite: the same name
  ignoring case), score = similarity, raised when the companies are also alike (`empresa`).
Only leads the requester may see are paired; the newest `scan` leads are compared with all.

Merging (`leads_merge`) keeps the target lead's id; for each field the chosen side's value;
every row of any app that points to the other lead moves to the target (found through Django's
relation metadata, so apps above leads need no hook): a one-to-one row (qualification, mentee)
moves only when the target has none, and a row that cannot move because the target already
holds its unique slot (an active execution of the same sequence) is dropped with the other
lead. Both leads are locked first, in id order, so a concurrent edit waits and is not lost.
The other lead is deleted through the delete service (tombstone, signals) and a `LeadMerge`
row keeps who, when, both ids and the values dropped. The survivor's change is announced with
`lead_updated`, which schedules its CRM sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import Field, ForeignObjectRel, OneToOneRel, QuerySet
from django.utils.translation import gettext as _

from config import search
from config.errors import ValidationError
from leads import signals
from leads.models import LEAD_CONTACT_FIELDS, LEAD_UTM_FIELDS, Lead, LeadMerge
from leads.phones import phone_match_key
from leads.services import lead_delete
from organizations.models import Membership

MERGEABLE_FIELDS = (
    *LEAD_CONTACT_FIELDS,
    "valor_potencial",
    "closer",
    "sdr",
    "observacoes",
    "tags",
    *LEAD_UTM_FIELDS,
)
CHOICES = ("este", "outro")
NAME_SIMILARITY = 0.6
PHONE_SCORE = 0.95


@dataclass
class Candidate:
    lead_a: Lead
    lead_b: Lead
    score: float
    motivos: list[str] = field(default_factory=list)


def _pair_key(a: Any, b: Any) -> tuple[str, str]:
    x, y = str(a), str(b)
    return (x, y) if x < y else (y, x)


def lead_duplicate_candidates(
    *, leads: QuerySet[Lead], scan: int = 500, limit: int = 100
) -> list[Candidate]:
    """Candidate pairs among `leads` (already scoped to the organization and visibility)."""
    recent = list(leads.order_by("-created_at").values_list("pk", flat=True)[:scan])
    if not recent:
        return []
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(a: Any, b: Any, score: float, motivo: str) -> None:
        entry = found.setdefault(_pair_key(a, b), {"score": 0.0, "motivos": []})
        entry["score"] = max(entry["score"], score)
        if motivo not in entry["motivos"]:
            entry["motivos"].append(motivo)

    by_key = leads.filter(
        telefone_chave__in=leads.filter(pk__in=recent, telefone_chave__isnull=False).values(
            "telefone_chave"
        )
    ).values_list("pk", "telefone_chave")
    groups: dict[str, list[Any]] = {}
    for pk, key in by_key:
        if key:
            groups.setdefault(key, []).append(pk)
    for members in groups.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                add(a, b, PHONE_SCORE, "telefone")

    for a, b, name_score, company_score in _similar_names(leads, recent):
        score = name_score if company_score is None else (name_score + company_score) / 2 + 0.1
        add(a, b, min(round(score, 2), 1.0), "nome")
        if company_score is not None and company_score >= NAME_SIMILARITY:
            add(a, b, min(round(score, 2), 1.0), "empresa")

    ranked = sorted(found.items(), key=lambda item: -item[1]["score"])[:limit]
    ids = {pk for pair, _ in ranked for pk in pair}
    rows = {str(lead.pk): lead for lead in leads.filter(pk__in=ids)}
    return [
        Candidate(rows[a], rows[b], entry["score"], entry["motivos"])
        for (a, b), entry in ranked
        if a in rows and b in rows
    ]


def _similar_names(
    leads: QuerySet[Lead], recent: list[Any]
) -> list[tuple[Any, Any, float, float | None]]:
    if connection.vendor != "postgresql":
        return _same_names(leads, recent)
    scoped_sql, scoped_params = leads.values("pk").query.sql_with_params()
    # The `%` over f_unaccent(lower(coalesce(nome))) within the organization is the expression of
    # the lead_org_name_fold index, so each recent lead's neighbours come from the index. The
    # scoped subquery is Django's own compiled SQL with its parameters passed separately.
    # config.search's one folding (the ORM's `folded` as SQL).
    name_a = search.folded_sql(["a.nome_completo"], vendor="postgresql")
    name_b = search.folded_sql(["b.nome_completo"], vendor="postgresql")
    company_a = search.folded_sql(["a.empresa"], vendor="postgresql")
    company_b = search.folded_sql(["b.empresa"], vendor="postgresql")
    sql = f"""
        SELECT a.id, b.id, similarity({name_a}, {name_b}),
               CASE WHEN a.empresa <> '' AND b.empresa <> ''
                    THEN similarity({company_a}, {company_b})
               END
        FROM leads a JOIN leads b
          ON b.organization_id = a.organization_id AND b.id <> a.id AND {name_b} %% {name_a}
        WHERE a.id = ANY(%s) AND b.id IN ({scoped_sql})
          AND similarity({name_a}, {name_b}) >= %s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_limit(%s)", [NAME_SIMILARITY])
        cursor.execute(sql, [recent, *scoped_params, NAME_SIMILARITY])
        return [(a, b, float(n), None if c is None else float(c)) for a, b, n, c in cursor]


def _same_names(leads: QuerySet[Lead], recent: list[Any]) -> list[tuple[Any, Any, float, Any]]:
    """SQLite: the same name ignoring accents and case (and the same company when both have
    one), folded as the search folds (config.search.fold)."""
    rows = list(leads.values_list("pk", "nome_completo", "empresa"))
    by_name: dict[str, list[tuple[Any, str]]] = {}
    for pk, nome, empresa in rows:
        by_name.setdefault(search.fold(nome.strip()), []).append(
            (pk, search.fold((empresa or "").strip()))
        )
    recent_set = set(recent)
    pairs = []
    for group in by_name.values():
        for i, (a, empresa_a) in enumerate(group):
            for b, empresa_b in group[i + 1 :]:
                if a not in recent_set and b not in recent_set:
                    continue
                company = (
                    (1.0 if empresa_a == empresa_b else 0.0) if empresa_a and empresa_b else None
                )
                pairs.append((a, b, 1.0, company))
    return pairs


# --- merge ------------------------------------------------------------------------------------


def _attname(name: str) -> str:
    field = Lead._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{name} is not a concrete field")
    return field.attname


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _check_choices(campos: dict[str, Any]) -> None:
    problems = {}
    for name, choice in campos.items():
        if name not in MERGEABLE_FIELDS:
            problems[name] = [_("Campo que não pode ser escolhido na mesclagem.")]
        elif choice not in CHOICES:
            problems[name] = [_('Use "este" ou "outro".')]
    if problems:
        raise ValidationError(details={"campos": problems})


def _move_related_rows(target: Lead, other: Lead) -> None:
    for rel in Lead._meta.related_objects:
        if not isinstance(rel, ForeignObjectRel) or rel.many_to_many:
            continue
        model, name = rel.related_model, rel.field.name
        rows = model._default_manager.filter(**{name: other})
        if isinstance(rel, OneToOneRel):
            if not model._default_manager.filter(**{name: target}).exists():
                rows.update(**{name: target})
            continue
        try:
            with transaction.atomic():
                rows.update(**{name: target})
        except IntegrityError:
            # Some rows hold a unique slot the target already has: move the others one by one.
            for row in rows:
                try:
                    with transaction.atomic():
                        model._default_manager.filter(pk=row.pk).update(**{name: target})
                except IntegrityError:
                    continue


@transaction.atomic
def leads_merge(
    *, target: Lead, other: Lead, campos: dict[str, str], actor: Membership | None
) -> Lead:
    """Merge `other` into `target` (see the module docstring); returns the surviving lead."""
    if target.pk == other.pk:
        raise ValidationError(details={"outro_id": [_("Escolha outro lead.")]})
    _check_choices(campos)
    first, second = sorted([target.pk, other.pk], key=str)
    locked = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")
    }
    target, other = locked[target.pk], locked[other.pk]
    dropped: dict[str, Any] = {}
    changed: set[str] = set()
    for name in MERGEABLE_FIELDS:
        attname = _attname(name)
        mine, theirs = getattr(target, attname), getattr(other, attname)
        if campos.get(name) == "outro" and theirs != mine:
            dropped[name] = mine
            setattr(target, attname, theirs)
            changed.add(name)
        elif theirs not in (None, "", []) and theirs != mine:
            dropped[name] = theirs
    other_values = {name: getattr(other, _attname(name)) for name in dropped}
    _move_related_rows(target, other)
    other_id = other.pk
    lead_delete(lead=other, actor=actor)
    if changed:
        if "telefone" in changed:
            target.telefone_chave = phone_match_key(target.telefone)
            changed.add("telefone_chave")
        target.save(update_fields=sorted({_attname(n) for n in changed}))
    LeadMerge.objects.create(
        organization_id=target.organization_id,
        target_id=target.pk,
        merged_lead_id=other_id,
        merged_by=actor,
        campos=campos,
        valores_descartados=_json(dropped),
        valores_do_outro=_json(other_values),
    )
    signals.lead_updated.send(sender=Lead, lead=target, actor=actor, changed=changed)
    return target
