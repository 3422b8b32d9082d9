"""`/api/v1/routing-rules/` (managers) and `/api/v1/members/{id}/absences/` (managers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.serializers import StrictModelSerializer
from leads.models import LEAD_UTM_FIELDS, Distribuicao, RoutingRule, RoutingRuleMember
from organizations.models import MemberAbsence, Membership, Role
from organizations.permissions import MANAGERS
from organizations.scoping import OrgScopedMixin

ROUTABLE_ROLES = (Role.CLOSER, Role.SDR, Role.ADMIN, Role.GESTOR)
MAX_MEMBERS = 100
UTM_KEYS = LEAD_UTM_FIELDS


class ConditionSerializer(serializers.Serializer[dict[str, Any]]):
    origem = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=50
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50
    )
    utm_source = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    utm_medium = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    utm_campaign = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    valor_min = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), required=False, allow_null=True
    )
    valor_max = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), required=False, allow_null=True
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        low, high = value.get("valor_min"), value.get("valor_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(
                {"valor_max": [_("Deve ser maior ou igual a valor_min.")]}
            )
        clean: dict[str, Any] = {}
        if value.get("origem"):
            clean["origem"] = sorted({o.strip().lower() for o in value["origem"] if o.strip()})
        if value.get("tags"):
            clean["tags"] = sorted({t.strip().lower() for t in value["tags"] if t.strip()})
        for key in UTM_KEYS:
            # Matched ignoring case (campaign tools are inconsistent about it).
            values = sorted({v.strip().lower() for v in value.get(key) or [] if v.strip()})
            if values:
                clean[key] = values
        for key in ("valor_min", "valor_max"):
            if value.get(key) is not None:
                clean[key] = str(value[key])
        return clean


class RuleMemberSerializer(serializers.Serializer[dict[str, Any]]):
    membro_id = serializers.UUIDField()
    peso = serializers.IntegerField(min_value=1, max_value=100, default=1)


class RoutingRuleSerializer(StrictModelSerializer):
    condicao = ConditionSerializer(required=False, label=gettext_lazy("condição"))
    distribuicao = serializers.ChoiceField(choices=Distribuicao.choices)
    membros = RuleMemberSerializer(many=True, write_only=True, label=gettext_lazy("membros"))

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "nome",
            "ordem",
            "ativo",
            "condicao",
            "distribuicao",
            "membros",
            "capacidade_diaria",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"capacidade_diaria": {"min_value": 1, "max_value": 10000}}

    def to_representation(self, instance: RoutingRule) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["condicao"] = instance.condicao or {}
        data["membros"] = [
            {"membro_id": str(m.membership_id), "peso": m.peso}
            for m in instance.membros.all().order_by("posicao", "id")
        ]
        return data

    def validate_membros(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not value:
            raise serializers.ValidationError(_("Informe ao menos um membro."))
        if len(value) > MAX_MEMBERS:
            raise serializers.ValidationError(_("No máximo %(n)d membros.") % {"n": MAX_MEMBERS})
        ids = [item["membro_id"] for item in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(_("Um membro aparece mais de uma vez."))
        organization = self.context["organization"]
        found = set(
            Membership.objects.for_org(organization)
            .filter(pk__in=ids, ativo=True, role__in=ROUTABLE_ROLES)
            .values_list("pk", flat=True)
        )
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(
                _("Membros inexistentes, inativos ou sem papel de vendas: %(ids)s")
                % {"ids": ", ".join(missing)}
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        distribuicao = attrs.get(
            "distribuicao", getattr(self.instance, "distribuicao", Distribuicao.RODIZIO)
        )
        membros = attrs.get("membros")
        if distribuicao == Distribuicao.FIXO and membros is not None and len(membros) != 1:
            raise serializers.ValidationError(
                {"membros": [_("A distribuição fixa usa exatamente um membro.")]}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> RoutingRule:
        membros = validated_data.pop("membros")
        rule = RoutingRule.objects.create(**validated_data)
        _set_members(rule, membros)
        return rule

    @transaction.atomic
    def update(self, instance: RoutingRule, validated_data: dict[str, Any]) -> RoutingRule:
        membros = validated_data.pop("membros", None)
        rule = RoutingRule.objects.select_for_update().get(pk=instance.pk)
        for name, value in validated_data.items():
            setattr(rule, name, value)
        fields = list(validated_data)
        if membros is not None:
            _set_members(rule, membros)
            rule.cursor = 0
            fields.append("cursor")
        rule.save(update_fields=[*fields, "updated_at"])
        return cast("RoutingRule", rule)


def _set_members(rule: RoutingRule, membros: list[dict[str, Any]]) -> None:
    RoutingRuleMember.objects.filter(rule=rule).delete()
    RoutingRuleMember.objects.bulk_create(
        RoutingRuleMember(rule=rule, membership_id=item["membro_id"], peso=item["peso"], posicao=i)
        for i, item in enumerate(membros)
    )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Regras de distribuição de leads, na ordem em que são tentadas")
    ),
    create=extend_schema(summary=gettext_noop("Cria uma regra de distribuição")),
    partial_update=extend_schema(
        summary=gettext_noop("Altera uma regra (trocar os membros reinicia o rodízio)")
    ),
)
class RoutingRuleViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[RoutingRule],
):
    queryset = RoutingRule.objects.prefetch_related("membros")
    serializer_class = RoutingRuleSerializer
    read_roles = MANAGERS
    write_roles = MANAGERS
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["ordem", "created_at"]
    ordering = ["ordem", "created_at"]


class AbsenceSerializer(StrictModelSerializer):
    class Meta:
        model = MemberAbsence
        fields = ["id", "inicio", "fim", "motivo", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["fim"] < attrs["inicio"]:
            raise serializers.ValidationError({"fim": [_("Deve ser igual ou posterior a início.")]})
        if (attrs["fim"] - attrs["inicio"]).days > 366:
            raise serializers.ValidationError({"fim": [_("Uma ausência dura no máximo um ano.")]})
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Ausências do membro (a distribuição de leads o pula nesses dias)")
    ),
    create=extend_schema(summary=gettext_noop("Registra uma ausência (datas inclusivas)")),
    destroy=extend_schema(summary=gettext_noop("Remove uma ausência")),
)
class MemberAbsenceViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[MemberAbsence],
):
    queryset = MemberAbsence.objects.all()
    serializer_class = AbsenceSerializer
    read_roles = MANAGERS
    write_roles = MANAGERS
    ordering_fields = ["inicio"]
    ordering = ["-inicio"]

    def member(self) -> Membership:
        return cast(
            "Membership",
            get_object_or_404(
                Membership.objects.for_org(self.organization), pk=self.kwargs["member_pk"]
            ),
        )

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.filter(membership=self.member())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.member()  # another organization's member is a 404 before any validation
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: serializers.BaseSerializer[MemberAbsence]) -> None:
        serializer.save(organization=self.organization, membership=self.member())
