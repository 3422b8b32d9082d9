"""Sequence results: executions that end with nothing sent, and the per-step stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from followup.engine import dispatch_due
from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupStepRun,
    LogEvent,
)
from followup.selectors import sequence_stats
from leads.models import ConsentRecord, LeadStatusChange
from organizations.models import Notification, User
from tests.factories import LeadFactory, MembershipFactory
from tests.followup.factories import (
    EMAIL_STEP,
    TASK_STEP,
    WHATSAPP_STEP,
    make_execution,
    make_sequence,
)

pytestmark = pytest.mark.django_db

NO_DELAY_TASK = {**TASK_STEP, "delay_dias": 0}


def owned_sequence(org, owner, steps):
    sequence = make_sequence(org.org, steps=steps)
    sequence.created_by = owner
    sequence.save(update_fields=["created_by"])
    return sequence


# --- engine: ending with nothing sent ---------------------------------------------------------


def test_it_ends_as_nothing_sent_when_the_lead_has_no_email_and_tells_the_owner(org_a):
    sequence = owned_sequence(org_a, org_a.gestor, [EMAIL_STEP])
    leads = [LeadFactory(organization=org_a.org, email=None) for _ in range(3)]
    executions = [make_execution(sequence, lead) for lead in leads]

    stats = dispatch_due()

    assert mail.outbox == []
    assert (stats.skipped, stats.nothing_sent, stats.completed) == (3, 3, 0)
    for execution in executions:
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.NOTHING_SENT
        assert execution.motivos_sem_envio == ["sem_email"]
        assert execution.finished_at is not None
        assert execution.proxima_execucao is None
        last = execution.logs.order_by("created_at", "id").last()
        assert last is not None
        assert last.evento == LogEvent.COMPLETED
        assert last.level == "warning"
        assert "sem nenhum envio" in last.message
        assert FollowupStepRun.objects.get(execution=execution).reason == "sem_email"
    # One notification for the sequence's owner, not one per lead, not to anyone else.
    [notification] = Notification.objects.filter(tipo="followup_nothing_sent")
    assert notification.recipient == org_a.gestor
    assert notification.payload["total"] == 3
    assert notification.payload["motivos"] == {"sem_email": 3}
    assert sorted(notification.payload["execution_ids"]) == sorted(str(e.pk) for e in executions)
    assert sequence.nome in notification.titulo


def test_the_reasons_of_every_skipped_step_are_kept(org_a):
    # Opted out of email (no consent), no phone for WhatsApp, nobody to take the task.
    sequence = owned_sequence(org_a, org_a.gestor, [EMAIL_STEP, WHATSAPP_STEP, NO_DELAY_TASK])
    lead = LeadFactory(
        organization=org_a.org, opt_out_email=True, telefone=None, closer=None, sdr=None
    )
    execution = make_execution(sequence, lead)

    dispatch_due()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.NOTHING_SENT
    assert execution.motivos_sem_envio == ["sem_consentimento", "sem_responsavel", "sem_telefone"]
    assert [r["motivo"] for r in execution.steps_executados] == [
        "sem_consentimento",
        "sem_telefone",
        "sem_responsavel",
    ]


def test_one_sent_step_is_enough_to_complete(org_a):
    sequence = owned_sequence(org_a, org_a.gestor, [WHATSAPP_STEP, EMAIL_STEP])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org, telefone=None))

    stats = dispatch_due()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.motivos_sem_envio == []
    assert (stats.completed, stats.nothing_sent) == (1, 0)
    assert len(mail.outbox) == 1
    assert not Notification.objects.filter(tipo="followup_nothing_sent").exists()


def test_without_an_active_owner_the_managers_are_told(org_a):
    org_a.gestor.ativo = False
    org_a.gestor.save(update_fields=["ativo"])
    sequence = owned_sequence(org_a, org_a.gestor, [EMAIL_STEP])
    make_execution(sequence, LeadFactory(organization=org_a.org, email=None))

    dispatch_due()

    recipients = set(
        Notification.objects.filter(tipo="followup_nothing_sent").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {org_a.admin.pk}


def test_executions_of_two_sequences_tell_each_owner(org_a):
    first = owned_sequence(org_a, org_a.gestor, [EMAIL_STEP])
    second = owned_sequence(org_a, org_a.admin, [EMAIL_STEP])
    make_execution(first, LeadFactory(organization=org_a.org, email=None))
    make_execution(second, LeadFactory(organization=org_a.org, email=None))

    dispatch_due()

    rows = Notification.objects.filter(tipo="followup_nothing_sent")
    assert {(n.recipient_id, n.payload["sequence_id"]) for n in rows} == {
        (org_a.gestor.pk, str(first.pk)),
        (org_a.admin.pk, str(second.pk)),
    }


# --- stats against a hand-built history -------------------------------------------------------


def _run(execution, step, outcome, *, reason="", variant="", state="done"):
    return FollowupStepRun.objects.create(
        execution=execution,
        step=step,
        tipo_acao=execution.versao.steps[step]["tipo_acao"],
        state=state,
        outcome=outcome,
        reason=reason,
        variant=variant,
    )


def _history(org_a):
    """Six executions of a 2-step sequence (email with variants a/b, then WhatsApp)."""
    email = {
        **EMAIL_STEP,
        "variantes": [{"id": "a", "mensagem": "A"}, {"id": "b", "mensagem": "B"}],
    }
    sequence = make_sequence(org_a.org, steps=[email, WHATSAPP_STEP])
    now = timezone.now()
    lead = [LeadFactory(organization=org_a.org) for _ in range(7)]
    ex = [make_execution(sequence, lead[i], status="active") for i in range(7)]
    # 0: email a sent, replied -> responded (credited to step 0, variant a)
    _run(ex[0], 0, "sent", variant="a")
    FollowupExecution.objects.filter(pk=ex[0].pk).update(status="responded", data_resposta=now)
    # 1: email b sent, whatsapp sent, then replied -> credited to step 1
    _run(ex[1], 0, "sent", variant="b")
    _run(ex[1], 1, "sent")
    FollowupExecution.objects.filter(pk=ex[1].pk).update(status="responded", data_resposta=now)
    # 2: email skipped (no email), whatsapp skipped (no phone) -> nothing sent
    _run(ex[2], 0, "skipped", reason="sem_email")
    _run(ex[2], 1, "skipped", reason="sem_telefone")
    FollowupExecution.objects.filter(pk=ex[2].pk).update(status="nothing_sent")
    # 3: email a sent, whatsapp failed -> failed; the lead converted afterwards
    _run(ex[3], 0, "sent", variant="a")
    _run(ex[3], 1, "failed", state="failed")
    FollowupExecution.objects.filter(pk=ex[3].pk).update(status="failed")
    LeadStatusChange.objects.create(
        organization=org_a.org, lead=lead[3], from_status="novo", to_status="convertido"
    )
    # 4: email b uncertain, then opted out of WhatsApp -> whatsapp skipped (no consent)
    _run(ex[4], 0, "uncertain", variant="b")
    _run(ex[4], 1, "skipped", reason="sem_consentimento")
    FollowupExecution.objects.filter(pk=ex[4].pk).update(status="completed")
    ConsentRecord.objects.create(
        organization=org_a.org,
        lead=lead[4],
        canal="whatsapp",
        estado="revogado",
        base_legal="consentimento",
        origem="whatsapp",
    )
    # 5: email claimed right now (in progress), still active
    _run(ex[5], 0, "", variant="a", state="claimed")
    # 6: enrolled, nothing yet; converted *before* enrolling (not credited), old opt-out too
    LeadStatusChange.objects.create(
        organization=org_a.org,
        lead=lead[6],
        from_status="novo",
        to_status="convertido",
        changed_at=now - timedelta(days=3),
    )
    return sequence


def test_stats_match_a_hand_built_history(org_a, django_assert_num_queries):
    sequence = _history(org_a)

    # Three reads, plus the savepoint pair and SET LOCAL jit = off around them.
    with django_assert_num_queries(6):
        stats = sequence_stats(sequence=sequence)

    assert stats["inscritos"] == 7
    assert stats["por_status"] == {
        "active": 2,
        "paused": 0,
        "completed": 1,
        "responded": 2,
        "cancelled": 0,
        "failed": 1,
        "nothing_sent": 1,
    }
    assert (stats["enviados"], stats["incertos"], stats["falhas"]) == (4, 1, 1)
    assert stats["pulados"] == {
        "total": 3,
        "por_motivo": {"sem_email": 1, "sem_telefone": 1, "sem_consentimento": 1},
    }
    assert (stats["respondidos"], stats["convertidos"], stats["opt_outs"]) == (2, 1, 1)
    assert stats["taxa_resposta"] == round(2 / 7, 4)
    first, second = stats["passos"]
    assert first["tipo_acao"] == "email"
    assert (first["inscritos"], first["enviados"], first["incertos"], first["em_andamento"]) == (
        6,
        3,
        1,
        1,
    )
    assert first["pulados"] == {"total": 1, "por_motivo": {"sem_email": 1}}
    # Reply of 0 -> step 0; conversion of 3 and opt-out of 4 -> their last sent step, 0.
    assert (first["respondidos"], first["convertidos"], first["opt_outs"]) == (1, 1, 1)
    assert first["variantes"] == [
        {"id": "a", "enviados": 2, "respondidos": 1, "taxa_resposta": 0.5},
        {"id": "b", "enviados": 2, "respondidos": 0, "taxa_resposta": 0.0},
    ]
    assert (second["inscritos"], second["enviados"], second["falhas"]) == (4, 1, 1)
    assert second["pulados"]["por_motivo"] == {"sem_telefone": 1, "sem_consentimento": 1}
    assert (second["respondidos"], second["convertidos"], second["opt_outs"]) == (1, 0, 0)
    assert second["taxa_resposta"] == 1.0
    assert second["variantes"] == []


def test_stats_queries_do_not_grow_with_the_history(org_a, django_assert_num_queries):
    sequence = _history(org_a)
    for _ in range(5):
        extra = make_execution(sequence, LeadFactory(organization=org_a.org))
        _run(extra, 0, "sent", variant="b")
        FollowupExecution.objects.filter(pk=extra.pk).update(data_resposta=timezone.now())

    # Three reads, plus the savepoint pair and SET LOCAL jit = off around them.
    with django_assert_num_queries(6):
        stats = sequence_stats(sequence=sequence)

    assert stats["passos"][0]["variantes"][1] == {
        "id": "b",
        "enviados": 7,
        "respondidos": 5,
        "taxa_resposta": round(5 / 7, 4),
    }


def test_stats_follow_the_engine(org_a):
    # Real dispatches, then the stats: one lead without email, one who gets the email.
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP])
    make_execution(sequence, LeadFactory(organization=org_a.org, email=None))
    make_execution(sequence, LeadFactory(organization=org_a.org))

    dispatch_due()
    stats = sequence_stats(sequence=sequence)

    assert stats["por_status"]["nothing_sent"] == 1
    assert stats["por_status"]["completed"] == 1
    assert stats["enviados"] == 1
    assert stats["pulados"] == {"total": 1, "por_motivo": {"sem_email": 1}}


# --- the route and the admin page --------------------------------------------------------------


def test_the_stats_route_answers_managers_and_sellers(org_a, client_for):
    sequence = _history(org_a)
    url = f"/api/v1/followup/sequences/{sequence.pk}/stats/"

    for member in (org_a.admin, org_a.gestor, org_a.closer, org_a.sdr):
        response = client_for(member).get(url)
        assert response.status_code == 200, member.role
        body = response.json()
        assert body["sequence_id"] == str(sequence.pk)
        assert body["inscritos"] == 7
        assert [step["step"] for step in body["passos"]] == [0, 1]
    assert client_for(org_a.mentor).get(url).status_code == 403


def test_another_organizations_stats_are_a_404(org_a, org_b, client_for):
    theirs = make_sequence(org_b.org)

    response = client_for(org_a.admin).get(f"/api/v1/followup/sequences/{theirs.pk}/stats/")

    assert response.status_code == 404
    assert set(response.json()) == {"error", "details"}


def test_the_sequence_admin_page_shows_the_results(client, org_a):
    user = User.objects.create_user(email="staff@exemplo.com", password="x", is_staff=True)
    MembershipFactory(organization=org_a.org, user=user, role="admin")
    client.force_login(user)
    sequence = _history(org_a)

    html = client.get(f"/admin/followup/followupsequence/{sequence.pk}/change/").content.decode()

    assert "Resultados" in html
    assert "Inscritos: 7" in html
    assert "Concluída sem envio: 1" in html
    assert "Lead sem email: 1" in html
    assert "a: 2 / 1 (50%)" in html
    # The step's type by its label, not its code.
    assert "<td>Email</td>" in html
    assert "<td>email</td>" not in html


def test_the_execution_api_shows_the_reasons_and_the_log_the_variant(org_a, client_for):
    email = {
        **EMAIL_STEP,
        "variantes": [{"id": "a", "mensagem": "A"}, {"id": "b", "mensagem": "B"}],
    }
    sequence = make_sequence(org_a.org, steps=[email])
    skipped = make_execution(sequence, LeadFactory(organization=org_a.org, email=None))
    sent = make_execution(sequence, LeadFactory(organization=org_a.org))

    dispatch_due()
    client = client_for(org_a.gestor)

    body = client.get(f"/api/v1/followup/executions/{skipped.pk}/").json()
    assert (body["status"], body["motivos_sem_envio"]) == ("nothing_sent", ["sem_email"])
    logs = client.get(f"/api/v1/followup/executions/{sent.pk}/logs/").json()["data"]
    executed = next(row for row in logs if row["evento"] == "executed")
    assert executed["variante"] == FollowupStepRun.objects.get(execution=sent).variant
    assert executed["variante"] in {"a", "b"}
