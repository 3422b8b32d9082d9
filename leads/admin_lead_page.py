"""The lead's page in the back office (`/admin/leads/lead/<id>/change/`): the 360° view.

`LeadPageMixin` (mixed into `LeadAdmin`) adds, around the usual edit form:

- a header: name, company, status, temperature, score, potential value, closer, SDR, the
  next open task and the last contact, dates in the organization's time zone;
- the timeline: the API's `GET /leads/{id}/timeline/` selector (`leads.timeline`, every
  registered source: interactions, status changes, tasks, assignments, follow-up steps,
  WhatsApp messages), newest first, 20 per page (`?timeline_page=`), labels instead of codes;
- forms to add an interaction (`<id>/interacao/`) and a task (`<id>/tarefa/`), and for managers
  to reopen a converted lead (`<id>/reabrir/`, `services.lead_reopen`): the input is
  checked by the API's own serializers (same rules, same Portuguese messages) and written by
  the same services (`interaction_create`, which also creates the task of a dated
  `proximo_passo`, and `task_create`), inside one transaction: a refused input writes nothing;
- the audit trail (`<id>/history/`, Django's history URL): who changed what, field by field.
  The audit trail lives in the `privacy` app, above this one, so its reader is registered here
  at start-up (`register_history_reader`, by config.admin_lead_history).

Access is the lead admin's: another organization's lead (or one a seller may not see) is a 404;
the forms are offered to, and accepted from, the roles the API lets add interactions and tasks.

Query budget of the page: constant whatever the length of the timeline (two queries for the
timeline page, whatever the number of sources; tests/leads/test_lead_page.py counts them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, cast
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import models, transaction
from django.db.models import F
from django.forms.utils import ErrorDict
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.admin_errors import SERVICE_ERRORS, service_error_messages
from config.templatetags.backoffice import brl
from leads import services, timeline
from leads.api.serializers import InteractionSerializer, LeadReopenSerializer, TaskSerializer
from leads.csv_io import parse_money
from leads.models import (
    Lead,
    LeadQualification,
    LeadStatus,
    Resultado,
    Task,
    TaskStatus,
    TaskTipo,
    Temperatura,
    TipoInteracao,
)
from organizations import access
from organizations.access import Policy
from organizations.models import Membership

TIMELINE_PAGE_SIZE = 20
HISTORY_LIMIT = 200  # entries shown on the audit page (the API answers up to 500)

# --- the audit trail's reader (registered by the app that keeps it) -------------------------

# reader(request, lead, limit) -> entries newest first, as privacy.selectors.history_entries:
# {at, actor: {id, nome_completo} | None, via, tipo, request_id, changes: {field: [old, new]}}
HistoryReader = Callable[[HttpRequest, Lead, int], list[dict[str, Any]]]
_history_reader: list[HistoryReader] = []


def register_history_reader(reader: HistoryReader) -> None:
    """Sets the audit trail's reader (a repeated registration replaces it)."""
    _history_reader[:] = [reader]


# --- forms: rendered by Django, checked by the API's serializers ------------------------------


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ApiCheckedForm(forms.Form):
    """A form whose input is validated by an API serializer: the same rules and messages as
    the API. Django's fields only render the inputs (labels, widgets, errors)."""

    serializer_class: ClassVar[type[Any]]
    marker: ClassVar[str]

    def __init__(self, *args: Any, context: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def api_data(self) -> QueryDict:
        """The posted values the serializer reads (a QueryDict: empty inputs mean "not given",
        as for any HTML form the API receives)."""
        data = QueryDict(mutable=True)
        for name in self.fields:
            key = self.add_prefix(name)
            if key in self.data:
                data[name] = self.data[key]
        return data

    def full_clean(self) -> None:
        self._errors = ErrorDict()
        self.cleaned_data = {}
        if not self.is_bound:
            return
        serializer = self.serializer_class(data=self.api_data(), context=self.context)
        if serializer.is_valid():
            self.cleaned_data = dict(serializer.validated_data)
            return
        for name, problems in serializer.errors.items():
            target = name if name in self.fields else None
            for problem in problems if isinstance(problems, list) else [problems]:
                self.add_error(target, str(problem))

    def add_service_error(self, exc: Exception) -> None:
        for name, message in service_error_messages(exc):
            self.add_error(name if name in self.fields else None, message)


def _text(label: Any, *, required: bool = False, rows: int = 0, max_length: int = 0) -> Any:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(
        label=label, required=required, widget=widget, max_length=max_length or None
    )


class InteractionPageForm(ApiCheckedForm):
    serializer_class = InteractionSerializer
    marker = "interaction"

    tipo_interacao = forms.ChoiceField(
        label=gettext_lazy("Tipo de interação"), choices=TipoInteracao.choices
    )
    resultado = forms.ChoiceField(
        label=gettext_lazy("Resultado"),
        choices=[("", "—"), *Resultado.choices],
        required=False,
    )
    resumo = _text(gettext_lazy("Resumo"), max_length=500)
    detalhes_completos = _text(gettext_lazy("Detalhes"), rows=3)
    data_interacao = forms.DateTimeField(
        label=gettext_lazy("Data da interação"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=gettext_lazy("Vazio: agora."),
    )
    duracao_minutos = forms.IntegerField(
        label=gettext_lazy("Duração (minutos)"), required=False, min_value=0
    )
    valor = forms.CharField(
        label=gettext_lazy("Valor (R$)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=gettext_lazy("Para um fechamento positivo, por exemplo: 15.000,00."),
    )
    proximo_passo = _text(gettext_lazy("Próximo passo"), max_length=500)
    motivo_perda = _text(gettext_lazy("Motivo da perda"), rows=2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["proximo_passo"].help_text = _(
            "Com uma data (por exemplo: “ligar amanhã às 10h”, “retornar em 05/12”), "
            "vira uma tarefa."
        )
        self.fields["motivo_perda"].help_text = _("Para um fechamento negativo.")

    def api_data(self) -> QueryDict:
        data = super().api_data()
        if data.get("valor"):
            data["valor"] = parse_money(str(data["valor"]))  # "15.000,00" as the user types it
        return data


class TaskPageForm(ApiCheckedForm):
    serializer_class = TaskSerializer
    marker = "task"

    titulo = _text(gettext_lazy("Título"), required=True, max_length=200)
    tipo = forms.ChoiceField(label=gettext_lazy("Tipo"), choices=TaskTipo.choices)
    vencimento = forms.DateTimeField(
        label=gettext_lazy("Vencimento"), required=False, widget=DateTimeLocalInput()
    )
    responsavel_id = forms.ChoiceField(label=gettext_lazy("Responsável"))
    descricao = _text(gettext_lazy("Descrição"), rows=2)

    def __init__(self, *args: Any, members: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(str(m.pk), m.nome_completo) for m in members]
        self.fields["responsavel_id"].choices = choices  # type: ignore[attr-defined]

    def api_data(self) -> QueryDict:
        data = super().api_data()
        data["lead_id"] = str(self.context["lead"].pk)  # the page's lead, never the input's
        return data


class ReopenPageForm(ApiCheckedForm):
    """`POST /api/v1/leads/{id}/reopen/` from the page: a manager takes a converted lead back
    to an open status, with the reason (kept in the status history)."""

    serializer_class = LeadReopenSerializer
    marker = "reopen"

    status = forms.ChoiceField(
        label=gettext_lazy("Voltar para"),
        choices=[(value, LeadStatus(value).label) for value in services.OPEN_STATUSES],
        initial=LeadStatus.NEGOCIACAO,
    )
    motivo = _text(gettext_lazy("Motivo da reabertura"), required=True, rows=2)


# --- the timeline as the page shows it -------------------------------------------------------

KIND_LABELS = {
    "interaction": gettext_lazy("Interação"),
    "status_change": gettext_lazy("Mudança de status"),
    "task": gettext_lazy("Tarefa"),
    "assignment": gettext_lazy("Atribuição"),
    "followup_step": gettext_lazy("Follow-up"),
    "whatsapp_message": gettext_lazy("WhatsApp"),
}


@dataclass
class Entry:
    """One timeline item ready to show: labels, not codes; times in the organization's zone."""

    tipo: str
    kind: str
    at: str
    title: str
    who: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)


class Presenter:
    """Turns a timeline row's payload into an `Entry` (choice labels from the source's model)."""

    def __init__(self, models_by_kind: dict[str, type[models.Model]], tz: ZoneInfo) -> None:
        self.models_by_kind = models_by_kind
        self.tz = tz

    def when(self, value: Any) -> str:
        if isinstance(value, str) and value:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if not isinstance(value, datetime):
            return ""
        return date_format(timezone.localtime(value, self.tz), "SHORT_DATETIME_FORMAT")

    def label(self, tipo: str, field_name: str, value: Any) -> str:
        model = self.models_by_kind.get(tipo)
        if value in (None, ""):
            return "—"
        try:
            model_field = model._meta.get_field(field_name) if model is not None else None
        except Exception:
            model_field = None
        choices = dict(getattr(model_field, "flatchoices", None) or [])
        return str(choices.get(value, value))

    def entry(self, row: tuple[str, str, datetime, dict[str, Any] | None]) -> Entry:
        tipo, _id, at, payload = row
        data = payload or {}
        present = PRESENTERS.get(tipo, _generic)
        entry = Entry(tipo=tipo, kind=str(KIND_LABELS.get(tipo, tipo)), at=self.when(at), title="")
        present(self, data, entry)
        entry.lines = [(label, value) for label, value in entry.lines if value not in ("", None)]
        return entry


def _name(ref: Any) -> str:
    return str(ref.get("nome_completo") or "") if isinstance(ref, dict) else ""


def _interaction(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    e.title = p.label("interaction", "tipo_interacao", d.get("tipo_interacao"))
    if d.get("resultado"):
        e.title += " · " + p.label("interaction", "resultado", d.get("resultado"))
    e.who = _name(d.get("closer"))
    e.lines = [
        (_("Resumo"), d.get("resumo") or ""),
        (_("Detalhes"), d.get("detalhes_completos") or ""),
        (_("Valor"), brl(d["valor"]) if d.get("valor") else ""),
        (_("Duração"), _minutes(d.get("duracao_minutos"))),
        (_("Próximo passo"), d.get("proximo_passo") or ""),
    ]


def _minutes(value: Any) -> str:
    return "" if value is None else _("%(n)s min") % {"n": value}


def _status_change(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    before = d.get("from_status")
    after = p.label("status_change", "to_status", d.get("to_status"))
    e.title = (
        f"{p.label('status_change', 'from_status', before)} → {after}"
        if before
        else _("Criado como %(status)s") % {"status": after}
    )
    e.who = _name(d.get("changed_by"))


def _task(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    e.title = str(d.get("titulo") or "")
    e.who = _name(d.get("responsavel"))
    e.lines = [
        (_("Tipo"), p.label("task", "tipo", d.get("tipo_tarefa"))),
        (_("Situação"), p.label("task", "status", d.get("status"))),
        (_("Vencimento"), p.when(d.get("vencimento"))),
        (_("Concluída em"), p.when(d.get("concluida_em"))),
        (_("Descrição"), d.get("descricao") or ""),
    ]


def _assignment(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    campo = {"closer": _("Closer"), "sdr": _("SDR")}.get(str(d.get("campo") or ""), "")
    e.title = _("Atribuído a %(nome)s") % {"nome": _name(d.get("membro")) or "—"}
    e.lines = [(_("Função"), str(campo)), (_("Motivo"), d.get("motivo") or "")]


def _followup_step(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    e.title = str(d.get("sequence_nome") or "")
    if d.get("step") is not None:
        e.title += " · " + _("passo %(n)s") % {"n": int(d["step"]) + 1}
    e.lines = [
        (_("Evento"), p.label("followup_step", "evento", d.get("evento"))),
        (_("Ação"), d.get("tipo_acao") or ""),
        (_("Nível"), p.label("followup_step", "level", d.get("level"))),
        (_("Mensagem"), d.get("message") or ""),
    ]


def _whatsapp_message(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    e.title = p.label("whatsapp_message", "direction", d.get("direction"))
    e.lines = [
        (_("Texto"), d.get("body") or ""),
        (_("Template"), d.get("template_name") or ""),
        (_("Situação"), p.label("whatsapp_message", "status", d.get("status"))),
    ]


def _generic(p: Presenter, d: dict[str, Any], e: Entry) -> None:
    """A kind registered by an app this page does not know yet: its plain values."""
    e.title = e.kind
    for key, value in d.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            e.lines.append((key, p.label(e.tipo, key, value)))


PRESENTERS: dict[str, Callable[[Presenter, dict[str, Any], Entry], None]] = {
    "interaction": _interaction,
    "status_change": _status_change,
    "task": _task,
    "assignment": _assignment,
    "followup_step": _followup_step,
    "whatsapp_message": _whatsapp_message,
}


def _source_models(lead: Lead) -> dict[str, type[models.Model]]:
    """Each timeline kind's model (read from its source's queryset: no query runs)."""
    found: dict[str, type[models.Model]] = {}
    for name, source in timeline.timeline_sources().items():
        found[name] = source(lead).model
    return found


def timeline_page(request: HttpRequest, lead: Lead, tz: ZoneInfo) -> tuple[Page[Any], list[Entry]]:
    """The timeline's page asked for by `?timeline_page=` (two queries: count and rows)."""
    paginator = Paginator(cast(Any, timeline.LeadTimeline(lead)), TIMELINE_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("timeline_page"))
    presenter = Presenter(_source_models(lead), tz)
    return page, [presenter.entry(row) for row in page.object_list]


# --- the header -------------------------------------------------------------------------------


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    return date_format(timezone.localtime(value, tz), "SHORT_DATETIME_FORMAT")


def header(lead: Lead, tz: ZoneInfo) -> dict[str, Any]:
    """The lead's summary (three queries: the closer and SDR names, the next task, the
    qualification)."""
    seats = {
        m.pk: m.nome_completo
        for m in Membership.objects.filter(pk__in=[lead.closer_id, lead.sdr_id]).only(
            "nome_completo"
        )
    }
    next_task = (
        Task.objects.filter(lead=lead, status=TaskStatus.PENDENTE)
        .order_by(F("vencimento").asc(nulls_last=True), "created_at")
        .only("titulo", "vencimento")
        .first()
    )
    qualification = LeadQualification.objects.filter(lead=lead).only("qualification_score").first()
    return {
        "nome": lead.nome_completo,
        "empresa": lead.empresa,
        "cargo": lead.cargo,
        "status": LeadStatus(lead.status).label if lead.status in LeadStatus.values else "",
        "status_code": lead.status,
        "temperatura": Temperatura(lead.temperatura).label
        if lead.temperatura in Temperatura.values
        else "",
        "temperatura_code": lead.temperatura,
        "score": lead.lead_score,
        "valor_potencial": brl(lead.valor_potencial),
        "closer": seats.get(lead.closer_id, "") if lead.closer_id else "",
        "sdr": seats.get(lead.sdr_id, "") if lead.sdr_id else "",
        "next_task": next_task,
        "next_task_due": _local(next_task.vencimento if next_task else None, tz),
        "last_contact": _local(lead.last_interaction_at, tz),
        "qualification": qualification,
    }


# --- the admin mixin --------------------------------------------------------------------------


@dataclass
class PageRights:
    actor: Membership | None
    interaction: bool
    task: bool
    reopen: bool = False  # a converted lead back to an open status: managers, with a reason


class LeadPageMixin:
    """What `LeadAdmin` needs for the 360° page (see the module's docstring)."""

    change_form_template = "admin/leads/lead/change_form.html"
    FORMS_ATTR = "_lead_page_forms"

    # Provided by ModelAdmin.
    admin_site: Any
    get_object: Any
    has_view_permission: Any
    has_change_permission: Any
    change_view: Any

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/interacao/",
                self.admin_site.admin_view(self.add_interaction_view),
                name="leads_lead_page_interaction",
            ),
            path(
                "<path:object_id>/tarefa/",
                self.admin_site.admin_view(self.add_task_view),
                name="leads_lead_page_task",
            ),
            path(
                "<path:object_id>/reabrir/",
                self.admin_site.admin_view(self.reopen_view),
                name="leads_lead_page_reopen",
            ),
        ]
        return [*own, *super().get_urls()]  # type: ignore[misc]

    # -- who may write from the page ------------------------------------------------------
    def page_rights(self, request: HttpRequest, lead: Lead) -> PageRights:
        actor = next(
            (
                m
                for m in access.admin_memberships(request)
                if m.organization_id == lead.organization_id
            ),
            None,
        )
        writes = actor is not None and bool(self.has_change_permission(request, lead))

        def may(policy: Policy) -> bool:
            return writes and access.may(actor, policy, "add")

        reopen = (
            writes
            and actor is not None
            and actor.role in access.MANAGERS
            and lead.status == LeadStatus.CONVERTIDO
        )
        return PageRights(actor, may(access.INTERACTIONS), may(access.TASKS), reopen)

    def _lead_or_404(self, request: HttpRequest, object_id: str) -> Lead:
        lead = self.get_object(request, unquote(object_id))
        if lead is None or not self.has_view_permission(request, lead):
            raise Http404(_("Registro não encontrado."))
        return cast(Lead, lead)

    # -- the page ---------------------------------------------------------------------------
    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if change and obj is not None:
            context.update(self.lead_page_context(request, obj))
        return cast(
            "HttpResponse",
            super().render_change_form(  # type: ignore[misc]
                request, context, add, change, form_url, obj
            ),
        )

    def lead_page_context(self, request: HttpRequest, lead: Lead) -> dict[str, Any]:
        tz = ZoneInfo(lead.organization.timezone)
        rights = self.page_rights(request, lead)
        bound = getattr(request, self.FORMS_ATTR, {})
        page, entries = timeline_page(request, lead, tz)
        summary = header(lead, tz)
        return {
            "lead_page": True,
            "lead_header": summary,
            "timeline_page": page,
            "timeline_entries": entries,
            "interaction_form": (
                bound.get("interaction") or self._interaction_form(lead, rights)
                if rights.interaction
                else None
            ),
            "task_form": (
                bound.get("task") or self._task_form(lead, rights) if rights.task else None
            ),
            "reopen_form": (
                bound.get("reopen") or self._form("reopen", lead, rights) if rights.reopen else None
            ),
            "history_url": reverse("admin:leads_lead_history", args=[lead.pk]),
            "qualification_url": self._qualification_url(
                request, lead, rights, summary["qualification"]
            ),
            "time_zone": lead.organization.timezone,
        }

    def _qualification_url(
        self, request: HttpRequest, lead: Lead, rights: PageRights, qualification: Any
    ) -> str:
        """Where the qualification is filled in (its own page, through the service), for
        the roles that may write it; empty otherwise."""
        if rights.actor is None or not self.has_change_permission(request, lead):
            return ""
        if not access.may(rights.actor, access.QUALIFICATIONS, "change"):
            return ""
        if qualification is not None:
            return reverse("admin:leads_leadqualification_change", args=[qualification.pk])
        return reverse("admin:leads_leadqualification_add") + f"?lead={lead.pk}"

    def _form(self, which: str, lead: Lead, rights: PageRights, data: Any = None) -> Any:
        if which == "interaction":
            return self._interaction_form(lead, rights, data)
        if which == "task":
            return self._task_form(lead, rights, data)
        context = {"organization": lead.organization, "membership": rights.actor, "lead": lead}
        return ReopenPageForm(data, context=context, prefix="reabrir")

    def _interaction_form(
        self, lead: Lead, rights: PageRights, data: Any = None
    ) -> InteractionPageForm:
        context = {"organization": lead.organization, "membership": rights.actor, "lead": lead}
        return InteractionPageForm(data, context=context, prefix="interacao")

    def _task_form(self, lead: Lead, rights: PageRights, data: Any = None) -> TaskPageForm:
        members = list(
            Membership.objects.filter(organization_id=lead.organization_id, ativo=True)
            .only("nome_completo")
            .order_by("nome_completo")
        )
        context = {"organization": lead.organization, "membership": rights.actor, "lead": lead}
        initial = {"responsavel_id": str(rights.actor.pk) if rights.actor else ""}
        return TaskPageForm(
            data, context=context, members=members, initial=initial, prefix="tarefa"
        )

    # -- the page's forms -------------------------------------------------------------------
    def add_interaction_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def write(lead: Lead, actor: Membership | None, data: dict[str, Any]) -> None:
            motivo = data.pop("motivo_perda", "")
            services.interaction_create(lead=lead, actor=actor, data=data, motivo_perda=motivo)

        return self._page_form(request, object_id, "interaction", write, _("Interação registrada."))

    def add_task_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def write(lead: Lead, actor: Membership | None, data: dict[str, Any]) -> None:
            data.setdefault("responsavel", actor)
            services.task_create(organization=lead.organization, actor=actor, data=data)

        return self._page_form(request, object_id, "task", write, _("Tarefa criada."))

    def reopen_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def write(lead: Lead, actor: Membership | None, data: dict[str, Any]) -> None:
            services.lead_reopen(
                lead=lead, actor=actor, status=data["status"], motivo=data["motivo"]
            )

        return self._page_form(request, object_id, "reopen", write, _("Lead reaberto."))

    def _page_form(
        self,
        request: HttpRequest,
        object_id: str,
        which: str,
        write: Callable[[Lead, Membership | None, dict[str, Any]], None],
        done: str,
    ) -> HttpResponse:
        """One of the page's forms posted: checked by the API's serializer, written by the
        service in one transaction; a refusal (either's) shows the page again, unwritten."""
        lead = self._lead_or_404(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))
        rights = self.page_rights(request, lead)
        if not getattr(rights, which):
            raise PermissionDenied
        form = self._form(which, lead, rights, request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    write(lead, rights.actor, dict(form.cleaned_data))
            except SERVICE_ERRORS as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, done)
                return self._back_to_timeline(lead)
        return self._page_with_errors(request, object_id, which, form)

    def _back_to_timeline(self, lead: Lead) -> HttpResponse:
        return HttpResponseRedirect(
            reverse("admin:leads_lead_change", args=[lead.pk]) + "#linha-do-tempo"
        )

    def _page_with_errors(
        self, request: HttpRequest, object_id: str, which: str, form: ApiCheckedForm
    ) -> HttpResponse:
        """The lead's page again, the refused form with its messages (nothing was written).
        The page is rendered as for a GET: the lead's own edit form is not processed."""
        page_request = copy.copy(request)  # the request log still says POST
        page_request.method = "GET"
        setattr(page_request, self.FORMS_ATTR, {which: form})
        response = self.change_view(page_request, object_id)
        response.status_code = 400
        return cast(HttpResponse, response)

    # -- the audit trail --------------------------------------------------------------------
    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        lead = self._lead_or_404(request, object_id)
        if not _history_reader:
            return cast("HttpResponse", super().history_view(request, object_id, extra_context))  # type: ignore[misc]
        entries = _history_reader[0](request, lead, HISTORY_LIMIT + 1)
        tz = ZoneInfo(lead.organization.timezone)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Histórico de alterações: %(nome)s") % {"nome": lead.nome_completo},
            "subtitle": lead.nome_completo,
            "opts": Lead._meta,
            "object": lead,
            "entries": HistoryFormatter(lead, tz).format(entries[:HISTORY_LIMIT]),
            "truncated": len(entries) > HISTORY_LIMIT,
            "limit": HISTORY_LIMIT,
            "change_url": reverse("admin:leads_lead_change", args=[lead.pk]),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/leads/lead/audit_history.html", context)


# --- the audit trail as people read it -------------------------------------------------------

VIA_LABELS = {
    "api": gettext_lazy("API"),
    "admin": gettext_lazy("Back office"),
    "job": gettext_lazy("Tarefa automática"),
    "import": gettext_lazy("Importação"),
}
TIPO_LABELS = {
    "criacao": gettext_lazy("Criação"),
    "alteracao": gettext_lazy("Alteração"),
    "remocao": gettext_lazy("Remoção"),
}


# The row's identity, never changed by anyone: the page is about this lead of this organization.
HIDDEN_HISTORY_FIELDS = frozenset({"id", "organization_id"})


class HistoryFormatter:
    """Audit entries with field labels and values as the page shows them."""

    def __init__(self, lead: Lead, tz: ZoneInfo) -> None:
        self.lead = lead
        self.tz = tz
        self.fields = {f.attname: f for f in Lead._meta.concrete_fields}
        self.members: dict[str, str] = {}

    def format(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        member_ids = {
            value
            for entry in entries
            for name, pair in entry["changes"].items()
            if name in ("closer_id", "sdr_id")
            for value in pair
            if value
        }
        self.members = {
            str(m.pk): m.nome_completo
            for m in Membership.objects.filter(
                organization_id=self.lead.organization_id, pk__in=member_ids
            ).only("nome_completo")
        }
        return [self.entry(entry) for entry in entries]

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        changes = [
            (self.label(name), self.value(name, old), self.value(name, new))
            for name, (old, new) in entry["changes"].items()
            if name not in HIDDEN_HISTORY_FIELDS
        ]
        return {
            "at": _local(entry["at"], self.tz),
            "actor": _name(entry.get("actor")) or _("Sistema"),
            "via": str(VIA_LABELS.get(entry.get("via") or "", "—")),
            "tipo": str(TIPO_LABELS.get(entry["tipo"], entry["tipo"])),
            "changes": changes,
        }

    def label(self, attname: str) -> str:
        model_field = self.fields.get(attname)
        return capfirst(str(model_field.verbose_name)) if model_field is not None else attname

    def value(self, attname: str, value: Any) -> str:
        if value in (None, "", [], {}):
            return "—"
        if attname in ("closer_id", "sdr_id"):
            return self.members.get(str(value), str(value))
        model_field = self.fields.get(attname)
        if isinstance(model_field, models.BooleanField):
            return str(_("Sim") if value else _("Não"))
        if isinstance(model_field, models.DateTimeField) and isinstance(value, str):
            return _local(datetime.fromisoformat(value), self.tz)
        if isinstance(model_field, models.DecimalField):
            return brl(value)
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        choices = dict(getattr(model_field, "flatchoices", None) or [])
        return str(choices.get(value, value))
