"""`GET /leads/duplicates/` and `POST /leads/{id}/merge/` (mixed into the leads viewset)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from leads import merge, selectors
from leads.api.serializers import LeadSerializer
from leads.models import Lead

CHOICE = serializers.ChoiceField(choices=merge.CHOICES)


class MergeSerializer(serializers.Serializer[dict[str, Any]]):
    outro_id = serializers.UUIDField(label=gettext_lazy("outro lead"))
    campos = serializers.DictField(
        child=serializers.CharField(max_length=10),
        required=False,
        default=dict,
        label=gettext_lazy("campos"),
        help_text=gettext_lazy(
            'Para cada campo, "este" (valor deste lead, o padrão) ou "outro" (valor do outro).'
        ),
    )


class DuplicateLeadSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    nome_completo = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    telefone = serializers.CharField(allow_null=True)
    empresa = serializers.CharField()
    created_at = serializers.DateTimeField()


class LeadMergeMixin:
    """Candidate duplicate pairs and merging two leads the requester may write."""

    @extend_schema(
        summary=gettext_noop("Pares de leads possivelmente duplicados, com score e motivos"),
        parameters=[
            OpenApiParameter("limit", int, description=gettext_noop("1-100 pares (padrão 50)")),
        ],
        filters=False,
        responses={
            200: inline_serializer(
                "DuplicatePairs",
                {
                    "data": inline_serializer(
                        "DuplicatePair",
                        {
                            "lead_a": DuplicateLeadSerializer(),
                            "lead_b": DuplicateLeadSerializer(),
                            "score": serializers.FloatField(),
                            "motivos": serializers.ListField(child=serializers.CharField()),
                        },
                        many=True,
                    )
                },
            )
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def duplicates(self, request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise serializers.ValidationError({"limit": [_("Use um número de 1 a 100.")]})
        leads = self.get_queryset()  # type: ignore[attr-defined]
        pairs = merge.lead_duplicate_candidates(leads=leads, limit=limit)
        return Response(
            {
                "data": [
                    {
                        "lead_a": DuplicateLeadSerializer(pair.lead_a).data,
                        "lead_b": DuplicateLeadSerializer(pair.lead_b).data,
                        "score": pair.score,
                        "motivos": pair.motivos,
                    }
                    for pair in pairs
                ]
            }
        )

    @extend_schema(
        summary=gettext_noop("Mescla outro lead neste (este lead é mantido)"),
        request=MergeSerializer,
        responses={
            200: LeadSerializer,
            400: OpenApiResponse(
                description=gettext_noop("Campo ou escolha inválidos, ou o mesmo lead")
            ),
            404: OpenApiResponse(
                description=gettext_noop("Lead inexistente, de outra organização ou oculto")
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        target: Lead = self.get_object()  # type: ignore[attr-defined]
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        other = get_object_or_404(
            self.get_queryset(),  # type: ignore[attr-defined]
            pk=body.validated_data["outro_id"],
        )
        survivor = merge.leads_merge(
            target=target,
            other=other,
            campos=dict(body.validated_data["campos"]),
            actor=self.membership,  # type: ignore[attr-defined]
        )
        fresh = self.get_queryset().get(pk=survivor.pk)  # type: ignore[attr-defined]
        return Response(LeadSerializer(selectors.attach_list_extras([fresh])[0]).data)
