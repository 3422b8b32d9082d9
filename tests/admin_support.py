"""Admin test support: one row of every admin-registered model per organization, and the URL
list derived from the admin site itself (so a new ModelAdmin or admin URL is walked too)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, reverse

from followup.models import FollowupExecutionLog
from integrations.models import CrmWebhookEvent, WebhookNotification
from integrations.outbound.models import WebhookDelivery
from integrations.outbound.services import webhook_endpoint_create
from integrations.services import whatsapp_gateway_create
from leads.models import LeadImport
from organizations.invitations import invitation_create
from organizations.models import Membership
from tests.conftest import Org
from tests.factories import (
    HolidayFactory,
    InteractionFactory,
    LeadFactory,
    NotificationFactory,
    QualificationFactory,
    TaskFactory,
    UserFactory,
)
from tests.followup.factories import make_execution, make_sequence
from tests.integrations.factories import (
    CRMConnectionFactory,
    WhatsAppAccountFactory,
    WhatsAppMessageFactory,
)
from tests.mentorados.factories import EvolucaoFactory, FeedbackFactory, MentoradoFactory

# Admin pages only a superuser (the platform's operator) may open: third-party models that
# are not organization-owned. Members get 403 on each of them.
SUPERUSER_ONLY_MODELS = {
    "auth.group",
    "token_blacklist.outstandingtoken",
    "token_blacklist.blacklistedtoken",
}
OUR_APPS = {"organizations", "leads", "mentorados", "followup", "integrations"}


def label(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def build_world(o: Org) -> dict[str, Model]:
    """One row of each of our admin-registered models in this organization, by label."""
    lead = LeadFactory(organization=o.org, closer=o.closer, sdr=o.sdr, tags=["vip"])
    sequence = make_sequence(o.org)
    execution = make_execution(sequence, lead)
    account = WhatsAppAccountFactory(organization=o.org)
    body = b'{"object": "whatsapp_business_account"}'
    mentorado = MentoradoFactory(organization=o.org, mentor=o.mentor)
    crm_connection = CRMConnectionFactory(organization=o.org)
    world: dict[str, Model] = {
        "organizations.organization": o.org,
        "organizations.membership": o.sdr,
        "organizations.user": o.sdr.user,
        "organizations.organizationholiday": HolidayFactory(organization=o.org),
        "organizations.notification": NotificationFactory(recipient=o.admin),
        "leads.lead": lead,
        "leads.leadinteraction": InteractionFactory(lead=lead, closer=o.closer),
        "leads.leadqualification": QualificationFactory(lead=lead),
        "leads.leadstatuschange": lead.status_changes.first() or _status_change(lead),
        "leads.task": TaskFactory(responsavel=o.closer, lead=lead),
        "mentorados.mentorado": mentorado,
        "mentorados.evolucaofinanceira": EvolucaoFactory(mentorado=mentorado),
        "mentorados.mentoradofeedback": FeedbackFactory(mentorado=mentorado),
        "followup.followupsequence": sequence,
        "followup.followupexecution": execution,
        "followup.followupexecutionlog": FollowupExecutionLog.objects.create(
            organization=o.org, execution=execution, evento="enrolled", message="Inscrito"
        ),
        "integrations.whatsappaccount": account,
        "integrations.whatsappmessage": WhatsAppMessageFactory(organization=o.org, lead=lead),
        "integrations.webhooknotification": WebhookNotification.objects.create(
            organization=o.org,
            account=account,
            raw_body=body,
            body_sha256=hashlib.sha256(body).hexdigest(),
        ),
        "integrations.crmconnection": crm_connection,
        "integrations.crmwebhookevent": CrmWebhookEvent.objects.create(
            organization=o.org,
            connection=crm_connection,
            event_id="hs-1",
            crm_id="5101",
            changes=[{"campo": "lead_score", "value": "80", "at": "2026-12-04T21:00:00+00:00"}],
            outcome="applied",
        ),
        "leads.leadimport": LeadImport.objects.create(
            organization=o.org, created_by=o.sdr, content="nome\nAna\n", filename="a.csv"
        ),
    }
    gateway, _url = whatsapp_gateway_create(organization=o.org, data={"nome": "Twilio"})
    world["integrations.whatsappgateway"] = gateway
    endpoint, _secret = webhook_endpoint_create(
        organization=o.org, data={"url": "https://hooks.exemplo.com.br/x", "eventos": []}
    )
    world["integrations.webhookendpoint"] = endpoint
    world["integrations.webhookdelivery"] = WebhookDelivery.objects.create(
        organization=o.org,
        endpoint=endpoint,
        evento="lead.created",
        mensagem_id=f"msg_{o.org.pk.hex[:12]}",
        payload={"type": "lead.created"},
    )
    world["organizations.invitation"] = invitation_create(
        organization=o.org,
        actor=o.admin,
        user=UserFactory(),
        nome_completo="Pessoa Convidada",
        role="sdr",
    )[0]
    world.update(_routing_and_records(o, lead))
    return world


def _routing_and_records(o: Org, lead: Any) -> dict[str, Model]:
    """Routing rules, assignments, absences, consents and merge records (one of each)."""
    from datetime import date

    from leads.models import ConsentRecord, LeadAssignment, LeadMerge, RoutingRule
    from organizations.models import MemberAbsence

    rule = RoutingRule.objects.create(organization=o.org, nome="Site")
    return {
        "leads.routingrule": rule,
        "leads.leadassignment": LeadAssignment.objects.create(
            organization=o.org,
            lead=lead,
            membership=o.closer,
            rule=rule,
            campo="closer",
            motivo="Rodízio",
        ),
        "leads.consentrecord": ConsentRecord.objects.create(
            organization=o.org,
            lead=lead,
            canal="email",
            estado="concedido",
            base_legal="consentimento",
            origem="formulario",
        ),
        "leads.leadmerge": LeadMerge.objects.create(
            organization=o.org, target_id=lead.pk, merged_lead_id=lead.pk, merged_by=o.gestor
        ),
        "organizations.memberabsence": MemberAbsence.objects.create(
            organization=o.org, membership=o.closer, inicio=date(2026, 1, 5), fim=date(2026, 1, 9)
        ),
    }


def _status_change(lead: Any) -> Any:
    from leads.models import LeadStatusChange

    return LeadStatusChange.objects.create(
        organization=lead.organization, lead=lead, from_status="", to_status=lead.status
    )


def registered_models() -> list[tuple[type[Model], Any]]:
    return sorted(admin.site._registry.items(), key=lambda item: label(item[0]))


@dataclass(frozen=True)
class AdminUrl:
    """One URL of a ModelAdmin: its kind (changelist, add, change, delete, history, or a custom
    name) and whether it takes the object's id."""

    model_label: str
    kind: str
    url_name: str
    takes_object: bool

    def url(self, obj: Model | None) -> str:
        if self.takes_object:
            assert obj is not None
            return reverse(f"admin:{self.url_name}", args=[obj.pk])
        return reverse(f"admin:{self.url_name}")


def model_urls(model: type[Model], model_admin: Any) -> list[AdminUrl]:
    """Every named URL of this ModelAdmin (its own get_urls, custom views included)."""
    prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
    urls = []
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or not pattern.name:
            continue  # the catch-all redirect has no name
        kind = pattern.name.removeprefix(prefix)
        takes_object = "object_id" in pattern.pattern.regex.groupindex
        if pattern.pattern.regex.groupindex.keys() - {"object_id"}:
            continue  # other arguments: the view's own tests cover it
        urls.append(AdminUrl(label(model), kind, pattern.name, takes_object))
    return urls


def foreign_keys(model: type[Model]) -> list[str]:
    """Fields of the model that the admin's autocomplete endpoint accepts (FK and M2M to a
    registered model)."""
    names = []
    for field in model._meta.get_fields():
        if (
            getattr(field, "concrete", False)
            and (field.many_to_one or field.many_to_many)
            and field.related_model in admin.site._registry
        ):
            names.append(field.name)
    return names


def login(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    # The organization the back office acts for: this membership's.
    client.get(reverse("admin:switch-organization", args=[membership.organization_id]))
    return client


class FormReader(HTMLParser):
    """The named inputs of the admin's change form, with the values the page rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None
        self._selected: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file"):
                return
            self.data.setdefault(name, []).append(
                a.get("value", "on" if kind == "checkbox" else "")
            )
        elif tag == "select" and name:
            self._select, self._selected = name, []
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data


def form_data(html: str) -> dict[str, list[str]]:
    reader = FormReader()
    reader.feed(html)
    return reader.data
