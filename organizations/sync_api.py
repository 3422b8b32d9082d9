"""`GET /api/v1/sync/deletions/?since=`: ids of synced rows deleted since a moment."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from config.api.sync import IsoDateTimeField
from organizations.models import Deletion, DeletionTipo
from organizations.permissions import ALL_ROLES
from organizations.scoping import OrgScopedMixin


class DeletionSerializer(serializers.ModelSerializer[Deletion]):
    id = serializers.UUIDField(source="object_id", read_only=True, label=_("id"))

    class Meta:
        model = Deletion
        fields = ["tipo", "id", "deleted_at"]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.DATETIME)
class SinceFilter(django_filters.Filter):
    field_class = IsoDateTimeField

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        return qs if value is None else qs.filter(deleted_at__gte=value)


class DeletionFilter(django_filters.FilterSet):
    since = SinceFilter(
        required=True,
        help_text=_("Exclusões a partir deste instante (ISO 8601), inclusive."),
    )
    tipo = django_filters.ChoiceFilter(choices=DeletionTipo.choices)

    class Meta:
        model = Deletion
        fields: list[str] = []


@extend_schema(
    summary=_("Exclusões desde um instante (sincronização)"),
    description=_(
        "Leads, interações, tarefas e mentorados apagados a partir de `since`. Guardadas por "
        "90 dias: um cliente que não sincroniza há mais tempo deve baixar tudo de novo."
    ),
)
class DeletionListView(OrgScopedMixin, generics.ListAPIView[Deletion]):
    queryset = Deletion.objects.all()
    serializer_class = DeletionSerializer
    filterset_class = DeletionFilter
    ordering_fields = ["deleted_at"]
    ordering = ["deleted_at", "id"]
    read_roles = ALL_ROLES
    write_roles = ALL_ROLES
