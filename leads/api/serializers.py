"""Lead, interaction, qualification and task shapes (Portuguese field names of the contract)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from django.db.models import Manager, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings

from config import errors
from config.api.serializers import StrictCharField, StrictEmailField, StrictModelSerializer
from leads import services, validation
from leads.models import (
    LEAD_DATA_FIELDS,
    LEAD_UTM_FIELDS,
    Lead,
    LeadInteraction,
    LeadQualification,
    LeadStatus,
    Task,
)
from organizations.models import Membership
from organizations.scoping import OrgPrimaryKeyRelatedField

# Client clocks drift; an interaction stamped up to a minute ahead is taken as "now".
FUTURE_TOLERANCE = timedelta(minutes=1)


def _members_for_seat(seat: str) -> Any:
    # The same choices as the admin's closer/SDR fields (leads.validation).
    def scope(queryset: QuerySet[Membership], context: dict[str, Any]) -> QuerySet[Membership]:
        return queryset.filter(
            pk__in=validation.members_for_seat(context["organization"], seat).values("pk")
        )

    return scope


def _active_members(
    queryset: QuerySet[Membership], context: dict[str, Any]
) -> QuerySet[Membership]:
    return queryset.filter(ativo=True)


def _visible_leads(queryset: QuerySet[Lead], context: dict[str, Any]) -> QuerySet[Lead]:
    membership = context.get("membership")
    return queryset.visible_to(membership) if membership else queryset.none()  # type: ignore[attr-defined]


class MemberRefSerializer(StrictModelSerializer):
    class Meta:
        model = Membership
        fields = ["id", "nome_completo"]


class CloserRefSerializer(StrictModelSerializer):
    class Meta:
        model = Membership
        fields = ["id", "nome_completo", "tipo_closer"]


class TagsField(serializers.ListField):
    child = StrictCharField(
        max_length=validation.MAX_TAG_LENGTH, allow_blank=False, trim_whitespace=True
    )
    max_length = validation.MAX_TAGS

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", validation.MAX_TAGS)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        values = super().to_internal_value(data)
        return validation.clean_tags(values)  # one canonical form, as the admin stores them


class LeadQualificationSummarySerializer(StrictModelSerializer):
    class Meta:
        model = LeadQualification
        fields = ["qualification_score", "authority_nivel", "budget_confirmado"]


class LastInteractionSerializer(StrictModelSerializer):
    class Meta:
        model = LeadInteraction
        fields = ["data_interacao", "tipo_interacao", "resultado"]


Handler = Callable[[Any], Any]


def _field_handlers(serializer: serializers.Serializer[Any]) -> list[tuple[str, Handler]]:
    """What `Serializer.to_representation` does for each readable field, resolved once.

    DRF looks every field's source up again for each row and builds a new serializer for each
    nested object; a list page of 100 leads spent most of its time there. The handlers call
    the same fields' `to_representation`, so the output is the same, value for value.
    """
    model = serializer.Meta.model if hasattr(serializer, "Meta") else None
    handlers: list[tuple[str, Handler]] = []
    for field in serializer._readable_fields:
        name, source = str(field.field_name), str(field.source)
        if isinstance(field, serializers.SerializerMethodField):
            handlers.append((name, getattr(serializer, field.method_name)))
            continue
        if source == "*":  # not used by these serializers
            raise ValueError(name)
        if isinstance(field, serializers.Serializer):
            handlers.append((name, _nested(attrgetter(source), _field_handlers(field))))
        elif (
            isinstance(field, serializers.PrimaryKeyRelatedField)
            and model is not None
            and field.pk_field is None
            and type(field).to_representation
            is serializers.PrimaryKeyRelatedField.to_representation
        ):
            # DRF's pk-only optimization: the foreign key column itself.
            handlers.append((name, attrgetter(model._meta.get_field(source).attname)))
        elif isinstance(field, serializers.DateTimeField):
            handlers.append((name, _datetime(attrgetter(source), field)))
        elif isinstance(field, serializers.DecimalField) and _plain_decimal(field):
            handlers.append((name, _decimal(attrgetter(source), field)))
        elif _canonical_uuid(field):
            handlers.append((name, _uuid(attrgetter(source), field.to_representation)))
        elif (same := _unchanged_type(field)) is not None:
            handlers.append((name, _unless(same, attrgetter(source), field.to_representation)))
        else:
            handlers.append((name, _plain(attrgetter(source), field.to_representation)))
    return handlers


# Fields whose `to_representation` gives back a value of this exact type unchanged: `str(s)`,
# `int(i)`, and BooleanField's lookups of True and False.
_SAME_VALUE: tuple[tuple[type[serializers.Field[Any, Any, Any, Any]], type], ...] = (
    (serializers.CharField, str),
    (serializers.IntegerField, int),
    (serializers.BooleanField, bool),
)


def _unchanged_type(field: serializers.Field[Any, Any, Any, Any]) -> type | None:
    for base, kind in _SAME_VALUE:
        if isinstance(field, base) and type(field).to_representation is base.to_representation:
            return kind
    return None


def _unless(same: type, getter: Handler, represent: Handler) -> Handler:
    """`_plain`, without the call for a value of type `same` (`type` is exact: not a subclass,
    so neither a bool for an int nor a str subclass with its own `__str__`)."""

    def handle(instance: Any) -> Any:
        value = getter(instance)
        if value is None or type(value) is same:
            return value
        return represent(value)

    return handle


def _datetime(getter: Handler, field: serializers.DateTimeField) -> Handler:
    """DRF's ISO 8601 DateTimeField output, the time zone looked up once (per serializer)."""
    represent = field.to_representation
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if zone is None or output_format is None or output_format.lower() != ISO_8601:
        return _plain(getter, represent)

    in_utc = zone is UTC or (isinstance(zone, ZoneInfo) and zone.key == "UTC")

    def handle(instance: Any) -> Any:
        value = getter(instance)
        if value is None:
            return None
        if value.tzinfo is None:
            return represent(value)  # naive: DRF's own handling
        if in_utc and value.tzinfo is UTC:
            # The same text as isoformat() with "Z" for "+00:00", several times faster.
            return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()
        local = value.astimezone(zone)
        offset = cast(timedelta, local.utcoffset())
        # orjson writes isoformat()'s text in a third of its time, but drops the seconds of
        # an offset that has them (local mean times before ~1914: -03:06:28 in São Paulo).
        text: str = (
            local.isoformat()
            if offset.seconds % 60 or offset.microseconds
            else orjson.dumps(local)[1:-1].decode()
        )
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return handle


def _plain_decimal(field: serializers.DecimalField) -> bool:
    """A DecimalField written as `'{:f}'.format(quantized)`, DRF's default output."""
    return (
        type(field).to_representation is serializers.DecimalField.to_representation
        and type(field).quantize is serializers.DecimalField.quantize
        and field.decimal_places is not None
        and field.max_digits is not None
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and not field.normalize_output
        and not field.localize
    )


def _decimal(getter: Handler, field: serializers.DecimalField) -> Handler:
    """`_plain` for a DecimalField: a finite Decimal that already has the field's decimal
    places and fits its digits is its own quantized value (what a numeric column gives)."""
    represent = field.to_representation
    exponent, max_digits = -cast(int, field.decimal_places), cast(int, field.max_digits)

    def handle(instance: Any) -> Any:
        value = getter(instance)
        if value is None:
            return None
        if type(value) is Decimal and value.is_finite():
            _sign, digits, places = value.as_tuple()
            if places == exponent and len(digits) <= max_digits:
                return f"{value:f}"
        return represent(value)

    return handle


def _canonical_uuid(field: serializers.Field[Any, Any, Any, Any]) -> bool:
    """A UUIDField written as `str(uuid)` (DRF's default "hex_verbose" format)."""
    return (
        isinstance(field, serializers.UUIDField)
        and type(field).to_representation is serializers.UUIDField.to_representation
        and field.uuid_format == "hex_verbose"
    )


def _uuid(getter: Handler, represent: Handler) -> Handler:
    """`_plain` for a UUIDField: a UUID's canonical text (`str(uuid)`) through orjson."""

    def handle(instance: Any) -> Any:
        value = getter(instance)
        if value is None:
            return None
        if type(value) is UUID:
            return orjson.dumps(value)[1:-1].decode()
        return represent(value)

    return handle


def _plain(getter: Handler, represent: Handler) -> Handler:
    def handle(instance: Any) -> Any:
        value = getter(instance)
        return None if value is None else represent(value)

    return handle


def _nested(getter: Handler, handlers: list[tuple[str, Handler]]) -> Handler:
    def handle(instance: Any) -> Any:
        value = getter(instance)
        if value is None:
            return None
        return {name: field(value) for name, field in handlers}

    return handle


@cache
def _handlers_of(
    serializer_class: type[serializers.Serializer[Any]], zone_name: str
) -> list[tuple[str, Handler]]:
    # Per time zone: datetime handlers resolve the current time zone when they are built. The
    # serializer whose methods the handlers call knows that zone (no lookup per row).
    serializer = serializer_class()
    serializer._handlers_zone = zone_name  # type: ignore[attr-defined]
    return _field_handlers(serializer)


def _represent(
    serializer_class: type[serializers.Serializer[Any]], instance: Any, zone_name: str | None = None
) -> Any:
    """`zone_name`: the current time zone's name, when the caller knows it already."""
    handlers = _handlers_of(serializer_class, zone_name or timezone.get_current_timezone_name())
    return {name: field(instance) for name, field in handlers}


class LeadListSerializer(serializers.ListSerializer):  # type: ignore[type-arg]
    """A page of leads: the handlers resolved once per page, not once per lead."""

    def to_representation(self, data: Any) -> list[Any]:
        child = self.child
        if (
            not isinstance(child, LeadSerializer)
            or type(child).to_representation is not LeadSerializer.to_representation
        ):
            return super().to_representation(data)  # a subclass with its own (the detail)
        items = data.all() if isinstance(data, Manager) else data
        handlers = _handlers_of(type(child), timezone.get_current_timezone_name())
        return [{name: field(item) for name, field in handlers} for item in items]


class LeadSerializer(StrictModelSerializer):
    """A lead with its closer, SDR, qualification summary and latest interaction.

    `interactions_count` and `last_interaction` come from `leads.selectors.attach_list_extras`,
    which loads them for a whole page in two queries.
    """

    closer_id = OrgPrimaryKeyRelatedField(
        label=gettext_lazy("Closer"),
        source="closer",
        queryset=Membership.objects.all(),
        scope=_members_for_seat("closer"),
        error_messages={"does_not_exist": validation.SEAT_MESSAGES["closer"]},
        required=False,
        allow_null=True,
    )
    sdr_id = OrgPrimaryKeyRelatedField(
        label=gettext_lazy("SDR"),
        source="sdr",
        queryset=Membership.objects.all(),
        scope=_members_for_seat("sdr"),
        error_messages={"does_not_exist": validation.SEAT_MESSAGES["sdr"]},
        required=False,
        allow_null=True,
    )
    closer = CloserRefSerializer(read_only=True, allow_null=True)
    sdr = MemberRefSerializer(read_only=True, allow_null=True)
    tags = TagsField(required=False)
    email = StrictEmailField(max_length=254, required=False, allow_null=True, allow_blank=True)
    telefone = StrictCharField(max_length=40, required=False, allow_null=True, allow_blank=True)
    interactions_count = serializers.SerializerMethodField()
    qualification = serializers.SerializerMethodField()
    last_interaction = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            *LEAD_DATA_FIELDS,
            "closer_id",
            "sdr_id",
            "closer",
            "sdr",
            "motivo_perda",
            "observacoes",
            "tags",
            *LEAD_UTM_FIELDS,
            "crm_provider",
            "crm_id",
            "crm_synced_at",
            "crm_sync_error",
            "opt_out_email",
            "opt_out_whatsapp",
            "last_interaction_at",
            "converted_at",
            "created_at",
            "updated_at",
            "interactions_count",
            "qualification",
            "last_interaction",
        ]
        list_serializer_class = LeadListSerializer
        read_only_fields = [
            "id",
            "temperatura",
            "lead_score",
            "crm_provider",
            "crm_id",
            "crm_synced_at",
            "crm_sync_error",
            "last_interaction_at",
            "converted_at",
            "created_at",
            "updated_at",
        ]
        # The model keeps the parameter names as its verbose names; forms show words.
        extra_kwargs = {
            "utm_source": {"label": gettext_lazy("Origem da campanha (utm_source)")},
            "utm_medium": {"label": gettext_lazy("Mídia da campanha (utm_medium)")},
            "utm_campaign": {"label": gettext_lazy("Campanha (utm_campaign)")},
        }

    # The field rules live in leads.validation (the admin's form and the file import too).
    def validate_email(self, value: str | None) -> str | None:
        return validation.clean_email(value)

    def validate_telefone(self, value: str | None) -> str | None:
        return validation.clean_telefone(value)

    def validate_origem(self, value: str) -> str:
        return validation.clean_origem(value)

    def validate_nome_completo(self, value: str) -> str:
        return validation.clean_nome(value)

    def validate_utm_source(self, value: str | None) -> str | None:
        return validation.clean_utm(value)

    def validate_utm_medium(self, value: str | None) -> str | None:
        return validation.clean_utm(value)

    def validate_utm_campaign(self, value: str | None) -> str | None:
        return validation.clean_utm(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # leads.services checks again under the row lock; checking here too gives a 400 before
        # any write (and the admin's bulk actions, which validate through this serializer).
        instance = self.instance if isinstance(self.instance, Lead) else None
        if instance is None or "status" in attrs or "motivo_perda" in attrs:
            default_status = instance.status if instance else LeadStatus.NOVO
            try:
                services.check_status_rules(
                    from_status=instance.status if instance else "",
                    to_status=attrs.get("status", default_status),
                    motivo_perda=attrs.get(
                        "motivo_perda", instance.motivo_perda if instance else ""
                    ),
                )
            except errors.ValidationError as exc:
                raise serializers.ValidationError(exc.details) from None
        return attrs

    def to_representation(self, instance: Lead) -> dict[str, Any]:
        # Same output as ModelSerializer.to_representation (tests/leads/test_lead_list_speed.py
        # compares them), with the per-field work resolved once per process and time zone:
        # not even this serializer's fields are built for a read. The read side of this
        # serializer does not depend on its context (request, membership).
        representation: dict[str, Any] = _represent(type(self), instance)
        return representation

    def get_interactions_count(self, lead: Lead) -> int:
        return getattr(lead, "interactions_count", 0)

    def get_qualification(self, lead: Lead) -> dict[str, Any] | None:
        try:
            qualification = lead.qualification
        except LeadQualification.DoesNotExist:
            return None
        if qualification is None:  # a list page's row (leads.selectors.lead_list_page)
            return None
        return cast(
            "dict[str, Any] | None",
            _represent(LeadQualificationSummarySerializer, qualification, self._zone()),
        )

    def get_last_interaction(self, lead: Lead) -> dict[str, Any] | None:
        last = getattr(lead, "last_interaction", None)
        if last is None:
            return None
        return cast("dict[str, Any]", _represent(LastInteractionSerializer, last, self._zone()))

    def _zone(self) -> str | None:
        # Set on the serializer whose methods the cached handlers call (`_handlers_of`).
        return getattr(self, "_handlers_zone", None)


class LeadReopenSerializer(serializers.Serializer[Any]):
    """`POST /leads/{id}/reopen/`: where the converted lead goes back to, and why."""

    status = serializers.ChoiceField(
        choices=[(value, LeadStatus(value).label) for value in services.OPEN_STATUSES],
        default=LeadStatus.NEGOCIACAO,
        help_text=gettext_lazy("Status aberto de destino (padrão: negociacao)."),
    )
    motivo = StrictCharField(max_length=2000, allow_blank=False, trim_whitespace=True)


class InteractionSerializer(StrictModelSerializer):
    lead_id = serializers.UUIDField(read_only=True)
    closer_id = serializers.UUIDField(read_only=True, allow_null=True)
    closer = MemberRefSerializer(read_only=True, allow_null=True)
    data_interacao = serializers.DateTimeField(
        label=gettext_lazy("Data da interação"), required=False
    )
    motivo_perda = StrictCharField(
        label=gettext_lazy("Motivo da perda"),
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=2000,
    )

    class Meta:
        model = LeadInteraction
        fields = [
            "id",
            "lead_id",
            "closer_id",
            "closer",
            "tipo_interacao",
            "resumo",
            "detalhes_completos",
            "resultado",
            "valor",
            "data_interacao",
            "duracao_minutos",
            "proximo_passo",
            "motivo_perda",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"tipo_interacao": {"required": True}}

    def validate_data_interacao(self, value: Any) -> Any:
        now = timezone.now()
        if value > now + FUTURE_TOLERANCE:
            raise serializers.ValidationError(_("A data da interação não pode estar no futuro."))
        return min(value, now)


class QualificationSerializer(StrictModelSerializer):
    lead_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = LeadQualification
        fields = [
            "lead_id",
            "budget_confirmado",
            "valor_orcamento",
            "authority_nivel",
            "necessidade_identificada",
            "dor_principal",
            "prazo_decisao",
            "qualification_score",
            "updated_at",
        ]
        read_only_fields = ["qualification_score", "updated_at"]


class TaskSerializer(StrictModelSerializer):
    lead_id = OrgPrimaryKeyRelatedField(
        label=gettext_lazy("Lead"),
        source="lead",
        queryset=Lead.objects.all(),
        scope=_visible_leads,
        required=False,
        allow_null=True,
    )
    responsavel_id = OrgPrimaryKeyRelatedField(
        label=gettext_lazy("Responsável"),
        source="responsavel",
        queryset=Membership.objects.all(),
        scope=_active_members,
        required=False,
    )
    responsavel = MemberRefSerializer(read_only=True)
    vencida = serializers.SerializerMethodField(help_text=gettext_lazy("Pendente e já vencida."))

    class Meta:
        model = Task
        fields = [
            "id",
            "lead_id",
            "responsavel_id",
            "responsavel",
            "tipo",
            "titulo",
            "descricao",
            "vencimento",
            "status",
            "origem",
            "concluida_em",
            "vencida",
            "created_at",
        ]
        read_only_fields = ["id", "origem", "concluida_em", "created_at"]

    def get_vencida(self, task: Task) -> bool:
        return bool(
            task.status == "pendente" and task.vencimento and task.vencimento < timezone.now()
        )


class LeadLinksSerializer(serializers.Serializer[Any]):
    interactions = serializers.URLField(label=gettext_lazy("Interações"))
    qualification = serializers.URLField(label=gettext_lazy("Qualificação"))
    tasks = serializers.URLField(label=gettext_lazy("Tarefas"))
    timeline = serializers.URLField(label=gettext_lazy("Linha do tempo"))
    followups = serializers.URLField(label=gettext_lazy("Follow-ups"))


class LeadDetailSerializer(LeadSerializer):
    """One lead (detail, PUT/PATCH answers) with links to what hangs off it: the browsable API
    and clients follow them instead of building URLs."""

    links = serializers.SerializerMethodField(label=gettext_lazy("Links"))

    class Meta(LeadSerializer.Meta):
        fields = [*LeadSerializer.Meta.fields, "links"]

    def to_representation(self, instance: Lead) -> dict[str, Any]:
        # The lead's own fields through the context-free fast path, then the links, which
        # need the request (absolute URLs).
        representation: dict[str, Any] = _represent(LeadSerializer, instance)
        representation["links"] = self.get_links(instance)
        return representation

    @extend_schema_field(LeadLinksSerializer)
    def get_links(self, lead: Lead) -> dict[str, str]:
        request = self.context.get("request")

        def url(name: str, kwargs: dict[str, Any] | None = None, query: str = "") -> str:
            return str(reverse(name, kwargs=kwargs, request=request)) + query

        nested = {"lead_pk": lead.pk}
        return {
            "interactions": url("lead-interaction-list", nested),
            "qualification": url("lead-qualification", nested),
            "tasks": url("task-list", query=f"?lead_id={lead.pk}"),
            "timeline": url("lead-timeline", {"pk": lead.pk}),
            "followups": url("followup-execution-list", query=f"?lead_id={lead.pk}"),
        }
