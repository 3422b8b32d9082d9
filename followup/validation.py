"""Field-by-field validation of a sequence's `steps` and `criterios_ativacao`.

Pure functions shared by the API serializer and the admin form. They return the normalized
value (only the keys that matter for each kind of step, defaults filled in) or raise
:class:`SequenceDataInvalid` whose ``details`` name the step index and the field, e.g.
``{"2": {"mensagem": ["Este campo é obrigatório."]}}`` for steps and
``{"status": ["Valor inválido: ganho. ..."]}`` for criteria.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils.translation import gettext as _

from config.errors import ValidationError
from followup.models import TipoAcao
from followup.templating import TemplateSyntaxProblem, validate_template
from leads.models import CLOSED_STATUSES, LeadStatus, Temperatura

__all__ = [
    "CRITERIA_KEYS",
    "STEP_FIELDS",
    "SequenceDataInvalid",
    "normalize_criteria",
    "normalize_steps",
    "normalize_variants",
    "validate_window",
]

MAX_STEPS = 30
MAX_DELAY_DIAS = 365
MAX_DELAY_HORAS = 24 * 365
MAX_ASSUNTO = 200
MAX_MENSAGEM = 10_000
MAX_WHATSAPP = 4096  # Meta's limit for a text message body
MAX_TITULO = 200
MAX_DESCRICAO = 5000
MAX_LIST_ITEMS = 50
# Meta template names: lowercase letters, digits and underscores.
TEMPLATE_NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
ORIGEM_RE = re.compile(r"^[a-z0-9_]{1,40}$")
TAG_MAX = 40

# Fields each kind of step keeps (the rest of a known field set is dropped, unknown keys fail).
COMMON_FIELDS = ("tipo_acao", "delay_dias", "delay_horas")
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    TipoAcao.EMAIL: ("assunto", "mensagem"),
    TipoAcao.WHATSAPP: ("mensagem", "template_name"),
    TipoAcao.LIGACAO: ("titulo", "descricao"),
    TipoAcao.TAREFA: ("titulo", "descricao"),
}
KNOWN_STEP_KEYS = (
    frozenset(COMMON_FIELDS) | {f for fs in STEP_FIELDS.values() for f in fs} | {"variantes"}
)
# A/B variants (followup.variants): on email and WhatsApp steps, 2 to MAX_VARIANTS of them.
VARIANT_KINDS = (TipoAcao.EMAIL, TipoAcao.WHATSAPP)
MAX_VARIANTS = 5
MAX_PESO = 100
VARIANT_ID_RE = re.compile(r"^[a-z0-9_-]{1,20}$")
# Fields rendered as templates (validated for placeholders when saved).
TEMPLATE_FIELDS = ("assunto", "mensagem", "titulo", "descricao")

CRITERIA_KEYS = (
    "status",
    "temperatura",
    "origem",
    "tags",
    "score_min",
    "score_max",
    "dias_sem_interacao",
)
OPEN_STATUSES = [s for s in LeadStatus.values if s not in CLOSED_STATUSES]


class SequenceDataInvalid(ValidationError, ValueError):
    """Validation failed; ``details`` maps step index (or criteria key) to field messages."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(details=details)


def _template_problem(problem: TemplateSyntaxProblem) -> str:
    return _("%(reason)s (em '%(placeholder)s')") % {
        "reason": problem.reason,
        "placeholder": problem.placeholder,
    }


def _int_field(raw: dict[str, Any], name: str, errors: dict[str, list[str]], maximum: int) -> int:
    value = raw.get(name, 0)
    if value is None:
        return 0
    # bool is an int in Python; `true` as a delay is a client bug, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            errors[name] = [_("Informe um número inteiro.")]
            return 0
    if value < 0:
        errors[name] = [_("Não pode ser negativo.")]
    elif value > maximum:
        errors[name] = [_("No máximo %(max)s.") % {"max": maximum}]
    return value


def _text_field(
    raw: dict[str, Any],
    name: str,
    errors: dict[str, list[str]],
    *,
    required: bool,
    max_length: int,
) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = [_("Este campo é obrigatório.")]
        return ""
    if not isinstance(value, str):
        errors[name] = [_("Informe um texto.")]
        return ""
    if len(value) > max_length:
        errors[name] = [_("No máximo %(max)s caracteres.") % {"max": max_length}]
        return value
    if name in TEMPLATE_FIELDS:
        try:
            validate_template(value)
        except TemplateSyntaxProblem as problem:
            errors[name] = [_template_problem(problem)]
    return value


def _normalize_step(raw: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": [_("Cada passo deve ser um objeto.")]}
    unknown = sorted(str(key) for key in raw if key not in KNOWN_STEP_KEYS)
    for key in unknown:
        errors[key] = [_("Campo desconhecido.")]
    tipo = raw.get("tipo_acao")
    if tipo is None or tipo == "":
        errors["tipo_acao"] = [_("Este campo é obrigatório.")]
        return {}, errors
    if tipo not in TipoAcao.values:
        errors["tipo_acao"] = [
            _("Tipo de ação desconhecido: %(tipo)s. Use: %(allowed)s.")
            % {"tipo": tipo, "allowed": ", ".join(TipoAcao.values)}
        ]
        return {}, errors
    step: dict[str, Any] = {
        "tipo_acao": tipo,
        "delay_dias": _int_field(raw, "delay_dias", errors, MAX_DELAY_DIAS),
        "delay_horas": _int_field(raw, "delay_horas", errors, MAX_DELAY_HORAS),
    }
    # With variants the step's own message is only a fallback: each variant has its own.
    has_variants = raw.get("variantes") not in (None, [])
    if tipo == TipoAcao.EMAIL:
        step["assunto"] = _text_field(raw, "assunto", errors, required=True, max_length=MAX_ASSUNTO)
        step["mensagem"] = _text_field(
            raw, "mensagem", errors, required=not has_variants, max_length=MAX_MENSAGEM
        )
    elif tipo == TipoAcao.WHATSAPP:
        step["mensagem"] = _text_field(
            raw, "mensagem", errors, required=not has_variants, max_length=MAX_WHATSAPP
        )
        template_name = raw.get("template_name")
        if template_name in (None, ""):
            step["template_name"] = ""
        elif not isinstance(template_name, str) or not TEMPLATE_NAME_RE.match(template_name):
            errors["template_name"] = [
                _("Nome de template inválido: use letras minúsculas, números e _.")
            ]
        else:
            step["template_name"] = template_name
    else:
        step["titulo"] = _text_field(raw, "titulo", errors, required=True, max_length=MAX_TITULO)
        step["descricao"] = _text_field(
            raw, "descricao", errors, required=False, max_length=MAX_DESCRICAO
        )
    if has_variants:
        _step_variants(raw["variantes"], tipo, step, errors)
    return step, errors


def _step_variants(
    value: Any, tipo: str, step: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    if tipo not in VARIANT_KINDS:
        errors["variantes"] = [_("Variantes só valem para passos de email e WhatsApp.")]
        return
    variants, problems = normalize_variants(value, tipo)
    if problems:
        errors["variantes"] = problems
    else:
        step["variantes"] = variants


def _variant(raw: Any, tipo: str, label: str) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(raw, dict):
        return {}, [_("%(v)s: cada variante deve ser um objeto.") % {"v": label}]
    allowed = {"id", "mensagem", "peso"} | ({"assunto"} if tipo == TipoAcao.EMAIL else set())
    errors: dict[str, list[str]] = {
        str(key): [_("Campo desconhecido.")] for key in raw if key not in allowed
    }
    variant_id = raw.get("id")
    if not isinstance(variant_id, str) or not VARIANT_ID_RE.match(variant_id):
        errors["id"] = [_("Informe um id de até 20 letras minúsculas, números, - ou _.")]
    maximum = MAX_MENSAGEM if tipo == TipoAcao.EMAIL else MAX_WHATSAPP
    variant: dict[str, Any] = {
        "id": variant_id,
        "mensagem": _text_field(raw, "mensagem", errors, required=True, max_length=maximum),
        "peso": 1,
    }
    if tipo == TipoAcao.EMAIL and raw.get("assunto") not in (None, ""):
        variant["assunto"] = _text_field(
            raw, "assunto", errors, required=False, max_length=MAX_ASSUNTO
        )
    peso = raw.get("peso")
    if peso is not None:
        if isinstance(peso, bool) or not isinstance(peso, int) or not 1 <= peso <= MAX_PESO:
            errors["peso"] = [_("Informe um peso inteiro de 1 a %(max)s.") % {"max": MAX_PESO}]
        else:
            variant["peso"] = peso
    problems = [
        f"{label}: {field}: {' '.join(str(m) for m in messages)}"
        for field, messages in errors.items()
    ]
    return variant, problems


def normalize_variants(value: Any, tipo: str) -> tuple[list[dict[str, Any]], list[str]]:
    """A step's A/B variants in canonical form, or the problems found (Portuguese, one line
    per problem naming the variant as users count them, from 1)."""
    if not isinstance(value, list):
        return [], [_("Informe uma lista de variantes.")]
    if not 2 <= len(value) <= MAX_VARIANTS:
        return [], [_("Informe de 2 a %(max)s variantes.") % {"max": MAX_VARIANTS}]
    variants: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, raw in enumerate(value):
        label = _("Variante %(n)s") % {"n": index + 1}
        variant, found = _variant(raw, tipo, label)
        problems.extend(found)
        variants.append(variant)
    ids = [variant.get("id") for variant in variants if variant.get("id")]
    repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
    if repeated:
        problems.append(_("Ids de variante repetidos: %(ids)s.") % {"ids": ", ".join(repeated)})
    return variants, problems


def normalize_steps(value: Any) -> list[dict[str, Any]]:
    """The steps in canonical form; raises :class:`SequenceDataInvalid` keyed by step index."""
    if not isinstance(value, list):
        raise SequenceDataInvalid({"non_field_errors": [_("Informe uma lista de passos.")]})
    if not value:
        raise SequenceDataInvalid({"non_field_errors": [_("Informe ao menos um passo.")]})
    if len(value) > MAX_STEPS:
        raise SequenceDataInvalid(
            {"non_field_errors": [_("No máximo %(max)s passos.") % {"max": MAX_STEPS}]}
        )
    steps: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for index, raw in enumerate(value):
        step, errors = _normalize_step(raw)
        if errors:
            details[str(index)] = errors
        steps.append(step)
    if details:
        raise SequenceDataInvalid(details)
    return steps


def _string_list(
    raw: Any, name: str, errors: dict[str, list[str]], *, allowed: list[str] | None = None
) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        errors[name] = [_("Informe uma lista de textos.")]
        return None
    if len(raw) > MAX_LIST_ITEMS:
        errors[name] = [_("No máximo %(n)s valores.") % {"n": MAX_LIST_ITEMS}]
        return None
    values = list(dict.fromkeys(item.strip().lower() for item in raw if item.strip()))
    if allowed is not None:
        unknown = [item for item in values if item not in allowed]
        if unknown:
            errors[name] = [
                _("Valor inválido: %(values)s. Valores aceitos: %(allowed)s.")
                % {"values": ", ".join(unknown), "allowed": ", ".join(allowed)}
            ]
            return None
    return values


def _bounded_int(raw: Any, name: str, errors: dict[str, list[str]], *, maximum: int) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or int(raw) != raw:
        errors[name] = [_("Informe um número inteiro.")]
        return None
    value = int(raw)
    if not 0 <= value <= maximum:
        errors[name] = [_("Deve estar entre 0 e %(max)s.") % {"max": maximum}]
        return None
    return value


def normalize_criteria(value: Any) -> dict[str, Any]:
    """Activation criteria in canonical form (absent/null keys dropped); raises on bad input.

    An empty object matches every open lead of the organization.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SequenceDataInvalid({"non_field_errors": [_("Informe um objeto.")]})
    errors: dict[str, list[str]] = {}
    for key in value:
        if key not in CRITERIA_KEYS:
            errors[str(key)] = [
                _("Critério desconhecido. Use: %(keys)s.") % {"keys": ", ".join(CRITERIA_KEYS)}
            ]
    criteria: dict[str, Any] = {
        "status": _string_list(value.get("status"), "status", errors, allowed=OPEN_STATUSES),
        "temperatura": _string_list(
            value.get("temperatura"), "temperatura", errors, allowed=Temperatura.values
        ),
        "origem": _string_list(value.get("origem"), "origem", errors),
        "tags": _string_list(value.get("tags"), "tags", errors),
        "score_min": _bounded_int(value.get("score_min"), "score_min", errors, maximum=100),
        "score_max": _bounded_int(value.get("score_max"), "score_max", errors, maximum=100),
        "dias_sem_interacao": _bounded_int(
            value.get("dias_sem_interacao"), "dias_sem_interacao", errors, maximum=3650
        ),
    }
    origem = criteria["origem"] or []
    bad_origem = [item for item in origem if not ORIGEM_RE.match(item)]
    if bad_origem:
        errors["origem"] = [
            _("Origem inválida: %(values)s (use letras minúsculas, números e _).")
            % {"values": ", ".join(bad_origem)}
        ]
    long_tags = [tag for tag in criteria["tags"] or [] if len(tag) > TAG_MAX]
    if long_tags:
        errors["tags"] = [_("Cada tag tem no máximo %(n)s caracteres.") % {"n": TAG_MAX}]
    low, high = criteria["score_min"], criteria["score_max"]
    if low is not None and high is not None and low > high and "score_max" not in errors:
        errors["score_max"] = [_("Deve ser maior ou igual a score_min.")]
    if errors:
        raise SequenceDataInvalid(errors)
    return {key: item for key, item in criteria.items() if item not in (None, [])}


def validate_window(start: datetime.time | None, end: datetime.time | None) -> None:
    """A window that ends before it starts is refused (equal times mean the whole day)."""
    if start is not None and end is not None and end < start:
        raise SequenceDataInvalid(
            {"horario_envio_fim": [_("O fim da janela de envio deve ser depois do início.")]}
        )


def step_delay(step: dict[str, Any]) -> datetime.timedelta:
    """How long after the previous step (or the enrollment) a step is due."""
    return datetime.timedelta(
        days=int(step.get("delay_dias") or 0), hours=int(step.get("delay_horas") or 0)
    )


def sequence_channels(steps: list[dict[str, Any]]) -> frozenset[str]:
    """The kinds of action a list of steps uses."""
    return frozenset(step.get("tipo_acao", "") for step in steps)
