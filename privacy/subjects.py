"""Who a data subject request is about: the identifier, its keyed hash and the person's rows.

A person is found by an email, a phone or a lead / mentee id, and then by the links between
their rows: a lead and the mentee it became are one person. Nothing here writes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.errors import NotFound, ValidationError
from leads.models import Lead
from leads.phones import InvalidPhone, normalize_phone, phone_match_key
from mentorados.models import Mentorado
from organizations.models import Organization

# What anonymised rows are called; never one of a person's values.
ANONYMOUS_NAME = "Titular anonimizado"
IDENTIFIER_KINDS = ("email", "telefone", "lead_id", "mentorado_id")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")


def identifier_hash(kind: str, value: str) -> str:
    """HMAC-SHA256 of the normalised identifier, keyed by a key derived from SECRET_KEY."""
    key = hashlib.sha256(b"privacy-request-identifier:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Identifier:
    kind: str  # email | telefone | lead | mentorado (IdentificadorTipo)
    value: str

    @property
    def hash(self) -> str:
        return identifier_hash(self.kind, self.value)


def parse_identifier(data: dict[str, Any]) -> Identifier:
    """Exactly one of email, telefone, lead_id, mentorado_id, normalised; 400 otherwise."""
    given = {k: data.get(k) for k in IDENTIFIER_KINDS if data.get(k) not in (None, "")}
    if len(given) != 1:
        raise ValidationError(
            details={
                "identificador": [
                    _("Informe exatamente um entre email, telefone, lead_id e mentorado_id.")
                ]
            }
        )
    kind, raw = next(iter(given.items()))
    if not isinstance(raw, str) or len(raw) > 254:
        raise ValidationError(details={kind: [_("Valor inválido.")]})
    text = raw.strip()
    if kind == "email":
        if "@" not in text:
            raise ValidationError(details={"email": [_("Informe um email válido.")]})
        return Identifier("email", text.lower())
    if kind == "telefone":
        try:
            return Identifier("telefone", normalize_phone(text))
        except InvalidPhone:
            raise ValidationError(details={"telefone": [_("Telefone inválido.")]}) from None
    if not UUID_RE.fullmatch(text):
        raise ValidationError(details={kind: [_("Informe um id válido.")]})
    return Identifier(kind.removesuffix("_id"), text.lower())


@dataclass
class Subject:
    """The person's rows in one organization, by id."""

    lead_ids: list[str] = field(default_factory=list)
    mentorado_ids: list[str] = field(default_factory=list)

    def overlaps(self, lead_ids: list[str], mentorado_ids: list[str]) -> bool:
        return bool(set(self.lead_ids) & set(lead_ids)) or bool(
            set(self.mentorado_ids) & set(mentorado_ids)
        )


def subject_find(*, organization: Organization, identifier: Identifier) -> Subject:
    """The person's leads and mentees; NotFound (404) when the organization has none."""
    leads = Lead.objects.filter(organization=organization)
    mentees = Mentorado.objects.filter(organization=organization)
    if identifier.kind == "email":
        lead_q, mentee_q = Q(email__iexact=identifier.value), Q(email__iexact=identifier.value)
    elif identifier.kind == "telefone":
        key = phone_match_key(identifier.value)
        lead_q = Q(telefone=identifier.value) | Q(telefone_chave=key)
        mentee_q = Q(telefone=identifier.value)
    elif identifier.kind == "lead":
        lead_q, mentee_q = Q(pk=identifier.value), Q(lead_id=identifier.value)
    else:
        lead_q, mentee_q = Q(mentorado__pk=identifier.value), Q(pk=identifier.value)
    lead_ids = {str(pk) for pk in leads.filter(lead_q).values_list("pk", flat=True)}
    mentee_rows = list(mentees.filter(mentee_q | Q(lead_id__in=lead_ids)).values("pk", "lead_id"))
    lead_ids |= {str(row["lead_id"]) for row in mentee_rows if row["lead_id"]}
    mentee_ids = {str(row["pk"]) for row in mentee_rows}
    if not lead_ids and not mentee_ids:
        raise NotFound(_("Nenhum titular com esse identificador nesta organização."))
    return Subject(lead_ids=sorted(lead_ids), mentorado_ids=sorted(mentee_ids))


def personal_values(*, lead_ids: list[str], mentorado_ids: list[str]) -> set[str]:
    """The person's own values (names, emails, phones in the forms stored), to be scrubbed
    wherever a copy of them ended up (titles, JSON payloads, audit rows, import files)."""
    values: set[str] = set()
    fields = ("nome_completo", "email", "telefone")
    rows: list[dict[str, Any]] = []
    # The audit trail holds earlier values too (a name corrected, an old email).
    pairs: list[tuple[Any, list[str]]] = [(Lead, lead_ids), (Mentorado, mentorado_ids)]
    for model, ids in pairs:
        rows += list(model.objects.filter(pk__in=ids).values(*fields))
        rows += list(model.history.filter(id__in=ids).values(*fields).distinct())
    for row in rows:
        values.update(_forms(row))
    return {v for v in values if v and v != ANONYMOUS_NAME and len(v) >= 4}


def _forms(row: dict[str, Any]) -> set[str]:
    forms = {row["nome_completo"] or "", row["email"] or ""}
    phone = row["telefone"] or ""
    if phone:
        digits = "".join(ch for ch in phone if ch.isdigit())
        forms |= {phone, digits, phone_match_key(phone) or ""}
    return forms
