"""Every object route of the API, tried by an admin of organization A on organization B's
object: never a 2xx, never a change. The route list comes from the URL resolver, so a new
object endpoint fails here until it is given a builder below (and so gets this test too).

"Never a change" is checked by re-reading every row of every model of ours before and after the
attempts; "never a 2xx" per method: a 404 for each method the view serves, a 405 for the others.
The owner's own admin then reaches the object: a 200 on GET, or, for action routes that serve
one method only, the answer named in OWNER_ACTION (never a 404)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from integrations.outbound.models import WebhookDelivery, WebhookEndpoint
from leads.models import LeadImport, RoutingRule
from organizations.models import Device, MemberAbsence
from tests.conftest import Org
from tests.factories import (
    HolidayFactory,
    InteractionFactory,
    LeadFactory,
    NotificationFactory,
    QualificationFactory,
    TaskFactory,
)
from tests.followup.factories import make_execution, make_sequence
from tests.integrations.factories import CRMConnectionFactory, WhatsAppAccountFactory
from tests.mentorados.factories import MentoradoFactory

pytestmark = pytest.mark.django_db

Builder = Callable[[Org], str]


def _lead(b: Org) -> str:
    return str(LeadFactory(organization=b.org).pk)


def _interaction(b: Org) -> str:
    interaction = InteractionFactory(lead=LeadFactory(organization=b.org))
    return f"{interaction.lead_id}/interactions/{interaction.pk}"


def _qualification(b: Org) -> str:
    return str(QualificationFactory(lead=LeadFactory(organization=b.org)).lead_id)


def _execution(b: Org) -> str:
    return str(make_execution(make_sequence(b.org), LeadFactory(organization=b.org)).pk)


def _webhook_delivery(b: Org) -> str:
    endpoint = WebhookEndpoint.objects.create(
        organization=b.org, url="https://example.com/h", eventos=["lead.created"], secret="x"
    )
    delivery = WebhookDelivery.objects.create(
        organization=b.org, endpoint=endpoint, evento="lead.created", mensagem_id="m", payload={}
    )
    return f"integrations/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}"


def _device(b: Org) -> str:
    device = Device.objects.create(
        organization=b.org, membership=b.admin, plataforma="android", token=f"tok-{b.org.pk}"
    )
    return str(device.pk)


def _absence(b: Org) -> str:
    absence = MemberAbsence.objects.create(
        organization=b.org, membership=b.closer, inicio=date(2026, 1, 1), fim=date(2026, 1, 2)
    )
    return f"members/{b.closer.pk}/absences/{absence.pk}/"


def _import(b: Org) -> str:
    return str(LeadImport.objects.create(organization=b.org, created_by=b.admin, content="x\n").pk)


def _privacy_request(b: Org, status: str = "falhou") -> str:
    from django.utils import timezone

    from privacy.models import DataSubjectExport, DataSubjectRequest

    lead = LeadFactory(organization=b.org)
    request = DataSubjectRequest.objects.create(
        organization=b.org,
        tipo="exportacao",
        status=status,
        identificador_tipo="lead",
        identificador_hash="0" * 64,
        lead_ids=[str(lead.pk)],
        expira_em=timezone.now() + timedelta(days=7),
    )
    if status == "concluida":
        DataSubjectExport.objects.create(request=request, organization=b.org, conteudo={})
    return f"privacy/requests/{request.pk}/"


def _invitation(b: Org) -> str:
    from organizations.invitations import invitation_create
    from tests.factories import UserFactory

    invitation, _token = invitation_create(
        organization=b.org, actor=b.admin, user=UserFactory(), nome_completo="C", role="closer"
    )
    return f"invitations/{invitation.pk}/"


def _gateway(b: Org) -> str:
    from integrations import services

    gateway, _url = services.whatsapp_gateway_create(organization=b.org, data={"nome": "B"})
    return str(gateway.pk)


# Route (as the resolver prints it, with ids replaced by {}) -> URL builder for org B's object.
BUILDERS: dict[str, Builder] = {
    "members/{}/": lambda b: f"members/{b.sdr.pk}/",
    "holidays/{}/": lambda b: f"holidays/{HolidayFactory(organization=b.org).pk}/",
    "leads/{}/": lambda b: f"leads/{_lead(b)}/",
    "leads/{}/timeline/": lambda b: f"leads/{_lead(b)}/timeline/",
    "leads/{}/interactions/": lambda b: f"leads/{_lead(b)}/interactions/",
    "leads/{}/interactions/{}/": lambda b: f"leads/{_interaction(b)}/",
    "leads/{}/qualification/": lambda b: f"leads/{_qualification(b)}/qualification/",
    "leads/{}/sync-crm/": lambda b: f"leads/{_lead(b)}/sync-crm/",
    "leads/{}/reopen/": lambda b: f"leads/{_lead(b)}/reopen/",
    "leads/{}/consents/": lambda b: f"leads/{_lead(b)}/consents/",
    "leads/{}/history/": lambda b: f"leads/{_lead(b)}/history/",
    "tasks/{}/": lambda b: f"tasks/{TaskFactory(responsavel=b.closer).pk}/",
    "imports/{}/": lambda b: f"imports/{_import(b)}/",
    "mentorados/{}/": lambda b: f"mentorados/{MentoradoFactory(organization=b.org).pk}/",
    "mentorados/{}/evolucao-financeira/": lambda b: (
        f"mentorados/{MentoradoFactory(organization=b.org).pk}/evolucao-financeira/"
    ),
    "mentorados/{}/feedbacks/": lambda b: (
        f"mentorados/{MentoradoFactory(organization=b.org).pk}/feedbacks/"
    ),
    "followup/sequences/{}/": lambda b: f"followup/sequences/{make_sequence(b.org).pk}/",
    "followup/sequences/{}/enroll/": lambda b: (
        f"followup/sequences/{make_sequence(b.org).pk}/enroll/"
    ),
    "followup/sequences/{}/stats/": lambda b: (
        f"followup/sequences/{make_sequence(b.org).pk}/stats/"
    ),
    "followup/executions/{}/": lambda b: f"followup/executions/{_execution(b)}/",
    "followup/executions/{}/logs/": lambda b: f"followup/executions/{_execution(b)}/logs/",
    "followup/executions/{}/pause/": lambda b: f"followup/executions/{_execution(b)}/pause/",
    "followup/executions/{}/resume/": lambda b: f"followup/executions/{_execution(b)}/resume/",
    "followup/executions/{}/cancel/": lambda b: f"followup/executions/{_execution(b)}/cancel/",
    "notifications/{}/": lambda b: f"notifications/{NotificationFactory(recipient=b.admin).pk}/",
    "notifications/{}/read/": lambda b: (
        f"notifications/{NotificationFactory(recipient=b.admin).pk}/read/"
    ),
    "devices/{}/": lambda b: f"devices/{_device(b)}/",
    "invitations/{}/": _invitation,
    "integrations/whatsapp-accounts/{}/": lambda b: (
        f"integrations/whatsapp-accounts/{WhatsAppAccountFactory(organization=b.org).pk}/"
    ),
    "integrations/whatsapp-accounts/{}/confirm/": lambda b: (
        f"integrations/whatsapp-accounts/{WhatsAppAccountFactory(organization=b.org).pk}/confirm/"
    ),
    "integrations/whatsapp-gateways/{}/": lambda b: (
        f"integrations/whatsapp-gateways/{_gateway(b)}/"
    ),
    "integrations/whatsapp-gateways/{}/rotate/": lambda b: (
        f"integrations/whatsapp-gateways/{_gateway(b)}/rotate/"
    ),
    "integrations/crm-connections/{}/": lambda b: (
        f"integrations/crm-connections/{CRMConnectionFactory(organization=b.org).pk}/"
    ),
    "leads/{}/merge/": lambda b: f"leads/{_lead(b)}/merge/",
    "privacy/requests/{}/": _privacy_request,
    "privacy/requests/{}/download/": lambda b: f"{_privacy_request(b, 'concluida')}download/",
    "privacy/requests/{}/retry/": lambda b: f"{_privacy_request(b)}retry/",
    "routing-rules/{}/": lambda b: (
        f"routing-rules/{RoutingRule.objects.create(organization=b.org, nome='r').pk}/"
    ),
    "members/{}/absences/": lambda b: f"members/{b.closer.pk}/absences/",
    "members/{}/absences/{}/": _absence,
    "integrations/webhook-endpoints/{}/": lambda b: (
        _webhook_delivery(b).split("/deliveries/")[0] + "/"
    ),
    "integrations/webhook-endpoints/{}/deliveries/": lambda b: (
        _webhook_delivery(b).split("/deliveries/")[0] + "/deliveries/"
    ),
    "integrations/webhook-endpoints/{}/deliveries/{}/": lambda b: f"{_webhook_delivery(b)}/",
    "integrations/webhook-endpoints/{}/deliveries/{}/replay/": lambda b: (
        f"{_webhook_delivery(b)}/replay/"
    ),
}

_ID = re.compile(r"\(\?P<\w+>[^)]*\)|<(?:\w+:)?\w+>")


def object_routes() -> Iterator[str]:
    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> Iterator[str]:
        for pattern in patterns:
            text = prefix + str(pattern.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, text)
            elif text.startswith("api/v1/") and _ID.search(text):
                yield _ID.sub("{}", text.removeprefix("api/v1/"))

    yield from dict.fromkeys(walk(get_resolver().url_patterns, ""))


def test_every_object_route_has_a_tenancy_builder():
    assert set(object_routes()) == set(BUILDERS)


# Routes without GET (actions): the one method they serve and what the owner's admin gets for an
# empty body on a fresh object (the action runs, or refuses the empty body with a 4xx, not a 404).
OWNER_ACTION: dict[str, tuple[str, int]] = {
    "followup/executions/{}/cancel/": ("post", 200),
    "followup/executions/{}/pause/": ("post", 200),
    "followup/executions/{}/resume/": ("post", 200),
    "followup/sequences/{}/enroll/": ("post", 400),  # lead_ids required
    "integrations/webhook-endpoints/{}/deliveries/{}/replay/": ("post", 202),
    "integrations/whatsapp-accounts/{}/confirm/": ("post", 400),  # the stub Graph API is down
    "integrations/whatsapp-gateways/{}/rotate/": ("post", 200),
    "leads/{}/merge/": ("post", 400),  # outro_id required
    "leads/{}/reopen/": ("post", 400),  # motivo required
    "leads/{}/sync-crm/": ("post", 409),  # no active CRM connection
    "members/{}/absences/{}/": ("delete", 204),
    "notifications/{}/read/": ("post", 200),
    "privacy/requests/{}/retry/": ("post", 200),  # a failed request
}

METHODS = ("get", "post", "put", "patch", "delete")
OUR_APPS = ("organizations", "leads", "mentorados", "followup", "integrations", "privacy")


def served_methods(url: str) -> set[str]:
    """The HTTP methods the route's view answers (a viewset's actions, an APIView's handlers)."""
    view = resolve(url).func
    view_class = getattr(view, "cls", None) or view.view_class  # type: ignore[attr-defined]
    actions = getattr(view, "actions", None)
    handled = set(actions) if actions else {m for m in METHODS if hasattr(view_class, m)}
    return handled & set(view_class.http_method_names)


def every_row() -> dict[str, list[dict[str, object]]]:
    """Every row of every model of ours, by model, as stored."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS and not model._meta.proxy
    }


@pytest.mark.parametrize("route", sorted(BUILDERS))
def test_it_never_reaches_another_organizations_object(org_a, org_b, client_for, route):
    url = "/api/v1/" + BUILDERS[route](org_b)
    served = served_methods(url)
    client = client_for(org_a.admin)
    before = every_row()
    for method in METHODS:
        response = getattr(client, method)(url, {}, format="json")
        expected = 404 if method in served else 405
        assert response.status_code == expected, (method, url, response.status_code)
        if expected == 404:
            assert set(response.json()) == {"error", "details"}
    assert every_row() == before, url
    # The object is still reachable by its own organization's admin.
    owner = client_for(org_b.admin)
    if "get" in served:
        assert owner.get(url).status_code == 200, url
    else:
        method, status = OWNER_ACTION.get(route, ("", 0))
        assert served == {method}, (url, served)
        assert getattr(owner, method)(url, {}, format="json").status_code == status, url
