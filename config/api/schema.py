"""OpenAPI post-processing: document the `{"error", "details"}` shape on every operation."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_noop
from drf_spectacular.openapi import AutoSchema as _SpectacularAutoSchema
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "details"],
    "properties": {
        "error": {
            "type": "string",
            "description": gettext_noop("Uma frase legível descrevendo o erro."),
        },
        "details": {
            "type": "object",
            "additionalProperties": True,
            "description": gettext_noop(
                "Mensagens por campo (validação), ou dados do conflito (existing_id)."
            ),
        },
    },
}

STANDARD = {
    "400": gettext_noop("Entrada inválida (nada é gravado)."),
    "401": gettext_noop("Sem token ou token inválido."),
    "403": gettext_noop("Papel sem permissão, ou membro inativo."),
    "404": gettext_noop("Não existe, ou pertence a outra organização."),
    "429": gettext_noop("Muitas requisições (veja Retry-After)."),
}
CONFLICT = gettext_noop("Duplicado ou estado conflitante (details.existing_id).")


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, description in STANDARD.items():
                if code in responses:
                    # Documented by the view (an operation without an id that can 404):
                    # the body is still the error shape.
                    responses[code].setdefault("content", {"application/json": {"schema": ref}})
                    continue
                if code == "404" and "{" not in path:
                    continue
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": ref}},
                }
            if method in ("post", "put", "patch"):
                responses.setdefault(
                    "409",
                    {
                        "description": CONFLICT,
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result


TEXT_KEYS = ("summary", "description", "title")


def translate_texts(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Every summary, description and title in the requester's language (Accept-Language,
    through LocaleMiddleware). The source strings are Portuguese msgids, marked where they are
    written (gettext_noop in the views' decorators, gettext_lazy in serializers); translated
    here, at render time, so that decorators evaluated at import stay language-neutral."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: gettext(value)
                if key in TEXT_KEYS and isinstance(value, str) and value
                else walk(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    translated: dict[str, Any] = walk(result)
    return translated


class AutoSchema(_SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, with decimal patterns that honour `min_value`.

    A decimal sent as a string gets the pattern `^-?\\d{0,N}...` whatever its validators, and
    Swagger UI and schemathesis generate their examples from that pattern: negative amounts
    the API then refuses. A field with `min_value >= 0` drops the optional minus sign.
    """

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )
        min_value = getattr(field, "min_value", None)
        if (
            isinstance(field, serializers.DecimalField)
            and min_value is not None
            and min_value >= 0
            and isinstance(schema, dict)
            and str(schema.get("pattern", "")).startswith("^-?")
        ):
            schema = {**schema, "pattern": "^" + schema["pattern"][3:]}
        return schema
