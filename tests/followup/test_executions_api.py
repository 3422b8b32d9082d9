"""Executions API: list/filters/detail/logs, pause/resume/cancel with 409 from finished states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followup.engine import dispatch_due
from followup.models import ExecutionStatus, FollowupExecution, LogEvent
from organizations.models import Organization
from tests.factories import LeadFactory
from tests.followup.factories import EMAIL_STEP, make_execution, make_sequence

pytestmark = pytest.mark.django_db

URL = "/api/v1/followup/executions/"


def test_it_lists_and_filters_executions(org_a, org_b, client_for):
    first = make_sequence(org_a.org, nome="Primeira")
    second = make_sequence(org_a.org, nome="Segunda")
    lead = LeadFactory(organization=org_a.org)
    a = make_execution(first, lead)
    b = make_execution(second, lead, status=ExecutionStatus.PAUSED)
    c = make_execution(first, LeadFactory(organization=org_a.org), status="completed")
    make_execution(make_sequence(org_b.org), LeadFactory(organization=org_b.org))
    client = client_for(org_a.admin)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["data"]}

    assert ids() == {str(a.pk), str(b.pk), str(c.pk)}
    assert ids(status="active,paused") == {str(a.pk), str(b.pk)}
    assert ids(lead_id=str(lead.pk)) == {str(a.pk), str(b.pk)}
    assert ids(sequence_id=str(first.pk)) == {str(a.pk), str(c.pk)}
    item = client.get(f"{URL}{a.pk}/").json()
    assert item["sequence"] == {"id": str(first.pk), "nome": "Primeira", "ativo": True}
    assert item["lead"]["id"] == str(lead.pk)
    assert item["lead_id"] == str(lead.pk)
    assert (item["status"], item["step_atual"], item["total_steps"], item["versao"]) == (
        "active",
        0,
        1,
        1,
    )


@pytest.mark.parametrize(
    "params",
    [{"status": "ativo"}, {"lead_id": "x"}, {"sequence_id": "1"}, {"ordering": "lead"}],
)
def test_it_refuses_bad_filters(org_a, client_for, params):
    response = client_for(org_a.admin).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}


def test_list_queries_do_not_grow_with_the_page(org_a, client_for):
    sequence = make_sequence(org_a.org)
    for lead in LeadFactory.create_batch(8, organization=org_a.org):
        make_execution(sequence, lead)
    client = client_for(org_a.closer)
    client.get(URL)

    with CaptureQueriesContext(connection) as one:
        client.get(URL, {"limit": 1})
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(URL, {"limit": 100}).json()["data"]) == 8

    assert len(many.captured_queries) == len(one.captured_queries)


def test_it_shows_the_logs_of_an_execution(org_a, client_for):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    dispatch_due()

    response = client_for(org_a.sdr).get(f"{URL}{execution.pk}/logs/")

    assert response.status_code == 200, response.content
    rows = response.json()["data"]
    assert [row["evento"] for row in rows] == [LogEvent.EXECUTED, LogEvent.COMPLETED]
    assert rows[0]["step"] == 0
    assert rows[0]["tipo_acao"] == "email"
    assert rows[0]["execution_id"] == str(execution.pk)


def test_pause_resume_and_cancel(org_a, client_for):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    FollowupExecution.objects.filter(pk=execution.pk).update(
        proxima_execucao=timezone.now() - timedelta(days=2)
    )
    client = client_for(org_a.gestor)

    paused = client.post(f"{URL}{execution.pk}/pause/")
    assert paused.status_code == 200, paused.content
    assert (paused.json()["status"], paused.json()["pause_reason"]) == ("paused", "manual")
    assert client.post(f"{URL}{execution.pk}/pause/").status_code == 200  # no-op
    assert dispatch_due().claimed == 0

    before = timezone.now()
    resumed = client.post(f"{URL}{execution.pk}/resume/")
    assert resumed.status_code == 200
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    # The overdue time was recomputed from now, not kept in the past.
    assert execution.proxima_execucao is not None
    assert execution.proxima_execucao >= before - timedelta(seconds=1)

    cancelled = client.post(f"{URL}{execution.pk}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert list(execution.logs.values_list("evento", flat=True)) == [
        LogEvent.PAUSED,
        LogEvent.RESUMED,
        LogEvent.CANCELLED,
    ]


@pytest.mark.parametrize("status", ["completed", "responded", "cancelled", "failed"])
@pytest.mark.parametrize("verb", ["pause", "resume", "cancel"])
def test_finished_executions_answer_409(org_a, client_for, status, verb):
    execution = make_execution(
        make_sequence(org_a.org), LeadFactory(organization=org_a.org), status=status
    )
    response = client_for(org_a.admin).post(f"{URL}{execution.pk}/{verb}/")
    assert response.status_code == 409
    assert response.json()["details"]["status"] == status
    execution.refresh_from_db()
    assert execution.status == status


def test_resuming_while_the_sequence_is_inactive_is_a_409(org_a, client_for):
    sequence = make_sequence(org_a.org, ativo=False)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org), status="paused")
    response = client_for(org_a.admin).post(f"{URL}{execution.pk}/resume/")
    assert response.status_code == 409


@pytest.mark.parametrize("role", ["closer", "sdr"])
def test_sellers_pause_resume_and_cancel_the_follow_ups_of_leads_they_may_write(
    org_a, client_for, role
):
    execution = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    client = client_for(org_a.member(role))
    assert client.post(f"{URL}{execution.pk}/pause/").json()["status"] == "paused"
    assert client.post(f"{URL}{execution.pk}/resume/").json()["status"] == "active"
    assert client.post(f"{URL}{execution.pk}/cancel/").json()["status"] == "cancelled"
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED


def test_sellers_cannot_touch_follow_ups_of_leads_they_do_not_see(org_a, client_for):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    sequence = make_sequence(org_a.org)
    mine = make_execution(sequence, LeadFactory(organization=org_a.org, closer=org_a.closer))
    other = make_execution(sequence, LeadFactory(organization=org_a.org, closer=org_a.gestor))
    client = client_for(org_a.closer)
    for verb in ("pause", "resume", "cancel"):
        assert client.post(f"{URL}{other.pk}/{verb}/").status_code == 404
    other.refresh_from_db()
    assert other.status == ExecutionStatus.ACTIVE
    assert client.post(f"{URL}{mine.pk}/pause/").status_code == 200


def test_the_service_refuses_a_seller_who_may_not_write_the_lead(org_a):
    from config.errors import PermissionDenied
    from followup import services

    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    org_a.closer.organization.refresh_from_db()
    execution = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    for actor in (org_a.closer, org_a.mentor):
        with pytest.raises(PermissionDenied):
            services.execution_pause(execution=execution, actor=actor)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE


def test_mentors_have_no_access(org_a, client_for):
    execution = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    client = client_for(org_a.mentor)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{execution.pk}/logs/").status_code == 403


def test_sellers_see_only_executions_of_their_leads_when_visibility_is_assigned(org_a, client_for):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    sequence = make_sequence(org_a.org)
    mine = make_execution(sequence, LeadFactory(organization=org_a.org, closer=org_a.closer))
    other = make_execution(sequence, LeadFactory(organization=org_a.org))
    client = client_for(org_a.closer)

    listing = client.get(URL).json()["data"]
    assert [item["id"] for item in listing] == [str(mine.pk)]
    assert client.get(f"{URL}{other.pk}/").status_code == 404
    assert client.get(f"{URL}{other.pk}/logs/").status_code == 404
    assert len(client_for(org_a.admin).get(URL).json()["data"]) == 2


def test_another_organizations_execution_is_a_404(org_a, org_b, client_for):
    execution = make_execution(make_sequence(org_b.org), LeadFactory(organization=org_b.org))
    client = client_for(org_a.admin)
    assert client.get(f"{URL}{execution.pk}/").status_code == 404
    assert client.get(f"{URL}{execution.pk}/logs/").status_code == 404
    for verb in ("pause", "resume", "cancel"):
        assert client.post(f"{URL}{execution.pk}/{verb}/").status_code == 404
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE


def test_executions_are_read_only(org_a, client_for):
    execution = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    client = client_for(org_a.admin)
    assert client.post(URL, {}, format="json").status_code == 405
    assert client.patch(f"{URL}{execution.pk}/", {"status": "completed"}).status_code == 405
    assert client.delete(f"{URL}{execution.pk}/").status_code == 405


def test_log_list_queries_do_not_grow_with_the_page(org_a, client_for):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    client = client_for(org_a.admin)
    for _ in range(5):
        client.post(f"{URL}{execution.pk}/pause/")
        client.post(f"{URL}{execution.pk}/resume/")
    url = f"{URL}{execution.pk}/logs/"
    client.get(url)

    with CaptureQueriesContext(connection) as one:
        client.get(url, {"limit": 1})
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url, {"limit": 100}).json()["data"]) == 10

    assert len(many.captured_queries) == len(one.captured_queries)
