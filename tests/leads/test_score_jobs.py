"""Score recalculation: the set-based SQL path equals the pure functions; only changed leads
are written; receivers enqueue (coalesced) recalculation jobs on commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone
from rq import SimpleWorker

from config.context import bind_request_id
from leads import scoring, signals
from leads.jobs import SCORES, recalculate_lead_scores
from leads.models import Lead, LeadInteraction
from leads.scores import lead_score, temperatura
from leads.services import interaction_create, lead_create, lead_update, qualification_save
from tests.factories import (
    InteractionFactory,
    LeadFactory,
    OrganizationFactory,
    QualificationFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
TICKET = Decimal("8000.00")


def at(days: float = 0, **delta: float) -> datetime:
    return NOW - timedelta(days=days, **delta)


def add(lead: Lead, resultado: str, when: datetime) -> None:
    InteractionFactory(
        lead=lead, organization=lead.organization, resultado=resultado, data_interacao=when
    )


def expected(lead: Lead, now: datetime) -> tuple[int, str]:
    """The pure functions applied to the lead's rows, independently of leads.scoring."""
    lead.refresh_from_db()
    interactions = list(LeadInteraction.objects.filter(lead=lead))
    qualification = getattr(lead, "qualification", None)
    score = lead_score(
        status=lead.status,
        qualification_score=qualification.qualification_score if qualification else None,
        interactions=interactions,
        valor_potencial=lead.valor_potencial,
        origem=lead.origem,
        ticket_alvo=lead.organization.ticket_alvo,
        now=now,
    )
    contacts = [i.data_interacao for i in interactions if i.resultado != "sem_resposta"]
    return score, temperatura(
        lead_score=score, last_contact_at=max(contacts) if contacts else None, now=now
    )


@pytest.fixture
def dataset() -> dict[str, Lead]:
    """Hand-built leads around every boundary of the rules (ages relative to NOW)."""
    org = OrganizationFactory(ticket_alvo=TICKET)
    other = OrganizationFactory()

    def lead(name: str, **fields: Any) -> Lead:
        fields.setdefault("valor_potencial", None)
        fields.setdefault("origem", "instagram")
        return LeadFactory(organization=org, nome_completo=name, **fields)

    leads: dict[str, Lead] = {}
    leads["empty"] = lead("empty")
    leads["ticket_equal"] = lead("ticket_equal", valor_potencial=TICKET)
    leads["ticket_below"] = lead("ticket_below", valor_potencial=TICKET - Decimal("0.01"))
    leads["referral"] = lead("referral", origem="indicacao")
    # 0.6 x 43 = 25.8 -> 26 (+5 one contact, +10 ticket): rounding after the sum.
    leads["rounding"] = lead("rounding", valor_potencial=Decimal("9000"))
    QualificationFactory(lead=leads["rounding"], organization=org, qualification_score=43)
    add(leads["rounding"], "follow_up", at(3))
    # 60 + 15 + 15 = 90: quente with the contact exactly 7 days old; morno one second older.
    for name, age in (("hot_7d", at(7)), ("hot_7d_plus", at(7) - timedelta(seconds=1))):
        leads[name] = lead(name, valor_potencial=TICKET, origem="indicacao")
        QualificationFactory(lead=leads[name], organization=org, qualification_score=100)
        add(leads[name], "agendamento", age)
    # 14-day warmth for a low score, and 15 days (frio).
    for name, days in (("warm_14d", 14), ("cold_15d", 15)):
        leads[name] = lead(name)
        add(leads[name], "contato_realizado", at(days))
    # The 30-day window: counted at exactly 30 days, not one second more or at 31 days.
    for name, age in (
        ("window_30d", at(30)),
        ("window_30d_plus", at(30) - timedelta(seconds=1)),
        ("window_31d", at(31)),
    ):
        leads[name] = lead(name)
        QualificationFactory(lead=leads[name], organization=org, qualification_score=55)
        add(leads[name], "proposta_enviada", age)
    # 69/70: 0.6 x 75 = 45 + 15 (three contacts) + 10 (ticket) = 70; 0.6 x 73 gives 68.8 -> 69.
    leads["score_70"] = lead("score_70", valor_potencial=TICKET)
    QualificationFactory(lead=leads["score_70"], organization=org, qualification_score=75)
    for days in (1, 2, 3):
        add(leads["score_70"], "contato_realizado", at(days))
    leads["score_69"] = lead("score_69", valor_potencial=TICKET)
    QualificationFactory(lead=leads["score_69"], organization=org, qualification_score=73)
    for days in (1, 2, 3):
        add(leads["score_69"], "contato_realizado", at(days))
    # 39/40: 0.6 x 50 = 30 + 10 ticket = 40 (morno without contact); 0.6 x 48 = 28.8 -> 39.
    leads["score_40"] = lead("score_40", valor_potencial=TICKET)
    QualificationFactory(lead=leads["score_40"], organization=org, qualification_score=50)
    leads["score_39"] = lead("score_39", valor_potencial=TICKET)
    QualificationFactory(lead=leads["score_39"], organization=org, qualification_score=48)
    # Caps: five contacts count 15; the bonus on top; the maximum is exactly 100.
    leads["capped"] = lead("capped", valor_potencial=TICKET, origem="indicacao")
    QualificationFactory(lead=leads["capped"], organization=org, qualification_score=100)
    for days in (2, 3, 4, 5, 6):
        add(leads["capped"], "follow_up", at(days))
    add(leads["capped"], "proposta_enviada", at(1))
    # sem_resposta never counts, even as the latest interaction.
    leads["no_answer"] = lead("no_answer")
    add(leads["no_answer"], "sem_resposta", at(1))
    add(leads["no_answer"], "sem_resposta", at(2))
    leads["latest_no_answer"] = lead("latest_no_answer")
    add(leads["latest_no_answer"], "agendamento", at(10))
    add(leads["latest_no_answer"], "sem_resposta", at(1))
    # A later follow-up removes the bonus; a tie with a proposal keeps it.
    leads["bonus_lost"] = lead("bonus_lost")
    add(leads["bonus_lost"], "proposta_enviada", at(5))
    add(leads["bonus_lost"], "follow_up", at(2))
    leads["bonus_tie"] = lead("bonus_tie")
    add(leads["bonus_tie"], "follow_up", at(2))
    add(leads["bonus_tie"], "proposta_enviada", at(2))
    leads["empty_resultado"] = lead("empty_resultado")
    add(leads["empty_resultado"], "", at(1))
    leads["old_contact_only"] = lead("old_contact_only")
    add(leads["old_contact_only"], "agendamento", at(45))
    # Closed leads are not part of the decay (a recalculation gives convertido 100).
    leads["converted"] = lead("converted", status="convertido")
    leads["lost"] = lead("lost", status="perdido", lead_score=7, temperatura="quente")
    # Another organization with a different ticket_alvo: never mixed in.
    leads["other_org"] = LeadFactory(organization=other, valor_potencial=TICKET, origem="site")
    return leads


PINNED = {
    "empty": (0, "frio"),
    "ticket_equal": (10, "frio"),
    "ticket_below": (0, "frio"),
    "referral": (5, "frio"),
    "rounding": (41, "morno"),
    "hot_7d": (90, "quente"),
    "hot_7d_plus": (90, "morno"),
    "warm_14d": (5, "morno"),
    "cold_15d": (5, "frio"),
    "window_30d": (48, "morno"),
    "window_30d_plus": (33, "frio"),
    "window_31d": (33, "frio"),
    "score_70": (70, "quente"),
    "score_69": (69, "morno"),
    "score_40": (40, "morno"),
    "score_39": (39, "frio"),
    "capped": (100, "quente"),
    "no_answer": (0, "frio"),
    "latest_no_answer": (15, "morno"),
    "bonus_lost": (10, "morno"),
    "bonus_tie": (20, "morno"),
    "empty_resultado": (5, "morno"),
    "old_contact_only": (0, "frio"),
}


def stored(leads: dict[str, Lead]) -> dict[str, tuple[int, str]]:
    result = {}
    for name, lead in leads.items():
        lead.refresh_from_db()
        result[name] = (lead.lead_score, lead.temperatura)
    return result


def test_it_decays_with_sql_exactly_as_the_pure_functions(dataset):
    org = dataset["empty"].organization
    result = scoring.lead_scores_decay(organization_id=org.pk, now=NOW, batch_size=4)
    values = stored(dataset)
    for name in PINNED:
        assert values[name] == expected(dataset[name], NOW), name
    assert {name: values[name] for name in PINNED} == PINNED
    assert result.leads_seen == len(PINNED)
    assert result.batches == -(-len(PINNED) // 4)
    # Closed leads and the other organization are untouched.
    assert values["lost"] == (7, "quente")
    assert values["converted"] == (0, "frio")
    assert values["other_org"] == (0, "frio")


def test_it_gives_the_same_results_on_the_python_path(dataset, monkeypatch):
    org = dataset["empty"].organization
    scoring.lead_scores_decay(organization_id=org.pk, now=NOW)
    via_sql = stored(dataset)
    Lead.objects.open().update(lead_score=0, temperatura="frio")
    monkeypatch.setattr(scoring, "use_sql", lambda: False)
    scoring.lead_scores_decay(organization_id=org.pk, now=NOW, batch_size=5)
    assert stored(dataset) == via_sql


def test_it_computes_the_same_values_in_python_for_every_lead(dataset):
    org = dataset["empty"].organization
    computed = scoring.compute_scores(
        organization=org, leads=Lead.objects.filter(organization=org), now=NOW
    )
    for name, lead in dataset.items():
        if lead.organization_id == org.pk:
            assert computed[lead.pk] == expected(lead, NOW), name


def test_it_writes_only_the_leads_whose_values_change(dataset):
    org = dataset["empty"].organization
    scoring.lead_scores_decay(organization_id=org.pk, now=NOW)
    before = {lead.pk: Lead.objects.get(pk=lead.pk).updated_at for lead in dataset.values()}

    again = scoring.lead_scores_decay(organization_id=org.pk, now=NOW)
    assert again.leads_updated == 0
    assert {pk: Lead.objects.get(pk=pk).updated_at for pk in before} == before

    # Two days later some contacts have aged past a boundary: exactly those leads change.
    later = NOW + timedelta(days=2)
    moved = {name for name in PINNED if expected(dataset[name], later) != PINNED[name]}
    assert moved  # the data set crosses boundaries (e.g. hot_7d cools, warm_14d goes cold)
    result = scoring.lead_scores_decay(organization_id=org.pk, now=later)
    assert result.leads_updated == len(moved)
    touched = {
        name
        for name, lead in dataset.items()
        if Lead.objects.get(pk=lead.pk).updated_at != before[lead.pk]
    }
    assert touched == moved
    for name in PINNED:
        assert stored({name: dataset[name]})[name] == expected(dataset[name], later), name


def test_it_skips_a_lead_modified_after_the_batch_started(dataset):
    org = dataset["empty"].organization
    lead = dataset["ticket_equal"]
    # A concurrent write stamps updated_at after the batch's guard time.
    Lead.objects.filter(pk=lead.pk).update(updated_at=timezone.now() + timedelta(hours=1))
    scoring.lead_scores_decay(organization_id=org.pk, now=NOW)
    lead.refresh_from_db()
    assert (lead.lead_score, lead.temperatura) == (0, "frio")
    assert stored({"x": dataset["ticket_below"]})["x"] == PINNED["ticket_below"]


def test_it_announces_changed_leads_per_batch(dataset):
    org = dataset["empty"].organization
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    signals.lead_scores_changed.connect(receiver)
    try:
        result = scoring.lead_scores_decay(organization_id=org.pk, now=NOW, batch_size=5)
    finally:
        signals.lead_scores_changed.disconnect(receiver)
    assert len(calls) > 1
    announced = [lead_id for call in calls for lead_id in call["lead_ids"]]
    assert len(announced) == len(set(announced)) == result.leads_updated
    assert {call["organization_id"] for call in calls} == {org.pk}
    changed = {dataset[name].pk for name, values in PINNED.items() if values != (0, "frio")}
    assert set(announced) == changed


def test_it_recalculates_given_leads_of_one_organization_only(dataset):
    org = dataset["empty"].organization
    ids = [dataset["converted"].pk, dataset["score_70"].pk, dataset["other_org"].pk]
    changed = scoring.lead_scores_recalculate(organization_id=org.pk, lead_ids=ids, now=NOW)
    assert set(changed) == {dataset["converted"].pk, dataset["score_70"].pk}
    values = stored(dataset)
    assert values["converted"][0] == 100
    assert values["score_70"] == (70, "quente")
    assert values["other_org"] == (0, "frio")
    assert values["empty"] == (0, "frio")  # not asked for
    assert scoring.lead_scores_recalculate(organization_id=org.pk, lead_ids=ids, now=NOW) == []


# --- receivers and the recalculation job ----------------------------------------------------------


def recalculations() -> list[Any]:
    """The score recalculation jobs waiting (other apps' receivers may enqueue jobs too)."""
    return [
        job
        for job in django_rq.get_queue("high").get_jobs()
        if job.func_name == "leads.jobs.recalculate_lead_scores"
    ]


def pending(org: Any) -> set[str]:
    return SCORES.pending(org.pk)


def work() -> None:
    """Run queued jobs in this process (sees the test's transaction)."""
    SimpleWorker(
        [django_rq.get_queue(name) for name in ("high", "default", "low")],
        connection=django_rq.get_connection("default"),
    ).work(burst=True)


@pytest.fixture
def org_lead(org_a) -> tuple[Any, Lead]:
    org_a.org.ticket_alvo = Decimal("5000")
    org_a.org.save()
    return org_a, LeadFactory(organization=org_a.org, valor_potencial=Decimal("6000"))


def test_it_recalculates_after_an_interaction(org_lead, django_capture_on_commit_callbacks):
    org, lead = org_lead
    with (
        bind_request_id("req-42"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        interaction_create(lead=lead, actor=org.closer, data={"resultado": "agendamento"})
    (job,) = recalculations()
    assert job.kwargs == {"organization_id": str(org.org.pk)}
    assert pending(org.org) == {str(lead.pk)}
    # Safe to repeat, so retried (1, 5, 30 minutes) instead of failing at the first error.
    assert (job.retries_left, job.retry_intervals) == (3, [60, 300, 1800])
    assert job.meta["request_id"] == "req-42"
    work()
    lead.refresh_from_db()
    # 5 (one contact) + 10 (agendamento) + 10 (valor 6000 >= ticket 5000) = 25, contact today.
    assert (lead.lead_score, lead.temperatura) == (25, "morno")
    assert pending(org.org) == set()


def test_it_keeps_one_waiting_job_per_organization(org_lead, django_capture_on_commit_callbacks):
    org, lead = org_lead
    other = LeadFactory(organization=org.org, origem="indicacao")
    with django_capture_on_commit_callbacks(execute=True):
        interaction_create(lead=lead, actor=org.closer, data={"resultado": "follow_up"})
    with django_capture_on_commit_callbacks(execute=True):
        interaction_create(lead=lead, actor=org.closer, data={"resultado": "proposta_enviada"})
        qualification_save(lead=lead, actor=org.closer, data={"budget_confirmado": True})
    with django_capture_on_commit_callbacks(execute=True):
        interaction_create(lead=other, actor=org.closer, data={"resultado": "follow_up"})
    assert len(recalculations()) == 1
    assert pending(org.org) == {str(lead.pk), str(other.pk)}
    work()
    lead.refresh_from_db()
    other.refresh_from_db()
    # The single job saw everything: 0.6 x 30 = 18 + 10 + 10 (proposta) + 10 (ticket) = 48.
    assert lead.lead_score == 48
    assert other.lead_score == 5 + 5 + 10  # referral + one contact + ticket (15000 >= 5000)
    # Once the job has started, a new change gets a job of its own.
    with django_capture_on_commit_callbacks(execute=True):
        interaction_create(lead=lead, actor=org.closer, data={"resultado": "follow_up"})
    assert len(recalculations()) == 1


def test_it_coalesces_a_burst_of_new_leads(org_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        leads = [
            lead_create(
                organization=org_a.org,
                actor=org_a.sdr,
                data={"nome_completo": f"Lead {n}", "origem": "indicacao"},
            )
            for n in range(5)
        ]
    assert len(recalculations()) == 1
    work()
    assert {Lead.objects.get(pk=lead.pk).lead_score for lead in leads} == {5}


def test_it_keeps_the_pending_leads_of_a_failed_recalculation(org_a):
    key = SCORES.pending_key(org_a.org.pk)
    lead = LeadFactory(organization=org_a.org, origem="indicacao")
    django_rq.get_connection("default").sadd(key, str(lead.pk), "not-a-uuid")
    with pytest.raises(ValueError):  # noqa: PT011 - the validators raise it with several messages
        recalculate_lead_scores(organization_id=str(org_a.org.pk))
    # Still there for the retry: nothing taken out is lost.
    assert pending(org_a.org) == {str(lead.pk), "not-a-uuid"}


def test_it_recalculates_after_a_qualification(org_lead, django_capture_on_commit_callbacks):
    org, lead = org_lead
    with django_capture_on_commit_callbacks(execute=True):
        qualification_save(
            lead=lead,
            actor=org.sdr,
            data={"budget_confirmado": True, "authority_nivel": "decisor"},
        )
    work()
    lead.refresh_from_db()
    assert lead.lead_score == 33 + 10  # 0.6 x 55 + ticket


def test_it_recalculates_a_new_lead(org_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(
            organization=org_a.org,
            actor=org_a.sdr,
            data={"nome_completo": "Indicada", "origem": "indicacao"},
        )
    work()
    lead.refresh_from_db()
    assert (lead.lead_score, lead.temperatura) == (5, "frio")


@pytest.mark.parametrize(
    ("data", "enqueues"),
    [
        ({"valor_potencial": Decimal("20000")}, True),
        ({"origem": "indicacao"}, True),
        ({"status": "convertido"}, True),
        ({"nome_completo": "Outro nome"}, False),
        ({"tags": ["vip"]}, False),
    ],
)
def test_it_recalculates_after_edits_that_move_the_score_only(
    org_lead, django_capture_on_commit_callbacks, data, enqueues
):
    org, lead = org_lead
    with django_capture_on_commit_callbacks(execute=True):
        lead_update(lead=lead, actor=org.admin, data=data)
    assert len(recalculations()) == (1 if enqueues else 0)


def test_it_enqueues_nothing_when_the_write_rolls_back(
    org_lead, django_capture_on_commit_callbacks
):
    org, lead = org_lead
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                interaction_create(lead=lead, actor=org.closer, data={"resultado": "follow_up"})
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert callbacks == []
    assert recalculations() == []
    assert pending(org.org) == set()


def test_it_converts_to_one_hundred(org_lead, django_capture_on_commit_callbacks):
    org, lead = org_lead
    with django_capture_on_commit_callbacks(execute=True):
        interaction_create(lead=lead, actor=org.closer, data={"resultado": "fechamento_positivo"})
    work()
    lead.refresh_from_db()
    assert (lead.status, lead.lead_score, lead.temperatura) == ("convertido", 100, "quente")
