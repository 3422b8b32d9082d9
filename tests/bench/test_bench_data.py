"""`manage.py bench_data`: the benchmark data set honours the schema, the rules and the API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone
from rest_framework.test import APIClient

from bench import data
from followup.models import FollowupExecution, FollowupSequence, FollowupStepRun
from leads import scores
from leads.models import Lead, LeadInteraction, LeadQualification, LeadStatusChange
from leads.phones import normalize_phone, phone_match_key
from mentorados.models import EvolucaoFinanceira, Mentorado, MentoradoFeedback
from organizations.models import Membership, Organization, User

# The generated data set takes ~12 s (the module fixture below): started first (tests/conftest.py).
pytestmark = pytest.mark.heavy

LEADS = 1000
SLUGS = ["bench-1", "bench-2"]


@pytest.fixture(scope="module")
def generated(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Two organizations of 1,000 leads, generated once for the read-only tests (committed, as
    the command commits; deleted afterwards)."""
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("bench_data", "--orgs", "2", "--leads-per-org", str(LEADS), stdout=out)
        yield out.getvalue()
        for organization in Organization.objects.filter(slug__in=SLUGS):
            data.organization_delete(organization)


def orgs() -> list[Organization]:
    return list(Organization.objects.filter(slug__in=SLUGS).order_by("slug"))


def _sql(query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


@pytest.mark.django_db
def test_it_creates_the_organizations_with_their_members(generated):
    assert "bench-1:" in generated
    assert "bench-2:" in generated
    assert [org.nome for org in orgs()] == SLUGS
    for index, org in enumerate(orgs(), start=1):
        assert org.leads.count() == LEADS
        roles = dict(Membership.objects.for_org(org).values_list("role").annotate(n=Count("id")))
        assert roles == {role.value: n for role, n in data.member_counts(LEADS).items()}
        admin = Membership.objects.get(organization=org, role="admin")
        assert admin.user.email == f"admin@bench-{index}.test"
        assert admin.user.check_password(data.PASSWORD)
        assert User.objects.get(email=f"closer1@bench-{index}.test").check_password(data.PASSWORD)


@pytest.mark.django_db
def test_it_generates_interactions_qualifications_and_conversions_in_proportion(generated):
    for org in orgs():
        interactions = LeadInteraction.objects.for_org(org).count()
        assert 3.4 * LEADS <= interactions <= 4.6 * LEADS
        per_lead = (
            Lead.objects.for_org(org).annotate(n=Count("interactions")).aggregate(m=Max("n"))["m"]
        )
        assert per_lead <= 8
        qualified = LeadQualification.objects.for_org(org).count()
        assert 0.4 * LEADS <= qualified <= 0.6 * LEADS
        converted = Lead.objects.for_org(org).filter(status="convertido")
        assert 0.03 * LEADS <= converted.count() <= 0.07 * LEADS
        assert not converted.filter(converted_at__isnull=True).exists()
        assert (
            not Lead.objects.for_org(org)
            .exclude(status="convertido")
            .filter(converted_at__isnull=False)
            .exists()
        )
        mentees = Mentorado.objects.for_org(org)
        assert set(mentees.values_list("lead_id", flat=True)) == set(
            converted.values_list("id", flat=True)
        )
        months = mentees.annotate(n=Count("evolucoes")).values_list("n", flat=True)
        assert set(months) == {12}
        assert not mentees.annotate(n=Count("feedbacks")).filter(n=0).exists()
        assert not mentees.filter(mentor__isnull=True).exists()
        assert EvolucaoFinanceira.objects.for_org(org).count() == 12 * mentees.count()
        today = timezone.localdate(timezone=data.zoneinfo.ZoneInfo(data.TIMEZONE))
        assert not MentoradoFeedback.objects.for_org(org).filter(data_feedback__gt=today).exists()
        assert (
            not EvolucaoFinanceira.objects.for_org(org)
            .filter(ano=today.year, mes__gte=today.month)
            .exists()
        )


@pytest.mark.django_db
def test_it_keeps_the_status_history_consistent_with_the_lead(generated):
    for org in orgs():
        mismatched = _sql(
            "SELECT count(*) FROM leads l JOIN ("
            " SELECT DISTINCT ON (lead_id) lead_id, to_status FROM lead_status_changes"
            " WHERE organization_id = %s ORDER BY lead_id, changed_at DESC, id DESC) last"
            " ON last.lead_id = l.id WHERE l.status <> last.to_status",
            [org.pk],
        )
        assert mismatched == [(0,)]
        leads_with_history = (
            LeadStatusChange.objects.for_org(org).values("lead_id").distinct().count()
        )
        assert leads_with_history == LEADS
        first_moves = LeadStatusChange.objects.for_org(org).filter(from_status="")
        assert first_moves.count() == LEADS
        assert set(first_moves.values_list("to_status", flat=True)) == {"novo"}
        for lead in Lead.objects.for_org(org).filter(status="convertido")[:20]:
            move = lead.status_changes.get(to_status="convertido")
            assert move.changed_at == lead.converted_at


@pytest.mark.django_db
def test_it_writes_valid_unique_phones_and_emails(generated):
    for org in orgs():
        rows = list(Lead.objects.for_org(org).values_list("email", "telefone", "telefone_chave"))
        emails = [email for email, _, _ in rows if email]
        phones = [phone for _, phone, _ in rows if phone]
        assert len(set(emails)) == len(emails)
        assert 0.85 * LEADS < len(emails) < LEADS
        assert len(set(phones)) == len(phones)
        assert 0.9 * LEADS < len(phones) < LEADS
        for _, phone, key in rows:
            if phone:
                assert normalize_phone(phone) == phone
                assert phone.startswith("+55")
            assert key == phone_match_key(phone)


@pytest.mark.django_db
def test_it_dates_interactions_between_the_lead_creation_and_now(generated):
    now = timezone.now()
    for org in orgs():
        assert not LeadInteraction.objects.for_org(org).filter(data_interacao__gt=now).exists()
        early = _sql(
            "SELECT count(*) FROM lead_interactions i JOIN leads l ON l.id = i.lead_id"
            " WHERE i.organization_id = %s AND i.data_interacao < l.created_at",
            [org.pk],
        )
        assert early == [(0,)]
        wrong_last = _sql(
            "SELECT count(*) FROM leads l LEFT JOIN ("
            " SELECT lead_id, max(data_interacao) AS m FROM lead_interactions GROUP BY lead_id) i"
            " ON i.lead_id = l.id WHERE l.organization_id = %s"
            " AND l.last_interaction_at IS DISTINCT FROM i.m",
            [org.pk],
        )
        assert wrong_last == [(0,)]
        assert not LeadStatusChange.objects.for_org(org).filter(changed_at__gt=now).exists()


@pytest.mark.django_db
def test_it_scores_with_the_project_formulas(generated):
    for org in orgs():
        leads = Lead.objects.for_org(org)
        assert not leads.filter(lead_score__gt=100).exists()
        assert not leads.filter(status="convertido").exclude(lead_score=100).exists()
        assert leads.filter(lead_score__gt=0).exclude(status="convertido").exists()
        assert set(leads.values_list("temperatura", flat=True)) <= {"frio", "morno", "quente"}
        for q in LeadQualification.objects.for_org(org)[:200]:
            assert q.qualification_score == scores.qualification_score(
                budget_confirmado=q.budget_confirmado,
                authority_nivel=q.authority_nivel,
                necessidade_identificada=q.necessidade_identificada,
                prazo_decisao=q.prazo_decisao,
            )


@pytest.mark.django_db
def test_it_creates_sequences_with_executions_some_due_now(generated):
    now = timezone.now()
    for org in orgs():
        assert FollowupSequence.objects.for_org(org).count() == len(data.SEQUENCES)
        assert not FollowupSequence.objects.for_org(org).filter(versions__isnull=True).exists()
        executions = FollowupExecution.objects.for_org(org).select_related("versao")
        assert executions.count() >= 10
        assert executions.filter(status="active", proxima_execucao__lte=now).exists()
        assert executions.filter(status="active", proxima_execucao__gt=now).exists()
        for execution in executions:
            assert len(execution.steps_executados) == execution.step_atual
            assert execution.step_atual <= len(execution.versao.steps)
            runs = FollowupStepRun.objects.filter(execution=execution).count()
            assert runs == execution.step_atual
            if execution.status == "active":
                assert execution.proxima_execucao is not None
            assert execution.lead.organization_id == org.pk
            assert execution.sequence.organization_id == org.pk


@pytest.mark.django_db
def test_it_lets_the_admin_log_in_and_list_only_its_leads(generated):
    first, second = orgs()
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"email": "admin@bench-1.test", "password": data.PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}",
        HTTP_X_ORGANIZATION_ID=str(first.pk),
    )
    body = client.get("/api/v1/leads/", {"limit": 100}).json()
    assert body["pagination"]["total"] == LEADS
    ids = {item["id"] for item in body["data"]}
    assert Lead.objects.filter(pk__in=ids, organization=first).count() == len(ids) == 100
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}",
        HTTP_X_ORGANIZATION_ID=str(second.pk),
    )
    assert client.get("/api/v1/leads/").status_code in (403, 404)


@pytest.mark.django_db
def test_it_makes_the_rare_surname_rare_and_the_common_one_common(generated):
    first = orgs()[0]
    admin = Membership.objects.get(organization=first, role="admin")
    client = APIClient()
    client.force_authenticate(admin.user)
    client.credentials(HTTP_X_ORGANIZATION_ID=str(first.pk))
    rare = client.get("/api/v1/leads/", {"search": data.RARE_SURNAME}).json()
    assert rare["pagination"]["total"] == data.rare_surname_count(LEADS)
    common = client.get("/api/v1/leads/", {"search": data.COMMON_SURNAME}).json()
    assert common["pagination"]["total"] >= 0.03 * LEADS


def test_the_common_surname_is_a_few_percent_of_the_names():
    pools = data.build_pools(data.DEFAULT_SEED)
    assert 0.03 <= data.common_surname_share(pools) <= 0.1
    assert data.RARE_SURNAME not in pools.surnames
    assert data.rare_surname_count(100_000) == 10


# --- options (each test generates its own organization) --------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("bench_data", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_it_numbers_from_start_and_skips_an_organization_already_present():
    run("--start", "3", "--orgs", "1", "--leads-per-org", "1000")
    organization = Organization.objects.get(slug="bench-3")
    assert organization.leads.count() == 1000
    assert User.objects.filter(email="admin@bench-3.test").exists()
    assert not Organization.objects.filter(slug="bench-4").exists()
    ids = set(organization.leads.values_list("id", flat=True))

    output = run("--start", "3", "--orgs", "1", "--leads-per-org", "1000")
    assert "skipped" in output
    assert set(organization.leads.values_list("id", flat=True)) == ids


@pytest.mark.django_db(transaction=True)
def test_it_refuses_another_size_without_replace_and_regenerates_with_it():
    run("--start", "5", "--orgs", "1", "--leads-per-org", "1000")
    old = Organization.objects.get(slug="bench-5")
    with pytest.raises(CommandError, match="--replace"):
        run("--start", "5", "--orgs", "1", "--leads-per-org", "1200")
    assert old.leads.count() == 1000

    run("--start", "5", "--orgs", "1", "--leads-per-org", "1200", "--replace")
    new = Organization.objects.get(slug="bench-5")
    assert new.pk != old.pk
    assert new.leads.count() == 1200
    assert not Lead.objects.filter(organization_id=old.pk).exists()
    assert not LeadInteraction.objects.filter(organization_id=old.pk).exists()
    assert User.objects.filter(email="admin@bench-5.test").count() == 1
    assert Membership.objects.get(user__email="admin@bench-5.test").organization_id == new.pk


@pytest.mark.parametrize("size", ["999", "1000001", "0"])
def test_it_refuses_sizes_out_of_range(size):
    with pytest.raises(CommandError, match="between"):
        run("--leads-per-org", size)
