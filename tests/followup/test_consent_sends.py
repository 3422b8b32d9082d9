"""Every follow-up send checks the consent ledger: a revoked channel is skipped and logged;
the unsubscribe page writes the ledger."""

from __future__ import annotations

import pytest
from django.core import mail

from followup.channels import make_unsubscribe_token
from followup.engine import dispatch_due
from followup.models import ExecutionStatus, LogEvent
from leads.consent import consent_set
from leads.models import ConsentRecord
from tests.factories import LeadFactory
from tests.followup.factories import EMAIL_STEP, WHATSAPP_STEP, make_execution, make_sequence

pytestmark = pytest.mark.django_db


def test_a_step_without_a_legal_basis_is_skipped_and_logged(org_a, fake_whatsapp):
    lead = LeadFactory(organization=org_a.org)
    consent_set(lead=lead, canal="whatsapp", estado="revogado", origem="api")
    execution = make_execution(make_sequence(org_a.org, steps=[WHATSAPP_STEP, EMAIL_STEP]), lead)

    stats = dispatch_due()

    assert fake_whatsapp.calls == []
    assert stats.skipped == 1
    assert len(mail.outbox) == 1
    skipped = execution.logs.get(evento=LogEvent.SKIPPED)
    assert skipped.tipo_acao == "whatsapp"
    assert "base legal" in skipped.message
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED


def test_a_consent_given_back_allows_sending_again(org_a, fake_whatsapp):
    lead = LeadFactory(organization=org_a.org, opt_out_whatsapp=True)
    consent_set(
        lead=lead, canal="whatsapp", estado="concedido", base_legal="consentimento", origem="api"
    )
    make_execution(make_sequence(org_a.org, steps=[WHATSAPP_STEP]), lead)

    dispatch_due()

    assert len(fake_whatsapp.calls) == 1


def test_the_unsubscribe_page_revokes_email_in_the_ledger(org_a, client):
    lead = LeadFactory(organization=org_a.org)

    response = client.post(
        f"/unsubscribe/{make_unsubscribe_token(lead)}/",
        {"List-Unsubscribe": "One-Click"},
        HTTP_USER_AGENT="Gmail",
    )

    assert response.status_code == 200
    entry = ConsentRecord.objects.get(lead=lead)
    assert (entry.canal, entry.estado, entry.origem) == ("email", "revogado", "descadastro")
    assert entry.evidencia["one_click"] is True
    lead.refresh_from_db()
    assert lead.opt_out_email is True
