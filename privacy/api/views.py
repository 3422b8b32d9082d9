"""`GET /api/v1/leads/{id}/history/` (audit trail) and `GET /api/v1/privacy/access-log/`."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from leads.api.views import LeadAccessMixin
from leads.models import Lead
from organizations.permissions import ADMIN_ONLY
from organizations.scoping import OrgScopedMixin
from privacy import selectors, services
from privacy.models import AccessTipo, DataAccessLog

# A lead's history is read whole; this bounds one answer (the oldest entries beyond it are
# still in the table and in a privacy export).
MAX_HISTORY = 500

history_entries = inline_serializer(
    "HistoryEntry",
    {
        "at": serializers.DateTimeField(),
        "actor": inline_serializer(
            "HistoryActor",
            {"id": serializers.UUIDField(), "nome_completo": serializers.CharField()},
            allow_null=True,
        ),
        "via": serializers.ChoiceField(choices=["api", "admin", "job", "import"], allow_null=True),
        "tipo": serializers.ChoiceField(choices=["criacao", "alteracao", "remocao"]),
        "request_id": serializers.CharField(allow_null=True),
        "changes": serializers.DictField(
            child=serializers.ListField(), help_text="{campo: [antes, depois]}"
        ),
    },
    many=True,
)


class LeadHistoryViewSet(LeadAccessMixin, viewsets.GenericViewSet[Lead]):
    """Who changed what on a lead, field by field, newest first. Read-only by design."""

    queryset = Lead.objects.none()
    pagination_class = None

    @extend_schema(
        responses=history_entries, summary=gettext_noop("Histórico de alterações do lead")
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self.get_lead()
        records = list(
            Lead.history.filter(id=lead.pk).order_by("-history_date", "-history_id")[  # type: ignore[attr-defined]
                : MAX_HISTORY + 1
            ]
        )
        entries = selectors.history_entries(records=records, organization_id=lead.organization_id)
        services.access_log_record(
            organization=self.organization,
            actor=self.membership,
            tipo=AccessTipo.AUDIT_READ,
            filtro={"lead_id": str(lead.pk)},
            linhas=len(entries),
        )
        return Response(entries[:MAX_HISTORY])


class DataAccessLogSerializer(serializers.ModelSerializer[DataAccessLog]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = DataAccessLog
        fields = ["id", "at", "tipo", "actor", "filtro", "linhas", "via", "request_id"]

    def get_actor(self, obj: DataAccessLog) -> dict[str, str] | None:
        if obj.actor is None:
            return None
        return {"id": str(obj.actor.pk), "nome_completo": obj.actor.nome_completo}


class DataAccessLogViewSet(
    OrgScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet[DataAccessLog]
):
    """Bulk reads of personal data in the organization (admins only)."""

    read_roles = ADMIN_ONLY
    write_roles = ADMIN_ONLY
    queryset = DataAccessLog.objects.select_related("actor")
    serializer_class = DataAccessLogSerializer
    ordering_fields = ["at"]
    ordering = ["-at"]
