"""The organization's NPS (last 90 days and per month), kept on every feedback write."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mentorados import jobs, services
from mentorados.models import Mentorado
from mentorados.services import organization_today
from organizations.models import OrganizationNps, OrganizationNpsMonth
from tests.mentorados.factories import MentoradoFactory

pytestmark = pytest.mark.django_db


def post_feedback(client, mentee: Mentorado, nota_nps: int, day: date) -> None:
    response = client.post(
        f"/api/v1/mentorados/{mentee.pk}/feedbacks/",
        {"nota_nps": nota_nps, "nota_geral": 8, "data_feedback": day.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_it_starts_without_a_figure(org_a, client_for):
    body = client_for(org_a.closer).get("/api/v1/organization/").json()

    assert body["nps_atual"] is None
    assert body["nps_respostas_90d"] == 0


def test_it_updates_the_organization_nps_on_each_feedback(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    mentor = client_for(org_a.mentor)
    today = organization_today(org_a.org)

    post_feedback(mentor, mentee, 10, today)
    body = client_for(org_a.closer).get("/api/v1/organization/").json()
    assert (body["nps_atual"], body["nps_respostas_90d"]) == (100, 1)

    post_feedback(mentor, mentee, 3, today - timedelta(days=30))
    post_feedback(mentor, mentee, 8, today - timedelta(days=89))  # last day inside the window
    post_feedback(mentor, mentee, 0, today - timedelta(days=90))  # first day outside it
    body = client_for(org_a.closer).get("/api/v1/organization/").json()
    # 1 promoter, 1 detractor, 1 neutral: (1 - 1) / 3.
    assert (body["nps_atual"], body["nps_respostas_90d"]) == (0, 3)


def test_it_equals_the_dashboard_nps_for_the_same_window(org_a, client_for):
    """Same data, same window: dashboard?period=4 covers at least the last 89 days and never
    reaches back 200 days, so both figures count the same feedbacks."""
    mentees = [MentoradoFactory(organization=org_a.org, mentor=org_a.mentor) for _ in range(3)]
    mentor = client_for(org_a.mentor)
    today = organization_today(org_a.org)
    for i, (nota, days_ago) in enumerate(
        [(10, 0), (9, 10), (6, 45), (2, 80), (7, 80), (10, 5), (0, 200), (1, 200)]
    ):
        post_feedback(mentor, mentees[i % 3], nota, today - timedelta(days=days_ago))

    organization = client_for(org_a.admin).get("/api/v1/organization/").json()
    dashboard = client_for(org_a.admin).get("/api/v1/mentorados/dashboard/?period=4").json()

    assert organization["nps_atual"] == dashboard["satisfaction"]["nps"]
    assert organization["nps_respostas_90d"] == dashboard["satisfaction"]["total_respostas"] == 6
    # 3 promoters, 2 detractors over 6 answers: round(16.67).
    assert organization["nps_atual"] == 17


def test_it_keeps_a_monthly_series(org_a):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    for nota, day in [(10, date(2026, 5, 3)), (0, date(2026, 5, 31)), (9, date(2026, 6, 1))]:
        services.feedback_create(
            mentorado=mentee,
            actor=None,
            data={"nota_nps": nota, "nota_geral": 7, "data_feedback": day},
        )

    series = list(
        OrganizationNpsMonth.objects.filter(organization=org_a.org).values_list(
            "ano", "mes", "nps", "respostas", "promotores", "detratores"
        )
    )
    assert series == [(2026, 5, 0, 2, 1, 1), (2026, 6, 100, 1, 1, 0)]


def test_it_recomputes_both_months_when_a_feedback_moves_or_goes(org_a):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    feedback = services.feedback_create(
        mentorado=mentee,
        actor=None,
        data={"nota_nps": 10, "nota_geral": 7, "data_feedback": date(2026, 5, 3)},
    )
    services.feedback_update(
        feedback=feedback, actor=None, data={"data_feedback": date(2026, 7, 3), "nota_nps": 4}
    )
    months = OrganizationNpsMonth.objects.filter(organization=org_a.org)
    assert list(months.values_list("ano", "mes", "nps")) == [(2026, 7, -100)]

    services.feedback_delete(feedback=feedback, actor=None)
    assert not months.exists()


def test_the_daily_job_ages_feedbacks_out_of_the_window(org_a, org_b, monkeypatch):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    today = organization_today(org_a.org)
    services.feedback_create(
        mentorado=mentee,
        actor=None,
        data={"nota_nps": 9, "nota_geral": 9, "data_feedback": today - timedelta(days=80)},
    )
    assert OrganizationNps.objects.get(organization=org_a.org).respostas_90d == 1

    later = today + timedelta(days=20)
    monkeypatch.setattr(services, "organization_today", lambda organization, at=None: later)
    assert jobs.organization_nps_refresh_all() == {"organizations": 1}

    row = OrganizationNps.objects.get(organization=org_a.org)
    assert (row.nps_atual, row.respostas_90d, row.fim) == (None, 0, later)
    assert not OrganizationNps.objects.filter(organization=org_b.org).exists()


def test_each_organization_sees_only_its_own_figure(org_a, org_b, client_for):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    post_feedback(client_for(org_a.mentor), mentee, 0, organization_today(org_a.org))

    assert client_for(org_a.admin).get("/api/v1/organization/").json()["nps_atual"] == -100
    body_b = client_for(org_b.admin).get("/api/v1/organization/").json()
    assert (body_b["nps_atual"], body_b["nps_respostas_90d"]) == (None, 0)


def test_the_painel_shows_the_organization_nps(org_a):
    from django.test import Client

    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    services.feedback_create(
        mentorado=mentee,
        actor=None,
        data={"nota_nps": 10, "nota_geral": 9, "data_feedback": organization_today(org_a.org)},
    )
    user = org_a.admin.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)

    response = client.get("/admin/painel/")

    assert response.status_code == 200
    assert response.context["nps_org"].nps_atual == 100
    assert 'data-figure="nps-org"' in response.content.decode()
