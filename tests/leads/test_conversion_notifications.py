"""lead_converted: the closer and the managers hear of a conversion, in its transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from leads.services import interaction_create, lead_convert, lead_update
from organizations.models import Notification
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def recipients() -> set:
    return set(
        Notification.objects.filter(tipo="lead_converted").values_list("recipient_id", flat=True)
    )


def test_it_notifies_the_closer_and_the_managers(org_a, org_b):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Ana Souza")
    interaction_create(
        lead=lead,
        actor=org_a.sdr,
        data={"resultado": "fechamento_positivo", "valor": Decimal("12000.00")},
    )
    assert recipients() == {org_a.closer.pk, org_a.admin.pk, org_a.gestor.pk}
    notification = Notification.objects.filter(recipient=org_a.closer).get()
    assert notification.organization == org_a.org
    assert notification.titulo == "Lead convertido: Ana Souza"
    assert notification.payload == {
        "lead_id": str(lead.pk),
        "valor_fechado": "12000.00",
        "by": str(org_a.sdr.pk),
    }
    # Nobody of the other organization, no SDR or mentor of this one.
    assert not Notification.objects.filter(organization=org_b.org).exists()


def test_it_notifies_a_closer_who_is_also_a_manager_once(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.gestor)
    lead_convert(lead=lead, actor=org_a.gestor)
    assert Notification.objects.filter(recipient=org_a.gestor).count() == 1
    assert recipients() == {org_a.gestor.pk, org_a.admin.pk}


def test_it_notifies_the_managers_when_there_is_no_closer(org_a):
    lead = LeadFactory(organization=org_a.org, closer=None)
    lead_update(lead=lead, actor=org_a.admin, data={"status": "convertido"})
    assert recipients() == {org_a.admin.pk, org_a.gestor.pk}
    assert Notification.objects.get(recipient=org_a.admin).payload["valor_fechado"] == "15000.00"


def test_it_skips_inactive_members(org_a):
    org_a.gestor.ativo = False
    org_a.gestor.save()
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    lead_convert(lead=lead, actor=None)
    assert recipients() == {org_a.closer.pk, org_a.admin.pk}
    assert Notification.objects.get(recipient=org_a.admin).payload["by"] is None


def test_it_notifies_once_when_converting_twice(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    lead_convert(lead=lead, actor=org_a.closer)
    lead_convert(lead=lead, actor=org_a.closer)
    interaction_create(lead=lead, actor=org_a.closer, data={"resultado": "fechamento_positivo"})
    assert Notification.objects.count() == 3


def test_it_creates_nothing_when_the_conversion_rolls_back(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 - raising rolls back
        lead_convert(lead=lead, actor=org_a.closer)
        assert Notification.objects.count() == 3  # same transaction as the conversion
        raise RuntimeError("rollback")
    assert not Notification.objects.exists()
    lead.refresh_from_db()
    assert lead.status == "novo"


def test_it_notifies_when_the_api_converts_a_lead(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    response = client_for(org_a.closer).patch(
        f"/api/v1/leads/{lead.pk}/", {"status": "convertido"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert recipients() == {org_a.closer.pk, org_a.admin.pk, org_a.gestor.pk}
    own = client_for(org_a.closer).get("/api/v1/notifications/")
    assert own.status_code == 200
    assert [n["tipo"] for n in own.json()["data"]] == ["lead_converted"]
