"""Consent ledger (15.2), the paths not covered elsewhere: a STOP word through Meta's signed
webhook, an email step without a basis, and every writer landing in the ledger."""

from __future__ import annotations

import pytest
from django.core import mail

from followup.engine import dispatch_due
from followup.models import ExecutionStatus, LogEvent
from leads.consent import consent_set
from leads.models import ConsentRecord
from tests.factories import LeadFactory
from tests.followup.conftest import _locmem_email, fake_whatsapp  # noqa: F401
from tests.followup.factories import EMAIL_STEP, WHATSAPP_STEP, make_execution, make_sequence
from tests.integrations.factories import WhatsAppAccountFactory
from tests.integrations.jobs import run_jobs
from tests.integrations.webhook_helpers import PNID, notification, post_signed, text_message

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "revoked"), [("Sair.", True), ("stop!", True), ("Pode parar?", False)]
)
def test_a_stop_word_through_metas_webhook_revokes_whatsapp(
    org_a, django_capture_on_commit_callbacks, text, revoked
):
    WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)
    lead = LeadFactory(organization=org_a.org, telefone="+5511987654321")
    body = notification(messages=[text_message("wamid.STOP", "5511987654321", text)])
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(body).status_code == 200
    run_jobs()

    lead.refresh_from_db()
    assert lead.opt_out_whatsapp is revoked
    entries = ConsentRecord.objects.filter(lead=lead, canal="whatsapp")
    if revoked:
        entry = entries.get()
        assert (entry.estado, entry.origem) == ("revogado", "whatsapp")
        assert entry.evidencia["mensagem_id"]
    else:
        assert not entries.exists()


def test_an_email_step_without_a_basis_is_skipped_and_logged(org_a, fake_whatsapp):  # noqa: F811
    lead = LeadFactory(organization=org_a.org)
    consent_set(lead=lead, canal="email", estado="revogado", origem="api")
    execution = make_execution(make_sequence(org_a.org, steps=[EMAIL_STEP, WHATSAPP_STEP]), lead)

    dispatch_due()

    assert mail.outbox == []
    assert len(fake_whatsapp.calls) == 1
    skipped = execution.logs.get(evento=LogEvent.SKIPPED)
    assert (skipped.tipo_acao, skipped.level) == ("email", "warning")
    assert "Sem base legal para email" in skipped.message
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED
