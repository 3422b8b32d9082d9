"""The back office's sidebar (django-unfold `UNFOLD["SIDEBAR"]["navigation"]`), in one place.

Add a page with one line in `sections()`: `_model(...)` for a registered model's list (shown to
whoever may view it), `_page(...)` for a custom admin page with its own permission callback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse_lazy
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


def _model_admin(label: str) -> Any:
    app_label, model_name = label.split(".")
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == app_label and model._meta.model_name == model_name:
            return model_admin
    raise LookupError(label)


# The keys unfold's sidebar template reads that our entries do not use, with the values that
# mean "unset": a key a template reads and a dict lacks costs Django a failed lookup (an
# exception and a dir()), ~120 of them a page. (A group's badge too: its title shows one.)
_GROUP_UNSET: dict[str, Any] = {"collapsible": False, "badge": None}
_ITEM_UNSET: dict[str, Any] = {"badge": None, "link_callback": None}


def _model(title: Promise | str, icon: str, label: str) -> dict[str, Any]:
    """A model's changelist, shown when the requester may view that model in the admin."""
    app_label, model_name = label.split(".")

    def permission(request: HttpRequest) -> bool:
        return bool(_model_admin(label).has_view_permission(request))

    link = reverse_lazy(f"admin:{app_label}_{model_name}_changelist")
    return {
        **_ITEM_UNSET,
        "title": title,
        "icon": icon,
        "link": link,
        "permission": permission,
        "model": label,
    }


def _page(
    title: Promise | str,
    icon: str,
    url_name: str,
    permission: Callable[[HttpRequest], bool] | None = None,
) -> dict[str, Any]:
    """A custom admin page by URL name, shown when `permission(request)` (default: always)."""

    item: dict[str, Any] = {
        **_ITEM_UNSET,
        "title": title,
        "icon": icon,
        "link": reverse_lazy(url_name),
    }
    if permission is not None:
        item["permission"] = permission
    return item


def _leads(request: HttpRequest) -> bool:
    return bool(_model_admin("leads.lead").has_view_permission(request))


def _superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_superuser)


def _privacy() -> dict[str, Any]:
    return _section(
        _("Privacidade"),
        [
            _model(_("Acessos a dados pessoais"), "policy", "privacy.dataaccesslog"),
            _model(_("Histórico de leads"), "history", "privacy.historicallead"),
            _model(_("Solicitações de titulares"), "person_search", "privacy.datasubjectrequest"),
            _model(_("Retenção de dados"), "auto_delete", "privacy.retentionsettings"),
        ],
    )


def _section(title: Promise | str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {**_GROUP_UNSET, "title": title, "separator": True, "items": items}


def _sales() -> dict[str, Any]:
    return _section(
        _("Vendas"),
        [
            _page(_("Meu dia"), "today", "admin-meu-dia"),
            _page(_("Painel"), "monitoring", "admin-painel"),
            _model(_("Leads"), "person_search", "leads.lead"),
            _page(_("Quadro de leads"), "view_kanban", "admin:leads_lead_board", _leads),
            _model(_("Importações"), "upload_file", "leads.leadimport"),
            _model(_("Tarefas"), "task_alt", "leads.task"),
            _model(_("Consentimentos"), "verified_user", "leads.consentrecord"),
            _model(_("Interações"), "forum", "leads.leadinteraction"),
            _model(_("Qualificações"), "fact_check", "leads.leadqualification"),
            _model(_("Histórico de status"), "history", "leads.leadstatuschange"),
            _model(_("Regras de distribuição"), "alt_route", "leads.routingrule"),
            _model(_("Atribuições automáticas"), "assignment_ind", "leads.leadassignment"),
            _model(_("Mesclagens de leads"), "merge", "leads.leadmerge"),
        ],
    )


def _mentorados() -> dict[str, Any]:
    return _section(
        _("Mentorados"),
        [
            _model(_("Mentorados"), "school", "mentorados.mentorado"),
            _model(_("Evolução financeira"), "trending_up", "mentorados.evolucaofinanceira"),
            _model(_("Feedbacks"), "reviews", "mentorados.mentoradofeedback"),
        ],
    )


def _followup() -> dict[str, Any]:
    return _section(
        _("Follow-up"),
        [
            _model(_("Sequências"), "route", "followup.followupsequence"),
            _model(_("Execuções"), "play_circle", "followup.followupexecution"),
            _model(_("Registros de execução"), "receipt_long", "followup.followupexecutionlog"),
        ],
    )


def _integrations() -> dict[str, Any]:
    return _section(
        _("Integrações"),
        [
            _model(_("Contas de WhatsApp"), "chat", "integrations.whatsappaccount"),
            _model(_("Gateways de WhatsApp"), "webhook", "integrations.whatsappgateway"),
            _model(_("Mensagens de WhatsApp"), "sms", "integrations.whatsappmessage"),
            _model(_("Webhooks recebidos"), "webhook", "integrations.webhooknotification"),
            _model(_("Conexões de CRM"), "hub", "integrations.crmconnection"),
            _model(_("Eventos do CRM"), "sync_alt", "integrations.crmwebhookevent"),
            _model(_("Webhooks de saída"), "send", "integrations.webhookendpoint"),
            _model(_("Entregas de webhook"), "outbox", "integrations.webhookdelivery"),
        ],
    )


def _organization() -> dict[str, Any]:
    return _section(
        _("Organização"),
        [
            _model(_("Organizações"), "apartment", "organizations.organization"),
            _model(_("Membros"), "group", "organizations.membership"),
            _model(_("Convites"), "mail", "organizations.invitation"),
            _model(_("Notificações"), "notifications", "organizations.notification"),
            _model(_("Usuários"), "person", "organizations.user"),
            _model(_("Feriados"), "event", "organizations.organizationholiday"),
            _model(_("Ausências de membros"), "beach_access", "organizations.memberabsence"),
            _page(_("Documentação da API"), "api", "swagger-ui"),
            _page(_("Filas e jobs"), "queue", "django_rq:home", _superuser),
        ],
    )


def sections() -> list[dict[str, Any]]:
    """The sidebar's sections, in display order."""
    return [_sales(), _mentorados(), _followup(), _privacy(), _integrations(), _organization()]


def navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """Called by unfold per request; items the requester may not see are hidden by unfold."""
    return sections()
