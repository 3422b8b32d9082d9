"""Retention: settings API, and the daily job anonymising / deleting what is past them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.jobs import discover_periodic_jobs
from followup.models import FollowupExecutionLog, FollowupStepRun
from integrations.models import WebhookNotification
from integrations.outbound.models import WebhookDelivery, WebhookEndpoint
from leads.models import Lead
from privacy.jobs import retention_all
from privacy.models import RetentionSettings
from tests.factories import LeadFactory
from tests.followup.factories import make_execution, make_sequence

pytestmark = pytest.mark.django_db
URL = "/api/v1/privacy/retention/"


def test_admins_read_and_change_the_settings(org_a, org_b, client_for):
    admin = client_for(org_a.admin)
    assert admin.get(URL).json() == {
        "leads_perdidos_dias": None,
        "webhooks_dias": 30,
        "envios_dias": None,
        "ultima_execucao": None,
        "ultimo_resultado": {},
    }
    changed = admin.patch(URL, {"leads_perdidos_dias": 365, "envios_dias": 90}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["leads_perdidos_dias"] == 365
    assert admin.get(URL).json()["envios_dias"] == 90
    # Another organization's settings are its own.
    assert client_for(org_b.admin).get(URL).json()["leads_perdidos_dias"] is None
    for role in ("gestor", "closer", "sdr", "mentor"):
        assert client_for(org_a.member(role)).get(URL).status_code == 403
        assert (
            client_for(org_a.member(role)).patch(URL, {"envios_dias": 1}, format="json").status_code
            == 403
        )


@pytest.mark.parametrize(
    "payload",
    [
        {"leads_perdidos_dias": 0},
        {"leads_perdidos_dias": "trinta"},
        {"webhooks_dias": None},
        {"webhooks_dias": 31},
        {"envios_dias": 99999},
        {"envios_dias": True},
        {"outro": 1},
        {"envios_dias": 10, "webhooks_dias": -1},
    ],
)
def test_bad_values_are_a_400_and_change_nothing(org_a, client_for, payload):
    response = client_for(org_a.admin).patch(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "details"}
    assert not RetentionSettings.objects.exists()


def _old(days: int):
    return timezone.now() - timedelta(days=days)


def test_the_daily_job_applies_each_organizations_periods(org_a, org_b):
    RetentionSettings.objects.create(
        organization=org_a.org, leads_perdidos_dias=180, webhooks_dias=7, envios_dias=60
    )
    lost_old = LeadFactory(organization=org_a.org, status="perdido", observacoes="nota")
    lost_new = LeadFactory(organization=org_a.org, status="perdido")
    open_old = LeadFactory(organization=org_a.org)
    other_org = LeadFactory(organization=org_b.org, status="perdido")
    Lead.objects.filter(pk__in=[lost_old.pk, open_old.pk, other_org.pk]).update(
        updated_at=_old(200)
    )

    for org, sha in ((org_a.org, "a"), (org_b.org, "b")):
        WebhookNotification.objects.create(
            organization=org, raw_body=b"{}", body_sha256=sha * 64, received_at=_old(10),
            processed_at=_old(10),
        )  # fmt: skip
    WebhookNotification.objects.create(
        organization=org_a.org, raw_body=b"{}", body_sha256="c" * 64, received_at=_old(10)
    )  # not processed yet: kept

    finished = make_execution(
        make_sequence(org_a.org), LeadFactory(organization=org_a.org), status="completed"
    )
    running = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    for execution in (finished, running):
        FollowupExecutionLog.objects.create(
            organization=org_a.org, execution=execution, evento="executed", created_at=_old(90)
        )
        FollowupStepRun.objects.create(
            execution=execution, step=0, tipo_acao="email", state="done", updated_at=_old(90)
        )
    endpoint = WebhookEndpoint.objects.create(
        organization=org_a.org, url="https://example.com/h", eventos=["lead.created"], secret="x"
    )
    for status in ("entregue", "pendente"):
        WebhookDelivery.objects.create(
            organization=org_a.org, endpoint=endpoint, evento="lead.created", mensagem_id=status,
            payload={}, status=status, created_at=_old(90),
        )  # fmt: skip

    totals = retention_all()

    assert totals["leads_anonimizados"] == 1
    assert totals["webhooks_apagados"] == 1
    assert totals["registros_followup_apagados"] == 1
    assert totals["passos_followup_apagados"] == 1
    assert totals["entregas_webhook_apagadas"] == 1
    lost_old.refresh_from_db()
    assert (lost_old.nome_completo, lost_old.email, lost_old.observacoes) == (
        "Titular anonimizado",
        None,
        "",
    )
    assert lost_old.status == "perdido"
    for untouched in (lost_new, open_old, other_org):
        untouched.refresh_from_db()
        assert untouched.nome_completo != "Titular anonimizado"
    assert WebhookNotification.objects.filter(organization=org_b.org).count() == 1
    assert (
        WebhookNotification.objects.filter(organization=org_a.org, processed_at=None).count() == 1
    )
    assert FollowupExecutionLog.objects.filter(execution=running).count() == 1
    assert WebhookDelivery.objects.filter(status="pendente").count() == 1
    recorded = RetentionSettings.objects.get(organization=org_a.org)
    assert recorded.ultima_execucao is not None
    assert recorded.ultimo_resultado["leads_anonimizados"] == 1
    # A second run finds nothing left to do.
    again = retention_all()
    assert again["leads_anonimizados"] == 0
    assert again["webhooks_apagados"] == 0


def test_the_job_is_registered_daily_with_the_scheduler():
    job = next(j for j in discover_periodic_jobs() if j.func == "privacy.jobs.retention_all")
    assert job.cron == "30 6 * * *"
