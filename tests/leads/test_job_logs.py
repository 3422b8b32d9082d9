"""Every leads job logs start, end, duration and outcome with its organization id."""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from leads.jobs import (
    decay_all_lead_scores,
    decay_lead_scores,
    notify_due_tasks,
    recalculate_lead_scores,
)
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db


def events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "jobs" and hasattr(r, "event")]


def assert_bracketed(records: list[logging.LogRecord], job: str, organization_id: str | None):
    start, end = records[0], records[-1]
    assert (vars(start)["event"], vars(start)["job"], vars(start)["organization_id"]) == (
        "job.start",
        job,
        organization_id,
    )
    assert (vars(end)["event"], vars(end)["job"], vars(end)["organization_id"]) == (
        "job.end",
        job,
        organization_id,
    )
    assert vars(end)["outcome"] == "ok"
    assert isinstance(vars(end)["duration_ms"], float)
    assert vars(end)["duration_ms"] >= 0


def test_it_logs_a_recalculation(org_a, caplog):
    lead = LeadFactory(organization=org_a.org, origem="indicacao")
    caplog.set_level(logging.INFO, logger="jobs")
    assert recalculate_lead_scores(lead_ids=[str(lead.pk)], organization_id=str(org_a.org.pk)) == 1
    assert_bracketed(events(caplog), "leads.jobs.recalculate_lead_scores", str(org_a.org.pk))


def test_it_logs_a_decay_with_its_figures(org_a, caplog):
    LeadFactory(organization=org_a.org, origem="indicacao")
    LeadFactory(organization=org_a.org, status="perdido")
    caplog.set_level(logging.INFO, logger="jobs")
    assert decay_lead_scores(organization_id=str(org_a.org.pk)) == {
        "leads_seen": 1,
        "leads_updated": 1,
    }
    records = events(caplog)
    assert_bracketed(records, "leads.jobs.decay_lead_scores", str(org_a.org.pk))
    (summary,) = [r for r in records if vars(r)["event"] == "scores.decay"]
    assert (
        vars(summary)["organization_id"],
        vars(summary)["leads_seen"],
        vars(summary)["leads_updated"],
    ) == (
        str(org_a.org.pk),
        1,
        1,
    )


def test_it_fans_the_decay_out_per_organization(
    org_a, org_b, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="jobs")
    with django_capture_on_commit_callbacks(execute=True):
        assert decay_all_lead_scores() == 2
    assert_bracketed(events(caplog), "leads.jobs.decay_all_lead_scores", None)
    jobs = django_rq.get_queue("low").get_jobs()
    assert sorted(job.kwargs["organization_id"] for job in jobs) == sorted(
        [str(org_a.org.pk), str(org_b.org.pk)]
    )
    assert {job.func_name for job in jobs} == {"leads.jobs.decay_lead_scores"}
    assert {job.retries_left for job in jobs} == {3}


def test_it_logs_task_due_counts_per_organization(org_a, org_b, caplog):
    TaskFactory(responsavel=org_a.closer, vencimento=timezone.now() - timedelta(hours=1))
    TaskFactory(responsavel=org_b.closer, vencimento=timezone.now() - timedelta(hours=1))
    TaskFactory(responsavel=org_b.sdr, vencimento=timezone.now() - timedelta(hours=1))
    caplog.set_level(logging.INFO, logger="jobs")
    assert notify_due_tasks() == 3
    records = events(caplog)
    assert_bracketed(records, "leads.jobs.notify_due_tasks", None)
    counts = {
        vars(r)["organization_id"]: vars(r)["count"]
        for r in records
        if vars(r)["event"] == "tasks.due"
    }
    assert counts == {str(org_a.org.pk): 1, str(org_b.org.pk): 2}


def test_it_logs_a_failing_job_with_its_organization(org_a, caplog):
    caplog.set_level(logging.INFO, logger="jobs")
    with pytest.raises(ValueError):  # noqa: PT011 - the validators raise it with several messages
        recalculate_lead_scores(lead_ids=["not-a-uuid"], organization_id=str(org_a.org.pk))
    start, end = events(caplog)
    assert (vars(start)["event"], vars(start)["organization_id"]) == (
        "job.start",
        str(org_a.org.pk),
    )
    assert (
        vars(end)["event"],
        vars(end)["outcome"],
        vars(end)["error"],
        vars(end)["organization_id"],
    ) == (
        "job.end",
        "error",
        "ValueError",
        str(org_a.org.pk),
    )
    assert end.exc_info is not None


def test_it_does_nothing_for_a_deleted_organization(caplog):
    missing = "00000000-0000-0000-0000-000000000001"
    assert decay_lead_scores(organization_id=missing) == {"leads_seen": 0, "leads_updated": 0}
    assert recalculate_lead_scores(lead_ids=[missing], organization_id=missing) == 0
