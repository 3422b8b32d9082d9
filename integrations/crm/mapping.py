"""Which lead field goes to which CRM property / field, per connection.

A connection's ``field_mapping`` overrides the provider's defaults below; a field mapped to ""
is not synced (either way). Identity fields are fixed and not in the mapping: HubSpot keys
contacts by ``email`` and splits ``nome_completo`` into ``firstname``/``lastname``; Pipedrive
writes ``name``, ``emails`` and ``phones`` itself. Identity fields only flow outbound.

HubSpot targets are property internal names (lower case, digits, underscores); Pipedrive
targets are field names as shown in Pipedrive ("Lead score"), resolved to Pipedrive's field key
(a 40-character hash) when the connection's fields are prepared. Targets missing in the CRM are
created as custom properties / person fields (text, or number for the numeric fields).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from config.errors import ValidationError

__all__ = [
    "DEFAULTS",
    "FIXED_FIELDS",
    "MAPPABLE_FIELDS",
    "NUMERIC_FIELDS",
    "effective_mapping",
    "mapping_digest",
    "tracked_fields",
    "validate_mapping",
]

HUBSPOT = "hubspot"
PIPEDRIVE = "pipedrive"

# Our side: lead attributes (``closer`` is the closer's email).
MAPPABLE_FIELDS = (
    "telefone",
    "empresa",
    "cargo",
    "status",
    "origem",
    "temperatura",
    "lead_score",
    "valor_potencial",
    "closer",
)
NUMERIC_FIELDS = frozenset({"lead_score", "valor_potencial"})
FIXED_FIELDS: dict[str, frozenset[str]] = {
    HUBSPOT: frozenset({"nome_completo", "email"}),
    PIPEDRIVE: frozenset({"nome_completo", "email", "telefone"}),
}
# Lead model attribute behind each of our field names, where it differs.
LEAD_ATTRIBUTE = {"closer": "closer_id"}
OUR_FIELD = {attribute: field for field, attribute in LEAD_ATTRIBUTE.items()}

DEFAULTS: dict[str, dict[str, str]] = {
    HUBSPOT: {
        "telefone": "phone",
        "empresa": "company",
        "cargo": "jobtitle",
        "status": "hs_lead_status",
        "origem": "origem",
        "temperatura": "temperatura",
        "lead_score": "lead_score",
        "valor_potencial": "valor_potencial",
        "closer": "closer",
    },
    # Pipedrive: custom person fields named by their labels (below).
    PIPEDRIVE: {},
}
# Labels of the custom properties / fields created in the CRM for our fields (and the names of
# Pipedrive's default fields).
LABELS = {
    "telefone": "Telefone",
    "empresa": "Empresa",
    "cargo": "Cargo",
    "status": "Status do lead",
    "origem": "Origem",
    "temperatura": "Temperatura",
    "lead_score": "Lead score",
    "valor_potencial": "Valor potencial",
    "closer": "Closer",
}
_HUBSPOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


def mappable(provider: str) -> tuple[str, ...]:
    return tuple(f for f in MAPPABLE_FIELDS if f not in FIXED_FIELDS.get(provider, frozenset()))


DEFAULTS[PIPEDRIVE] = {field: LABELS[field] for field in mappable(PIPEDRIVE)}


def effective_mapping(provider: str, overrides: Mapping[str, Any] | None) -> dict[str, str]:
    """Our field -> CRM target for every synced mappable field (defaults + overrides)."""
    merged = dict(DEFAULTS.get(provider, {}))
    for field, target in (overrides or {}).items():
        if field in mappable(provider) and isinstance(target, str):
            merged[field] = target.strip()
    return {field: target for field, target in merged.items() if target}


def mapping_digest(provider: str, mapping: Mapping[str, str]) -> str:
    text = json.dumps([provider, sorted(mapping.items())])
    return hashlib.sha256(text.encode()).hexdigest()


def tracked_fields(provider: str, overrides: Mapping[str, Any] | None) -> frozenset[str]:
    """Lead attributes whose change matters to the CRM (fixed + mapped)."""
    fields = set(FIXED_FIELDS.get(provider, frozenset()))
    fields.update(effective_mapping(provider, overrides))
    return frozenset(LEAD_ATTRIBUTE.get(f, f) for f in fields)


def validate_mapping(provider: str, data: Any) -> dict[str, str]:
    """The cleaned overrides, or ValidationError with one message per bad entry."""
    if not isinstance(data, dict):
        message = _("Informe um objeto {campo: propriedade no CRM}.")
        raise ValidationError(message, details={"field_mapping": [message]})
    allowed = mappable(provider)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for field, target in data.items():
        if field not in allowed:
            errors[str(field)] = [
                _("Campo não mapeável. Use um de: %(campos)s.") % {"campos": ", ".join(allowed)}
            ]
        elif not isinstance(target, str) or len(target) > 100:
            errors[field] = [_("Informe o nome da propriedade (texto de até 100 caracteres).")]
        elif provider == HUBSPOT and target.strip() and not _HUBSPOT_NAME.match(target.strip()):
            errors[field] = [
                _("Nome interno do HubSpot: letras minúsculas, números e _ (ex.: lead_score).")
            ]
        else:
            cleaned[field] = target.strip()
    targets = list(effective_mapping(provider, cleaned).values())
    if len(set(targets)) != len(targets):
        errors["field_mapping"] = [_("Dois campos apontam para a mesma propriedade do CRM.")]
    if errors:
        raise ValidationError(_("Mapeamento de campos inválido."), details=errors)
    return cleaned
