"""Back office for sequences, executions and their logs (organization-scoped).

Sequence edits go through the same validation and services as the API (step versions,
pause/resume on (de)activation); execution actions call the same services as the API.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from config.errors import ConflictError, PermissionDenied, form_error_message
from followup import admin_lead_actions, selectors, services
from followup.admin_forms import SequenceAdminForm
from followup.models import (
    EXECUTION_STATE_FIELDS,
    LOG_ENTRY_FIELDS,
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupSequence,
    SkipReason,
    TipoAcao,
)
from organizations import access
from organizations.admin import OrgScopedAdmin, OrgScopedTabularInline
from organizations.models import Membership

SEQUENCE_FIELDS = [
    "nome",
    "descricao",
    "ativo",
    "criterios_ativacao",
    "steps",
    "horario_envio_inicio",
    "horario_envio_fim",
    "pausar_fim_semana",
    "pausar_feriados",
]


def _reasons(por_motivo: dict[str, int]) -> list[tuple[str, int]]:
    labels = dict(SkipReason.choices)
    return [(str(labels.get(code, code)), n) for code, n in sorted(por_motivo.items())]


def stats_for_page(sequence: FollowupSequence) -> dict[str, Any]:
    """The sequence's results shaped for its admin page (reason and status labels)."""
    stats = selectors.sequence_stats(sequence=sequence)
    stats["status_rows"] = [
        (str(label), stats["por_status"][value]) for value, label in ExecutionStatus.choices
    ]
    stats["motivos"] = _reasons(stats["pulados"]["por_motivo"])
    tipos = dict(TipoAcao.choices)
    for step in stats["passos"]:
        step["numero"] = step["step"] + 1
        step["tipo_label"] = str(tipos.get(step["tipo_acao"], step["tipo_acao"]))
        step["motivos"] = _reasons(step["pulados"]["por_motivo"])
    return stats


def _actor(request: HttpRequest, organization_id: Any) -> Membership | None:
    return Membership.objects.filter(
        user_id=cast(int, request.user.pk), organization_id=organization_id, ativo=True
    ).first()


@admin.register(FollowupSequence)
class FollowupSequenceAdmin(OrgScopedAdmin):
    policy = access.SEQUENCES
    form = SequenceAdminForm
    change_form_template = "admin/followup/followupsequence/change_form.html"
    list_display = ["nome", "organization", "ativo", "versao", "created_at"]
    list_filter = ["ativo", "organization"]
    search_fields = ["nome"]
    list_select_related = ["organization"]
    readonly_fields = ["versao", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {"fields": ["organization", "nome", "descricao", "ativo"]},
        ),
        (
            _("Janela de envio"),
            {
                "fields": [
                    ("horario_envio_inicio", "horario_envio_fim"),
                    ("pausar_fim_semana", "pausar_feriados"),
                ]
            },
        ),
        (
            _("Critérios de ativação"),
            {
                "fields": [
                    "crit_status",
                    "crit_temperatura",
                    ("crit_origem", "crit_tags"),
                    ("crit_score_min", "crit_score_max", "crit_dias_sem_interacao"),
                ],
                "description": _(
                    "Leads em aberto que atendem a todos os critérios preenchidos entram na "
                    "sequência. Em branco: todos os leads em aberto."
                ),
            },
        ),
        (_("Registro"), {"fields": ["versao", "created_by", "created_at", "updated_at"]}),
    ]

    def save_model(
        self, request: HttpRequest, obj: FollowupSequence, form: Any, change: bool
    ) -> None:
        actor = _actor(request, obj.organization_id)
        data = {
            name: form.cleaned_data[name] for name in SEQUENCE_FIELDS if name in form.cleaned_data
        }
        if change:
            saved = services.sequence_update(sequence=obj, actor=actor, data=data)
        else:
            saved = services.sequence_create(organization=obj.organization, actor=actor, data=data)
        obj.pk = saved.pk
        obj.versao = saved.versao

    def delete_model(self, request: HttpRequest, obj: FollowupSequence) -> None:
        services.sequence_delete(sequence=obj)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        # The results panel under the editor (the same figures as GET .../stats/).
        sequence = kwargs.get("obj")
        if isinstance(sequence, FollowupSequence) and sequence.pk:
            context["sequence_stats"] = stats_for_page(sequence)
        return cast("HttpResponse", super().render_change_form(request, context, *args, **kwargs))


class LogInline(OrgScopedTabularInline):
    model = FollowupExecutionLog
    policy = access.EXECUTION_LOGS
    extra = 0
    fields = readonly_fields = ("created_at", *LOG_ENTRY_FIELDS)
    ordering = ["created_at", "id"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FollowupExecution)
class FollowupExecutionAdmin(OrgScopedAdmin):
    policy = access.EXECUTIONS
    list_display = ["lead", "sequence", "status", "step_atual", "proxima_execucao", "created_at"]
    list_filter = ["status", "organization"]
    search_fields = ["lead__nome_completo", "lead__email", "sequence__nome"]
    list_select_related = ["lead", "sequence"]
    readonly_fields = [
        "organization",
        "sequence",
        "versao",
        "lead",
        *EXECUTION_STATE_FIELDS,
        "data_resposta",
        "enrolled_by",
        "created_at",
        "updated_at",
        "finished_at",
    ]
    fields = list(readonly_fields)
    inlines = [LogInline]
    actions = ["pause", "resume", "cancel"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # executions come from enrollment

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(access.lead_visibility_q(membership, prefix="lead__"))

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[FollowupExecution], name: str
    ) -> None:
        service = getattr(services, f"execution_{name}")
        done = 0
        for execution in queryset:
            try:
                service(execution=execution, actor=_actor(request, execution.organization_id))
                done += 1
            except (ConflictError, PermissionDenied) as exc:
                # A seller may act only on the executions of leads they may write.
                self.message_user(
                    request, f"{execution}: {form_error_message(exc)}", messages.WARNING
                )
        if done:
            self.message_user(request, _("%(n)d execução(ões) atualizada(s).") % {"n": done})

    @admin.action(description=_("Pausar execuções selecionadas"))
    def pause(self, request: HttpRequest, queryset: QuerySet[FollowupExecution]) -> None:
        self._apply(request, queryset, "pause")

    @admin.action(description=_("Retomar execuções selecionadas"))
    def resume(self, request: HttpRequest, queryset: QuerySet[FollowupExecution]) -> None:
        self._apply(request, queryset, "resume")

    @admin.action(description=_("Cancelar execuções selecionadas"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[FollowupExecution]) -> None:
        self._apply(request, queryset, "cancel")


@admin.register(FollowupExecutionLog)
class FollowupExecutionLogAdmin(OrgScopedAdmin):
    policy = access.EXECUTION_LOGS
    list_display = ["created_at", "execution", "step", "tipo_acao", "evento", "level", "message"]
    list_filter = ["evento", "level", "organization"]
    list_select_related = ["execution"]
    readonly_fields = [
        "organization",
        "execution",
        *LOG_ENTRY_FIELDS,
        "created_at",
    ]
    fields = list(readonly_fields)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(access.lead_visibility_q(membership, prefix="execution__lead__"))


# The lead list's "enrol in a sequence" action (followup may import leads, not the reverse).
admin_lead_actions.install()
