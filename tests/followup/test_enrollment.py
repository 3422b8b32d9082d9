"""Enrollment: activation in bulk by criteria, lead events, manual endpoint."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followup import jobs, services
from followup.models import ExecutionStatus, FollowupExecution
from leads import services as lead_services
from leads import signals
from leads.models import Lead
from tests.factories import LeadFactory
from tests.followup.factories import (
    EMAIL_STEP,
    TASK_STEP,
    WHATSAPP_STEP,
    make_execution,
    make_sequence,
)

pytestmark = pytest.mark.django_db


def enrolled(sequence) -> set:
    return set(
        FollowupExecution.objects.filter(sequence=sequence).values_list("lead_id", flat=True)
    )


def test_it_enrolls_exactly_the_leads_matching_every_criterion(org_a, org_b):
    old = timezone.now() - timedelta(days=30)
    base = {
        "organization": org_a.org,
        "status": "novo",
        "temperatura": "frio",
        "origem": "instagram",
        "tags": ["vip"],
        "lead_score": 30,
        "created_at": old,
    }
    match = LeadFactory(**base)
    match_other_tag = LeadFactory(**{**base, "tags": ["outra", "evento"]})
    match_never_contacted = LeadFactory(**{**base, "last_interaction_at": None})
    misses = [
        LeadFactory(**{**base, "status": "qualificado"}),
        LeadFactory(**{**base, "temperatura": "quente"}),
        LeadFactory(**{**base, "origem": "site"}),
        LeadFactory(**{**base, "tags": ["outra"]}),
        LeadFactory(**{**base, "tags": []}),
        LeadFactory(**{**base, "lead_score": 9}),
        LeadFactory(**{**base, "lead_score": 51}),
        LeadFactory(**{**base, "last_interaction_at": timezone.now() - timedelta(days=2)}),
        LeadFactory(**{**base, "created_at": timezone.now()}),  # new and never contacted
        LeadFactory(**{**base, "organization": org_b.org}),
    ]
    sequence = make_sequence(
        org_a.org,
        criterios={
            "status": ["novo", "em_contato"],
            "temperatura": ["frio"],
            "origem": ["instagram"],
            "tags": ["vip", "evento"],
            "score_min": 10,
            "score_max": 50,
            "dias_sem_interacao": 7,
        },
    )

    services.followup_enroll_sequence(sequence=sequence)

    assert enrolled(sequence) == {match.pk, match_other_tag.pk, match_never_contacted.pk}
    assert not enrolled(sequence) & {lead.pk for lead in misses}
    execution = FollowupExecution.objects.get(sequence=sequence, lead=match)
    assert execution.status == ExecutionStatus.ACTIVE
    assert execution.step_atual == 0
    assert execution.organization_id == org_a.org.pk
    assert execution.versao.numero == 1


def test_empty_criteria_match_every_open_lead(org_a):
    open_leads = LeadFactory.create_batch(3, organization=org_a.org)
    LeadFactory(organization=org_a.org, status="convertido")
    LeadFactory(organization=org_a.org, status="perdido")
    sequence = make_sequence(org_a.org)

    services.followup_enroll_sequence(sequence=sequence)

    assert enrolled(sequence) == {lead.pk for lead in open_leads}


@pytest.mark.parametrize(
    ("steps", "skipped_flags"),
    [
        ([EMAIL_STEP], [(True, False), (True, True)]),
        ([WHATSAPP_STEP], [(False, True), (True, True)]),
        ([EMAIL_STEP, WHATSAPP_STEP], [(True, True)]),
        ([EMAIL_STEP, TASK_STEP], []),
    ],
)
def test_it_skips_leads_opted_out_of_every_channel_of_the_sequence(org_a, steps, skipped_flags):
    flags = [(False, False), (True, False), (False, True), (True, True)]
    leads = {
        flag: LeadFactory(organization=org_a.org, opt_out_email=flag[0], opt_out_whatsapp=flag[1])
        for flag in flags
    }
    sequence = make_sequence(org_a.org, steps=steps)

    services.followup_enroll_sequence(sequence=sequence)

    expected = {lead.pk for flag, lead in leads.items() if flag not in skipped_flags}
    assert enrolled(sequence) == expected


def test_automatic_enrollment_never_repeats_a_sequence_for_a_lead(org_a):
    sequence = make_sequence(org_a.org)
    finished = LeadFactory(organization=org_a.org)
    make_execution(sequence, finished, status=ExecutionStatus.COMPLETED)
    fresh = LeadFactory(organization=org_a.org)

    services.followup_enroll_sequence(sequence=sequence)
    services.followup_enroll_sequence(sequence=sequence)  # idempotent

    assert FollowupExecution.objects.filter(sequence=sequence, lead=finished).count() == 1
    assert FollowupExecution.objects.filter(sequence=sequence, lead=fresh).count() == 1


def test_an_inactive_sequence_enrolls_nobody(org_a):
    LeadFactory(organization=org_a.org)
    sequence = make_sequence(org_a.org, ativo=False)

    assert services.followup_enroll_sequence(sequence=sequence) == 0
    assert not enrolled(sequence)


def test_activation_enrollment_is_set_based(org_a):
    """The number of queries does not grow with the number of leads (bulk select + insert)."""
    small = make_sequence(org_a.org, nome="small", criterios={"tags": ["small"]})
    large = make_sequence(org_a.org, nome="large", criterios={"tags": ["large"]})
    Lead.objects.bulk_create(
        Lead(organization=org_a.org, nome_completo=f"L{n}", tags=["small"]) for n in range(20)
    )
    Lead.objects.bulk_create(
        Lead(organization=org_a.org, nome_completo=f"G{n}", tags=["large"]) for n in range(900)
    )

    with CaptureQueriesContext(connection) as few:
        services.followup_enroll_sequence(sequence=small)
    with CaptureQueriesContext(connection) as many:
        services.followup_enroll_sequence(sequence=large)

    assert len(enrolled(small)) == 20
    assert len(enrolled(large)) == 900
    assert len(many.captured_queries) == len(few.captured_queries)


def test_creating_an_active_sequence_enqueues_the_activation_job(
    org_a, client_for, django_capture_on_commit_callbacks
):
    lead = LeadFactory(organization=org_a.org)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.admin).post(
            "/api/v1/followup/sequences/",
            {"nome": "Nova", "ativo": True, "steps": [EMAIL_STEP]},
            format="json",
        )
    assert response.status_code == 201, response.content
    queue = django_rq.get_queue("low")
    [job] = queue.get_jobs()
    assert job.kwargs["sequence_id"] == response.json()["id"]

    job.perform()  # the real job function, as the worker would run it

    assert FollowupExecution.objects.filter(lead=lead).exists()


def test_reactivating_a_sequence_enqueues_the_activation_job(
    org_a, client_for, django_capture_on_commit_callbacks
):
    sequence = make_sequence(org_a.org, ativo=False)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(org_a.gestor).patch(
            f"/api/v1/followup/sequences/{sequence.pk}/", {"ativo": True}, format="json"
        )
    assert [job.kwargs["sequence_id"] for job in django_rq.get_queue("low").get_jobs()] == [
        str(sequence.pk)
    ]


def run_pending_enrollment_jobs() -> int:
    """Runs the queued enrollment jobs (only those: other apps enqueue their own work)."""
    queue = django_rq.get_queue("default")
    jobs_run = 0
    for job in queue.get_jobs():
        if not (job.func_name or "").startswith("followup."):
            continue
        job.perform()
        queue.remove(job)
        jobs_run += 1
    return jobs_run


def test_new_leads_are_enrolled_in_matching_active_sequences_in_one_job(
    org_a, django_capture_on_commit_callbacks
):
    matching = make_sequence(org_a.org, criterios={"origem": ["indicacao"]})
    other = make_sequence(org_a.org, criterios={"origem": ["site"]})
    inactive = make_sequence(org_a.org, ativo=False)
    with django_capture_on_commit_callbacks(execute=True):
        leads = [
            lead_services.lead_create(
                organization=org_a.org,
                actor=org_a.closer,
                data={"nome_completo": f"Indicado {n}", "origem": "indicacao"},
            )
            for n in range(3)
        ]

    # A burst of three creations is one job.
    assert run_pending_enrollment_jobs() == 1
    assert enrolled(matching) == {lead.pk for lead in leads}
    assert not enrolled(other)
    assert not enrolled(inactive)


def test_a_lead_change_in_a_criteria_field_enrolls_it(org_a, django_capture_on_commit_callbacks):
    sequence = make_sequence(org_a.org, criterios={"status": ["em_contato"]})
    lead = LeadFactory(organization=org_a.org, status="novo")

    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_update(lead=lead, actor=org_a.closer, data={"observacoes": "x"})
    assert run_pending_enrollment_jobs() == 0

    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_update(lead=lead, actor=org_a.closer, data={"status": "em_contato"})
    assert run_pending_enrollment_jobs() == 1
    assert enrolled(sequence) == {lead.pk}


def test_a_batch_of_recalculated_scores_enrolls_the_leads_now_matching(
    org_a, django_capture_on_commit_callbacks
):
    sequence = make_sequence(org_a.org, criterios={"score_min": 70})
    hot = LeadFactory.create_batch(2, organization=org_a.org, lead_score=80)
    cold = LeadFactory(organization=org_a.org, lead_score=20)

    with django_capture_on_commit_callbacks(execute=True):
        signals.lead_scores_changed.send(
            sender=Lead,
            organization_id=org_a.org.pk,
            lead_ids=[lead.pk for lead in [*hot, cold]],
        )

    assert run_pending_enrollment_jobs() == 1
    assert enrolled(sequence) == {lead.pk for lead in hot}


def test_the_pending_set_survives_until_processed(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    redis = django_rq.get_connection("default")
    key = jobs.ENROLLMENT.pending_key(org_a.org.pk)
    redis.sadd(key, str(lead.pk))

    assert jobs.enroll_pending_leads(organization_id=str(org_a.org.pk)) == 1

    assert jobs.ENROLLMENT.pending(org_a.org.pk) == set()
    assert enrolled(sequence) == {lead.pk}


def test_the_hourly_sweep_enrolls_leads_that_became_eligible_with_time(org_a):
    sequence = make_sequence(org_a.org, criterios={"dias_sem_interacao": 10})
    lead = LeadFactory(organization=org_a.org, last_interaction_at=timezone.now())
    jobs.enrollment_sweep()
    assert not enrolled(sequence)

    Lead.objects.filter(pk=lead.pk).update(last_interaction_at=timezone.now() - timedelta(days=11))
    jobs.enrollment_sweep()

    assert enrolled(sequence) == {lead.pk}


# --- manual enrollment endpoint -----------------------------------------------------------------


def enroll_url(sequence) -> str:
    return f"/api/v1/followup/sequences/{sequence.pk}/enroll/"


def test_it_enrolls_chosen_leads_and_explains_the_skipped(org_a, client_for):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP], criterios={"origem": ["site"]})
    chosen = LeadFactory(organization=org_a.org, origem="instagram")  # criteria do not apply
    closed = LeadFactory(organization=org_a.org, status="convertido")
    opted_out = LeadFactory(organization=org_a.org, opt_out_email=True)
    already = LeadFactory(organization=org_a.org)
    make_execution(sequence, already)
    finished_before = LeadFactory(organization=org_a.org)
    make_execution(sequence, finished_before, status=ExecutionStatus.RESPONDED)

    response = client_for(org_a.admin).post(
        enroll_url(sequence),
        {
            "lead_ids": [
                str(lead.pk) for lead in (chosen, closed, opted_out, already, finished_before)
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert {item["lead_id"] for item in body["enrolled"]} == {
        str(chosen.pk),
        str(finished_before.pk),
    }
    assert {item["lead_id"]: item["reason"] for item in body["skipped"]} == {
        str(closed.pk): "lead_closed",
        str(opted_out.pk): "opted_out",
        str(already.pk): "already_enrolled",
    }
    execution = FollowupExecution.objects.get(pk=body["enrolled"][0]["execution_id"])
    assert execution.enrolled_by == org_a.admin


def test_it_refuses_lead_ids_of_another_organization_and_writes_nothing(org_a, org_b, client_for):
    sequence = make_sequence(org_a.org)
    mine = LeadFactory(organization=org_a.org)
    foreign = LeadFactory(organization=org_b.org)

    response = client_for(org_a.admin).post(
        enroll_url(sequence), {"lead_ids": [str(mine.pk), str(foreign.pk)]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert str(foreign.pk) in body["details"]["lead_ids"][0]
    assert not FollowupExecution.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{}, {"lead_ids": []}, {"lead_ids": ["nao-e-uuid"]}, {"lead_ids": "abc"}, {"lead_ids": [1]}],
)
def test_it_refuses_bad_enroll_bodies(org_a, client_for, payload):
    sequence = make_sequence(org_a.org)
    response = client_for(org_a.admin).post(enroll_url(sequence), payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert not FollowupExecution.objects.exists()


@pytest.mark.parametrize("role", ["closer", "sdr", "mentor"])
def test_only_managers_enroll(org_a, client_for, role):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.member(role)).post(
        enroll_url(sequence), {"lead_ids": [str(lead.pk)]}, format="json"
    )
    assert response.status_code == 403
    assert not FollowupExecution.objects.exists()


def test_enrolling_into_another_organizations_sequence_is_a_404(org_a, org_b, client_for):
    sequence = make_sequence(org_b.org)
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(
        enroll_url(sequence), {"lead_ids": [str(lead.pk)]}, format="json"
    )
    assert response.status_code == 404


def test_enrolling_into_an_inactive_sequence_is_a_409(org_a, client_for):
    sequence = make_sequence(org_a.org, ativo=False)
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(
        enroll_url(sequence), {"lead_ids": [str(lead.pk)]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["details"]["sequence_id"] == str(sequence.pk)


def test_changing_the_criteria_of_an_active_sequence_enrolls_new_matches(
    org_a, client_for, django_capture_on_commit_callbacks
):
    sequence = make_sequence(org_a.org, criterios={"origem": ["site"]})
    lead = LeadFactory(organization=org_a.org, origem="evento")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.admin).patch(
            f"/api/v1/followup/sequences/{sequence.pk}/",
            {"criterios_ativacao": {"origem": ["site", "evento"]}},
            format="json",
        )
    assert response.status_code == 200
    [job] = django_rq.get_queue("low").get_jobs()
    job.perform()
    assert enrolled(sequence) == {lead.pk}
