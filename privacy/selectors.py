"""Reads of the audit trail: a record's history as field-by-field changes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Model

from organizations.models import Membership

# Columns that change on every save and say nothing about what someone changed.
NOISE = frozenset({"updated_at", "telefone_chave", "search_text"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    return value


def _fields(history_model: type[Model]) -> list[tuple[str, str]]:
    """(attribute, client name) of the tracked fields: FKs by their `<name>_id` column."""
    own = {
        "history_id",
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user",
        "history_user_id",
        "request_id",
        "via",
    }
    out = []
    for field in history_model._meta.concrete_fields:
        if field.name in own or field.name in NOISE:
            continue
        out.append((field.attname, field.attname))
    return out


def history_entries(*, records: list[Any], organization_id: Any) -> list[dict[str, Any]]:
    """`records` newest first -> [{at, actor, via, tipo, changes: {field: [old, new]}}]."""
    if not records:
        return []
    fields = _fields(type(records[0]))
    user_ids = {r.history_user_id for r in records if r.history_user_id is not None}
    members = {
        m.user_id: m
        for m in Membership.objects.filter(organization_id=organization_id, user_id__in=user_ids)
    }
    entries = []
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes: dict[str, list[Any]] = {}
        for attname, name in fields:
            new = getattr(record, attname)
            old = getattr(previous, attname) if previous is not None else None
            if record.history_type == "-":
                continue
            if previous is None and new in (None, "", [], {}):
                continue
            if old != new:
                changes[name] = [_plain(old), _plain(new)]
        member = members.get(record.history_user_id)
        entries.append(
            {
                "at": record.history_date,
                "actor": (
                    {"id": str(member.pk), "nome_completo": member.nome_completo}
                    if member is not None
                    else None
                ),
                "via": record.via or None,
                "tipo": {"+": "criacao", "~": "alteracao", "-": "remocao"}[record.history_type],
                "request_id": record.request_id or None,
                "changes": changes,
            }
        )
    return entries
