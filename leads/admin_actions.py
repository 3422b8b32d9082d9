"""Bulk actions of the lead list: assign a closer or an SDR, add or remove tags, mark lost with
a reason, export the selection. (Enrolling in a follow-up sequence lives in `followup`, which
may import leads; see `followup/admin_lead_actions.py`.)

Each action runs lead by lead through the API's own pieces: the requester's membership in the
lead's organization must have a role the API lets write leads and must see the lead
(`visible_to`); the new values go through `LeadSerializer` (the API's validation and messages,
e.g. a mentor is not a valid closer); the write is `services.lead_update` (history, signals,
notifications). The report says how many changed and, for the others, why not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers

from config.errors import ApplicationError, form_error_message
from leads import csv_io, services
from leads.api.serializers import LeadSerializer, TagsField
from leads.models import Lead, LeadStatus
from organizations.models import MANAGER_ROLES, Membership, Role
from organizations.permissions import SALES_ROLES

# How many refused leads a report names before summing up the rest.
REPORT_NAMES = 10
LEAD_WRITE_ROLES = SALES_ROLES
EXPORT_ROLES = SALES_ROLES


class Skip(Exception):
    """A lead the action leaves as it is, with the reason shown to the user."""


@dataclass
class BulkReport:
    changed: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)

    def send(self, modeladmin: admin.ModelAdmin[Any], request: HttpRequest, done: str) -> None:
        modeladmin.message_user(
            request,
            ngettext("%(n)d lead %(done)s.", "%(n)d leads %(done)s.", self.changed)
            % {"n": self.changed, "done": done},
            messages.SUCCESS if self.changed else messages.INFO,
        )
        if not self.refused:
            return
        named = "; ".join(f"{name}: {reason}" for name, reason in self.refused[:REPORT_NAMES])
        rest = len(self.refused) - REPORT_NAMES
        if rest > 0:
            named += " " + ngettext("e mais %(n)d.", "e mais %(n)d.", rest) % {"n": rest}
        modeladmin.message_user(
            request,
            ngettext(
                "%(n)d lead não foi alterado — %(why)s",
                "%(n)d leads não foram alterados — %(why)s",
                len(self.refused),
            )
            % {"n": len(self.refused), "why": named},
            messages.WARNING,
        )


def error_text(exc: Exception) -> str:
    """One sentence from an API, form or service error (the first message of each field)."""
    if isinstance(exc, ApplicationError):
        return form_error_message(exc)
    if isinstance(exc, serializers.ValidationError | drf_exceptions.APIException):
        detail: Any = exc.detail
        return _flatten(detail) or str(exc)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            return _flatten(exc.message_dict)
        return " ".join(exc.messages)
    return str(exc)


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_flatten(item) for item in value.values())
    if isinstance(value, list | tuple):
        return " ".join(_flatten(item) for item in value)
    return str(value)


class ActorResolver:
    """The requester's active membership per organization (one query per organization)."""

    def __init__(self, request: HttpRequest) -> None:
        self.user_id = cast(int, request.user.pk)
        self.cache: dict[Any, Membership | None] = {}
        self.visible: dict[Any, set[Any]] = {}

    def actor(self, organization_id: Any) -> Membership | None:
        if organization_id not in self.cache:
            self.cache[organization_id] = (
                Membership.objects.filter(
                    user_id=self.user_id, organization_id=organization_id, ativo=True
                )
                .select_related("organization")
                .first()
            )
        return self.cache[organization_id]

    def check(self, lead: Lead, roles: Iterable[str]) -> Membership:
        """The actor for this lead, or Skip with why the requester may not act on it."""
        actor = self.actor(lead.organization_id)
        if actor is None:
            raise Skip(_("você não é membro ativo da organização deste lead"))
        if actor.role not in set(roles):
            raise Skip(
                _("seu papel (%(role)s) não permite esta operação")
                % {"role": actor.get_role_display()}
            )
        if actor.is_seller and not Lead.objects.visible_to(actor).filter(pk=lead.pk).exists():
            raise Skip(_("lead fora da sua carteira"))
        return actor


def run_per_lead(
    request: HttpRequest,
    queryset: QuerySet[Lead],
    apply: Callable[[Lead, Membership], bool],
    *,
    roles: Iterable[str] = LEAD_WRITE_ROLES,
) -> BulkReport:
    """`apply(lead, actor)` on each lead (True: changed; False or Skip: left as it was)."""
    resolver = ActorResolver(request)
    report = BulkReport()
    for lead in queryset.select_related("organization").order_by("nome_completo", "pk"):
        try:
            actor = resolver.check(lead, roles)
            if apply(lead, actor):
                report.changed += 1
            else:
                report.refused.append((lead.nome_completo, _("já estava assim")))
        except Skip as exc:
            report.refused.append((lead.nome_completo, str(exc)))
        except (
            ApplicationError,
            serializers.ValidationError,
            drf_exceptions.APIException,
            DjangoValidationError,
        ) as exc:
            report.refused.append((lead.nome_completo, error_text(exc)))
    return report


def update_through_api(lead: Lead, actor: Membership, payload: dict[str, Any]) -> bool:
    """Validates `payload` as a PATCH of the API would and saves it through the service."""
    serializer = LeadSerializer(
        lead,
        data=payload,
        partial=True,
        context={"organization": actor.organization, "membership": actor},
    )
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    if all(getattr(lead, name) == value for name, value in data.items()):
        return False
    services.lead_update(lead=lead, actor=actor, data=data)
    return True


# --- intermediate form pages --------------------------------------------------------------------


def form_step(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Lead],
    form: forms.Form,
    *,
    title: str,
    intro: str,
) -> TemplateResponse:
    """The page asking the action's parameters; it posts back to the changelist's action."""
    selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": modeladmin.model._meta,
        "form": form,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected": selected,
        "count": len(selected) if request.POST.get("select_across") != "1" else queryset.count(),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/leads/lead/bulk_action.html", context)


def submitted(request: HttpRequest) -> bool:
    return "apply" in request.POST


def member_queryset(queryset: QuerySet[Lead], roles: Iterable[str]) -> QuerySet[Membership]:
    """Active members with those roles (or a manager's) in the selected leads' organizations."""
    organizations = queryset.order_by().values("organization_id").distinct()
    return (
        Membership.objects.filter(
            organization_id__in=organizations, ativo=True, role__in={*roles, *MANAGER_ROLES}
        )
        .select_related("organization")
        .order_by("nome_completo", "pk")
    )


class MemberForm(forms.Form):
    member = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        label=gettext_lazy("Membro"),
        error_messages={
            "required": gettext_lazy("Escolha um membro."),
            "invalid_choice": gettext_lazy("Escolha um membro válido para esta função."),
        },
    )

    def __init__(self, *args: Any, members: QuerySet[Membership], label: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Any]", self.fields["member"])
        field.queryset = members
        field.label = label


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=gettext_lazy("Tags"),
        max_length=1000,
        help_text=gettext_lazy("Separadas por vírgula, por exemplo: vip, retorno"),
        error_messages={"required": gettext_lazy("Informe ao menos uma tag.")},
    )

    def clean_tags(self) -> list[str]:
        raw = [part for part in self.cleaned_data["tags"].split(",") if part.strip()]
        if not raw:
            raise forms.ValidationError(_("Informe ao menos uma tag."))
        try:
            tags: list[str] = TagsField().run_validation(raw)
        except serializers.ValidationError as exc:
            raise forms.ValidationError(error_text(exc)) from None
        return tags


class LostForm(forms.Form):
    motivo_perda = forms.CharField(
        label=gettext_lazy("Motivo da perda"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages={"required": gettext_lazy("Informe o motivo da perda.")},
    )

    def clean_motivo_perda(self) -> str:
        motivo = self.cleaned_data["motivo_perda"].strip()
        if not motivo:
            raise forms.ValidationError(_("Informe o motivo da perda."))
        return cast("str", motivo)


def _assign(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Lead],
    *,
    role: str,
    field: str,
    title: str,
) -> HttpResponse | None:
    members = member_queryset(queryset, [role])
    label = _("Closer") if role == Role.CLOSER else _("SDR")
    form = MemberForm(request.POST if submitted(request) else None, members=members, label=label)
    if submitted(request) and form.is_valid():
        member: Membership = form.cleaned_data["member"]

        def apply(lead: Lead, actor: Membership) -> bool:
            if lead.organization_id != member.organization_id:
                raise Skip(_("o membro escolhido é de outra organização"))
            return update_through_api(lead, actor, {f"{field}_id": str(member.pk)})

        report = run_per_lead(request, queryset, apply)
        report.send(
            modeladmin,
            request,
            _("atribuído(s) a %(nome)s") % {"nome": member.nome_completo},
        )
        return None
    return form_step(
        modeladmin,
        request,
        queryset,
        form,
        title=title,
        intro=_("Escolha quem assume os leads selecionados."),
    )


@admin.action(description=gettext_lazy("Atribuir closer"))
def assign_closer(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponse | None:
    return _assign(
        modeladmin,
        request,
        queryset,
        role=Role.CLOSER,
        field="closer",
        title=_("Atribuir closer"),
    )


@admin.action(description=gettext_lazy("Atribuir SDR"))
def assign_sdr(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponse | None:
    return _assign(
        modeladmin, request, queryset, role=Role.SDR, field="sdr", title=_("Atribuir SDR")
    )


def _tags(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Lead],
    *,
    add: bool,
) -> HttpResponse | None:
    form = TagsForm(request.POST if submitted(request) else None)
    if submitted(request) and form.is_valid():
        chosen: list[str] = form.cleaned_data["tags"]

        def apply(lead: Lead, actor: Membership) -> bool:
            current = list(lead.tags or [])
            if add:
                tags = [*current, *(tag for tag in chosen if tag not in current)]
            else:
                tags = [tag for tag in current if tag not in chosen]
            return update_through_api(lead, actor, {"tags": tags})

        report = run_per_lead(request, queryset, apply)
        report.send(
            modeladmin,
            request,
            _("com tags adicionadas") if add else _("com tags removidas"),
        )
        return None
    return form_step(
        modeladmin,
        request,
        queryset,
        form,
        title=_("Adicionar tags") if add else _("Remover tags"),
        intro=_("As tags valem para todos os leads selecionados."),
    )


@admin.action(description=gettext_lazy("Adicionar tags"))
def add_tags(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponse | None:
    return _tags(modeladmin, request, queryset, add=True)


@admin.action(description=gettext_lazy("Remover tags"))
def remove_tags(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponse | None:
    return _tags(modeladmin, request, queryset, add=False)


@admin.action(description=gettext_lazy("Marcar como perdido (com motivo)"))
def mark_lost(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponse | None:
    form = LostForm(request.POST if submitted(request) else None)
    if submitted(request) and form.is_valid():
        motivo: str = form.cleaned_data["motivo_perda"]

        def apply(lead: Lead, actor: Membership) -> bool:
            if lead.status == LeadStatus.PERDIDO:
                return False
            return update_through_api(
                lead, actor, {"status": LeadStatus.PERDIDO.value, "motivo_perda": motivo}
            )

        report = run_per_lead(request, queryset, apply)
        report.send(modeladmin, request, _("marcado(s) como perdido(s)"))
        return None
    return form_step(
        modeladmin,
        request,
        queryset,
        form,
        title=_("Marcar como perdido"),
        intro=_("O motivo fica registrado em cada lead selecionado."),
    )


@admin.action(description=gettext_lazy("Exportar selecionados (CSV)"))
def export_selected(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponseBase | None:
    """The API export's CSV (Excel flavour) of the selected leads the requester may export."""
    resolver = ActorResolver(request)
    allowed: list[Any] = []
    report = BulkReport()
    for lead in queryset.select_related("organization").only(
        "pk", "nome_completo", "organization_id", "closer_id", "sdr_id"
    ):
        try:
            resolver.check(lead, EXPORT_ROLES)
            allowed.append(lead.pk)
        except Skip as exc:
            report.refused.append((lead.nome_completo, str(exc)))
    if report.refused:
        report.send(modeladmin, request, _("exportado(s)"))
        if not allowed:
            return None
    rows = Lead.objects.filter(pk__in=allowed).order_by("-created_at", "-id")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in csv_io.export_lines(rows, excel=True)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


LEAD_BULK_ACTIONS = [assign_closer, assign_sdr, add_tags, remove_tags, mark_lost, export_selected]
