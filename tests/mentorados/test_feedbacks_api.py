"""GET POST /api/v1/mentorados/{id}/feedbacks/, engagement refresh and low-satisfaction notices."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mentorados.models import Mentorado, MentoradoFeedback
from mentorados.services import organization_today
from organizations.models import Notification
from tests.factories import MembershipFactory
from tests.mentorados.factories import FeedbackFactory, MentoradoFactory

pytestmark = pytest.mark.django_db


def url(mentorado: Mentorado) -> str:
    return f"/api/v1/mentorados/{mentorado.pk}/feedbacks/"


def test_it_records_a_feedback(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    payload = {
        "nota_nps": 9,
        "nota_geral": 8,
        "categoria": "mentoria",
        "comentario": "Ótimo acompanhamento",
        "pontos_positivos": "Clareza",
        "pontos_melhoria": "Mais material",
    }
    response = client_for(org_a.mentor).post(url(mentee), payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["data_feedback"] == organization_today(org_a.org).isoformat()
    assert body["mentorado_id"] == str(mentee.pk)
    assert body["created_by_id"] == str(org_a.mentor.pk)
    feedback = MentoradoFeedback.objects.get()
    assert feedback.organization_id == org_a.org.pk
    # Engagement: a feedback today (+20) and 2 x 8.
    mentee.refresh_from_db()
    assert mentee.engagement_score == 20 + 16
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"nota_geral": 8}, "nota_nps"),
        ({"nota_nps": 8}, "nota_geral"),
        ({"nota_nps": 11, "nota_geral": 8}, "nota_nps"),
        ({"nota_nps": -1, "nota_geral": 8}, "nota_nps"),
        ({"nota_nps": 8, "nota_geral": 10.5}, "nota_geral"),
        ({"nota_nps": 8, "nota_geral": "dez"}, "nota_geral"),
        ({"nota_nps": 8, "nota_geral": 8, "data_feedback": "amanhã"}, "data_feedback"),
        ({"nota_nps": 8, "nota_geral": 8, "data_feedback": "1999-01-01"}, "data_feedback"),
        ({"nota_nps": 8, "nota_geral": 8, "categoria": "x" * 61}, "categoria"),
    ],
)
def test_it_rejects_bad_feedback_and_writes_nothing(org_a, client_for, payload, field):
    mentee = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(url(mentee), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]
    assert not MentoradoFeedback.objects.exists()


def test_it_rejects_a_feedback_dated_in_the_future(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    tomorrow = organization_today(org_a.org) + timedelta(days=1)
    response = client_for(org_a.admin).post(
        url(mentee),
        {"nota_nps": 3, "nota_geral": 2, "data_feedback": tomorrow.isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert not MentoradoFeedback.objects.exists()
    assert not Notification.objects.exists()


def test_it_notifies_the_mentor_and_active_managers_once_on_low_satisfaction(org_a, client_for):
    inactive_admin = MembershipFactory(organization=org_a.org, role="admin", ativo=False)
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    response = client_for(org_a.mentor).post(
        url(mentee), {"nota_nps": 4, "nota_geral": 5}, format="json"
    )
    assert response.status_code == 201
    notices = Notification.objects.filter(tipo="low_satisfaction")
    assert {n.recipient_id for n in notices} == {org_a.mentor.pk, org_a.admin.pk, org_a.gestor.pk}
    assert notices.count() == 3
    assert inactive_admin.pk not in {n.recipient_id for n in notices}
    notice = notices.first()
    assert notice is not None
    assert notice.payload["mentorado_id"] == str(mentee.pk)
    assert notice.payload["nota_geral"] == 5
    assert notice.organization_id == org_a.org.pk


def test_it_deduplicates_a_manager_who_is_also_the_mentor(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.gestor)
    client_for(org_a.admin).post(url(mentee), {"nota_nps": 0, "nota_geral": 0}, format="json")
    recipients = list(
        Notification.objects.filter(tipo="low_satisfaction").values_list("recipient_id", flat=True)
    )
    assert sorted(recipients) == sorted([org_a.admin.pk, org_a.gestor.pk])


def test_it_does_not_notify_above_five(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    client_for(org_a.admin).post(url(mentee), {"nota_nps": 0, "nota_geral": 6}, format="json")
    assert not Notification.objects.exists()


def test_it_lists_feedbacks_newest_first(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    old = FeedbackFactory(mentorado=mentee, data_feedback=date(2025, 1, 1))
    new = FeedbackFactory(mentorado=mentee, data_feedback=date(2025, 3, 1))
    FeedbackFactory(mentorado=MentoradoFactory(organization=org_a.org))
    response = client_for(org_a.closer).get(url(mentee))
    assert response.status_code == 200
    assert [d["id"] for d in response.json()["data"]] == [str(new.pk), str(old.pk)]
    response = client_for(org_a.closer).get(url(mentee) + "?ordering=data_feedback")
    assert [d["id"] for d in response.json()["data"]] == [str(old.pk), str(new.pk)]


def test_it_lists_feedbacks_with_a_query_count_independent_of_page_size(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    FeedbackFactory.create_batch(8, mentorado=mentee)
    client = client_for(org_a.admin)
    client.get(url(mentee))
    with CaptureQueriesContext(connection) as one:
        client.get(url(mentee) + "?limit=1")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(mentee) + "?limit=100")
    assert len(response.json()["data"]) == 8
    assert len(many) == len(one)


def test_it_lets_a_mentor_give_feedback_only_on_their_own_mentees(org_a, client_for):
    other = MembershipFactory(organization=org_a.org, role="mentor")
    theirs = MentoradoFactory(organization=org_a.org, mentor=other)
    response = client_for(org_a.mentor).post(
        url(theirs), {"nota_nps": 1, "nota_geral": 1}, format="json"
    )
    assert response.status_code == 403
    assert not MentoradoFeedback.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize("role", ["closer", "sdr"])
def test_it_forbids_sellers_to_give_feedback(org_a, client_for, role):
    mentee = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.member(role)).post(
        url(mentee), {"nota_nps": 9, "nota_geral": 9}, format="json"
    )
    assert response.status_code == 403
    assert not MentoradoFeedback.objects.exists()


def test_it_hides_another_organizations_feedbacks(org_a, org_b, client_for):
    foreign = MentoradoFactory(organization=org_b.org, mentor=org_b.mentor)
    FeedbackFactory(mentorado=foreign)
    client = client_for(org_a.admin)
    assert client.get(url(foreign)).status_code == 404
    response = client.post(url(foreign), {"nota_nps": 1, "nota_geral": 1}, format="json")
    assert response.status_code == 404
    assert MentoradoFeedback.objects.count() == 1
    assert not Notification.objects.exists()
