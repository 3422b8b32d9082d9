"""`GET PUT /api/v1/leads/{id}/consents/`: the lead's consent per channel (leads.consent)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from leads.api.views import LeadAccessMixin
from leads.consent import consent_set, consent_states
from leads.models import BaseLegal, ConsentCanal, ConsentEstado, ConsentRecord


class ConsentSerializer(serializers.Serializer[Any]):
    canal = serializers.ChoiceField(choices=ConsentCanal.choices)
    estado = serializers.ChoiceField(choices=ConsentEstado.choices)
    base_legal = serializers.ChoiceField(
        choices=BaseLegal.choices,
        required=False,
        help_text=gettext_lazy("omitida: a base legal atual do canal (padrão legitimo_interesse)"),
    )
    origem = serializers.CharField(read_only=True)
    at = serializers.DateTimeField(read_only=True, allow_null=True)
    evidencia = serializers.JSONField(required=False, help_text="objeto livre (ex.: texto aceito)")

    def validate_evidencia(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Envie um objeto JSON."))
        if len(str(value)) > 4000:
            raise serializers.ValidationError(_("Evidência grande demais."))
        return value


class ConsentPutSerializer(serializers.Serializer[Any]):
    """PUT takes one channel's object or a list of them."""

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        items = data if isinstance(data, list) else [data]
        if not items or len(items) > len(ConsentCanal.values):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Envie um objeto por canal (email, whatsapp).")]}
            )
        many = ConsentSerializer(data=items, many=True)
        many.is_valid(raise_exception=True)
        canais = [item["canal"] for item in many.validated_data]
        if len(set(canais)) != len(canais):
            raise serializers.ValidationError({"canal": [_("Cada canal pode aparecer uma vez.")]})
        return list(many.validated_data)


class LeadConsentViewSet(LeadAccessMixin, viewsets.GenericViewSet[ConsentRecord]):
    """Current consent per channel; PUT appends ledger entries (origem `api`)."""

    queryset = ConsentRecord.objects.all()
    serializer_class = ConsentSerializer
    pagination_class = None

    def get_object(self) -> Any:
        """The lead (the URL has no record id): OPTIONS checks PUT's permission on it."""
        lead = self.get_lead()
        self.check_object_permissions(self.request, lead)
        return lead

    def _states(self, lead: Any) -> list[dict[str, Any]]:
        return [ConsentSerializer(state).data for state in consent_states(lead=lead)]

    @extend_schema(
        responses=ConsentSerializer(many=True), summary=gettext_noop("Consentimento por canal")
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._states(self.get_lead()))

    @extend_schema(
        request=ConsentSerializer(many=True),
        responses=ConsentSerializer(many=True),
        summary=gettext_noop("Registra consentimento ou revogação de um ou dos dois canais"),
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self.get_lead()
        self.check_object_permissions(request, lead)
        serializer = ConsentPutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items: list[dict[str, Any]] = serializer.validated_data
        for item in items:
            consent_set(
                lead=lead,
                canal=item["canal"],
                estado=item["estado"],
                base_legal=item.get("base_legal"),
                evidencia=item.get("evidencia"),
                origem="api",
                actor=self.membership,
            )
        lead.refresh_from_db()
        return Response(self._states(lead))
