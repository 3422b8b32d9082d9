"""Lead field rules shared by the API's serializer, the admin and the file import (and the
mentees' email and phone, in their API and admin: one rule for a contact).

Functions without DRF (only the seat and origem choices at the end read the database): each
takes what a person typed and returns the stored form, or raises Django's ValidationError with
a Portuguese message. DRF turns a Django ValidationError raised in a `validate_<field>` method
into a 400 for that field, so the API, the admin and the import answer with the same messages.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.search import fold
from leads.phones import InvalidPhone, normalize_phone
from organizations.models import MANAGER_ROLES, Membership, Role

ORIGEM_RE = re.compile(r"^[a-z0-9_]{1,40}$")
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slug_key(text: str) -> str:
    """`Tráfego pago` -> `trafego_pago`; `E-mail` -> `e_mail`: a label as a code."""
    return _NOT_WORD.sub("_", fold(text)).strip("_")


def clean_nome(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationError(_("Informe o nome do lead."))
    return value


def clean_email(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


def clean_telefone(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return normalize_phone(value)
    except InvalidPhone:
        raise ValidationError(
            _("Telefone inválido. Informe DDD e número, por exemplo (11) 98765-4321.")
        ) from None


def clean_origem(value: str) -> str:
    value = (value or "").strip().lower()
    if not ORIGEM_RE.match(value):
        raise ValidationError(
            _("Use letras minúsculas, números e _ (por exemplo: instagram, indicacao).")
        )
    return value


def clean_utm(value: str | None) -> str | None:
    """A UTM parameter as received, trimmed; blank means none."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > 100:
        raise ValidationError(_("No máximo %(n)s caracteres.") % {"n": 100})
    return value


def clean_tags(values: list[Any]) -> list[str]:
    """Lowercase, trimmed, each once, in their order (filters match tags exactly)."""
    if len(values) > MAX_TAGS:
        raise ValidationError(_("No máximo %(n)s tags.") % {"n": MAX_TAGS})
    tags: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(_("Tag vazia ou inválida."))
        tag = value.strip().lower()
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationError(
                _("Cada tag pode ter no máximo %(n)s caracteres.") % {"n": MAX_TAG_LENGTH}
            )
        tags.append(tag)
    return list(dict.fromkeys(tags))


def choice_from_text(text: str, choices: list[tuple[str, Any]]) -> str | None:
    """The choice code for a code or a label as users see it (`Em contato`, `Negociação`,
    `QUENTE`), accents and case ignored; None when nothing matches."""
    key = slug_key(text)
    for code, label in choices:
        with translation.override("pt-br"):
            portuguese = slug_key(str(label))
        if key in (slug_key(code), portuguese, slug_key(str(label))):
            return code
    return None


def parse_tags_text(text: str) -> list[str]:
    """Tags typed as "vip, retorno" (commas, semicolons or new lines) in the admin."""
    parts = re.split(r"[,\n;]", text or "")
    return clean_tags([part for part in parts if part.strip()])


# --- Choices that need the database (the admin's form and the API's serializer) -------------

# Roles a member needs to sit as a lead's closer or SDR (managers may fill either seat).
SEAT_ROLES = {"closer": Role.CLOSER, "sdr": Role.SDR}
SEAT_MESSAGES = {
    "closer": gettext_lazy("Escolha um membro ativo com papel closer, gestor ou administrador."),
    "sdr": gettext_lazy("Escolha um membro ativo com papel SDR, gestor ou administrador."),
}


def members_for_seat(organization: Any, seat: str) -> QuerySet[Membership]:
    """Active members of the organization who may sit as the lead's closer or SDR."""
    allowed = {SEAT_ROLES[seat], *MANAGER_ROLES}
    return Membership.objects.for_org(organization).filter(ativo=True, role__in=allowed)


USUAL_ORIGENS = ("instagram", "indicacao", "trafego_pago", "whatsapp", "evento", "site", "organico")


def known_origens(organization: Any) -> list[str]:
    """The organization's origem values in use plus the usual ones (the admin's choices)."""
    from leads.models import Lead  # models import this module's neighbours; keep it lazy

    used = (
        Lead.objects.for_org(organization)
        .order_by()
        .values_list("origem", flat=True)
        .distinct()[:200]
    )
    return sorted({*USUAL_ORIGENS, *used, "outro"})
