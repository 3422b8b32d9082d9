"""lead_score and temperatura (DOMAIN.md "Scores"): pure functions, every boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.scores import (
    Contact,
    engagement_points,
    fit_points,
    last_contact_at,
    lead_score,
    qualification_score,
    temperatura,
)

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
TICKET = Decimal("10000.00")
SECOND = timedelta(seconds=1)


def ago(days: float = 0, **delta: float) -> datetime:
    return NOW - timedelta(days=days, **delta)


def contact(resultado: str = "contato_realizado", days: float = 1, **delta: float) -> Contact:
    return Contact(resultado=resultado, data_interacao=ago(days, **delta))


def score(**overrides: Any) -> int:
    fields: dict[str, Any] = {
        "status": "em_contato",
        "qualification_score": 0,
        "interactions": [],
        "valor_potencial": None,
        "origem": "instagram",
        "ticket_alvo": TICKET,
        "now": NOW,
    }
    fields.update(overrides)
    return lead_score(**fields)


# --- qualification (unchanged, pinned here too) -----------------------------------------------


def test_it_scores_qualification_per_bant():
    assert (
        qualification_score(
            budget_confirmado=True,
            authority_nivel="decisor",
            necessidade_identificada=True,
            prazo_decisao="imediato",
        )
        == 100
    )
    assert (
        qualification_score(
            budget_confirmado=False,
            authority_nivel="desconhecido",
            necessidade_identificada=False,
            prazo_decisao="longo",
        )
        == 0
    )


# --- engagement ---------------------------------------------------------------------------------


def test_it_gives_no_engagement_without_interactions():
    assert engagement_points([], now=NOW) == 0
    assert score() == 0


def test_it_gives_five_points_per_contact_up_to_fifteen():
    assert engagement_points([contact()], now=NOW) == 5
    assert engagement_points([contact(), contact(days=2)], now=NOW) == 10
    assert engagement_points([contact(days=d) for d in (1, 2, 3)], now=NOW) == 15
    assert engagement_points([contact(days=d) for d in (1, 2, 3, 4, 5)], now=NOW) == 15


def test_it_ignores_sem_resposta_for_engagement():
    interactions = [contact("sem_resposta", days=1), contact("sem_resposta", days=2)]
    assert engagement_points(interactions, now=NOW) == 0
    assert engagement_points([*interactions, contact(days=3)], now=NOW) == 5


def test_it_counts_an_interaction_without_resultado_as_a_contact():
    assert engagement_points([contact("")], now=NOW) == 5


def test_it_counts_interactions_up_to_exactly_thirty_days_old():
    assert engagement_points([contact(days=30)], now=NOW) == 5
    assert engagement_points([Contact("contato_realizado", ago(30) - SECOND)], now=NOW) == 0
    assert engagement_points([contact(days=31)], now=NOW) == 0
    assert engagement_points([contact(days=29)], now=NOW) == 5


def test_it_counts_a_future_dated_interaction_as_recent():
    assert engagement_points([Contact("contato_realizado", NOW + timedelta(hours=2))], now=NOW) == 5


@pytest.mark.parametrize("resultado", ["agendamento", "proposta_enviada"])
def test_it_adds_ten_when_the_latest_contact_is_a_meeting_or_proposal(resultado):
    interactions = [contact("contato_realizado", days=3), contact(resultado, days=1)]
    assert engagement_points(interactions, now=NOW) == 10 + 10


@pytest.mark.parametrize(
    "resultado", ["contato_realizado", "follow_up", "fechamento_negativo", "fechamento_positivo"]
)
def test_it_gives_no_bonus_for_other_latest_results(resultado):
    assert engagement_points([contact(resultado)], now=NOW) == 5


def test_it_gives_no_bonus_when_a_later_contact_follows_the_proposal():
    interactions = [contact("proposta_enviada", days=3), contact("follow_up", days=1)]
    assert engagement_points(interactions, now=NOW) == 10


def test_it_skips_sem_resposta_when_finding_the_latest_contact():
    # The latest interaction is sem_resposta: the latest *contact* is the proposal.
    interactions = [contact("proposta_enviada", days=3), contact("sem_resposta", days=1)]
    assert engagement_points(interactions, now=NOW) == 5 + 10


def test_it_gives_no_bonus_for_a_proposal_outside_the_window():
    assert engagement_points([contact("proposta_enviada", days=31)], now=NOW) == 0


def test_it_gives_the_bonus_when_a_proposal_ties_with_another_latest_contact():
    both = [contact("follow_up", days=1), contact("proposta_enviada", days=1)]
    assert engagement_points(both, now=NOW) == 20
    assert engagement_points(list(reversed(both)), now=NOW) == 20


def test_it_caps_engagement_at_twenty_five():
    interactions = [contact(days=d) for d in (2, 3, 4, 5, 6)] + [contact("agendamento", days=1)]
    assert engagement_points(interactions, now=NOW) == 25


# --- fit ------------------------------------------------------------------------------------------


def test_it_gives_ten_fit_points_from_the_organizations_ticket_alvo():
    assert fit_points(valor_potencial=TICKET, ticket_alvo=TICKET, origem="site") == 10
    assert fit_points(valor_potencial=TICKET - Decimal("0.01"), ticket_alvo=TICKET, origem="x") == 0
    assert (
        fit_points(valor_potencial=Decimal("5000"), ticket_alvo=Decimal("5000"), origem="x") == 10
    )
    assert fit_points(valor_potencial=None, ticket_alvo=TICKET, origem="site") == 0


def test_it_gives_five_fit_points_for_referrals():
    assert fit_points(valor_potencial=None, ticket_alvo=TICKET, origem="indicacao") == 5
    assert fit_points(valor_potencial=TICKET, ticket_alvo=TICKET, origem="indicacao") == 15
    assert fit_points(valor_potencial=None, ticket_alvo=TICKET, origem="Indicacao ") == 0


# --- lead_score -----------------------------------------------------------------------------------


def test_it_weighs_qualification_by_six_tenths():
    assert score(qualification_score=50) == 30
    assert score(qualification_score=100) == 60


def test_it_scores_zero_without_qualification():
    assert score(qualification_score=None) == 0
    assert score(qualification_score=None, origem="indicacao") == 5


@pytest.mark.parametrize(
    ("qualification", "expected"),
    [
        (12, 7),  # 7.2 rounds down
        (6, 4),  # 3.6 rounds up
        (31, 19),  # 18.6 rounds up
        (37, 22),  # 22.2 rounds down
        (43, 26),  # 25.8 rounds up
    ],
)
def test_it_rounds_to_the_nearest_integer(qualification, expected):
    assert score(qualification_score=qualification) == expected


def test_it_rounds_after_adding_engagement_and_fit():
    # 0.6 x 6 = 3.6, + 5 + 10 = 18.6 -> 19.
    assert score(qualification_score=6, interactions=[contact()], valor_potencial=TICKET) == 19


def test_it_reaches_exactly_one_hundred_at_the_maximum():
    interactions = [contact(days=d) for d in (2, 3, 4)] + [contact("agendamento", days=1)]
    assert (
        score(
            qualification_score=100,
            interactions=interactions,
            valor_potencial=TICKET,
            origem="indicacao",
        )
        == 100
    )


def test_it_caps_the_score_at_one_hundred():
    # Valid inputs top out at exactly 100; the cap guards out-of-range qualification scores
    # (0.6 x 120 + 25 + 15 = 112).
    interactions = [contact(days=d) for d in (2, 3, 4)] + [contact("agendamento", days=1)]
    overrides = {"interactions": interactions, "valor_potencial": TICKET, "origem": "indicacao"}
    assert score(qualification_score=120, **overrides) == 100
    assert score(qualification_score=90, **overrides) == 94


def test_it_scores_a_converted_lead_one_hundred():
    assert score(status="convertido") == 100
    assert score(status="perdido", qualification_score=50) == 30


@given(
    qualification=st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
    days=st.lists(st.floats(min_value=0, max_value=60), max_size=8),
    results=st.lists(
        st.sampled_from(["contato_realizado", "sem_resposta", "agendamento", "proposta_enviada"]),
        min_size=8,
        max_size=8,
    ),
    valor=st.one_of(st.none(), st.decimals(min_value=0, max_value=50000, places=2)),
    origem=st.sampled_from(["indicacao", "instagram"]),
)
def test_it_always_scores_between_zero_and_one_hundred(qualification, days, results, valor, origem):
    interactions = [contact(r, days=d) for d, r in zip(days, results, strict=False)]
    value = score(
        qualification_score=qualification,
        interactions=interactions,
        valor_potencial=valor,
        origem=origem,
    )
    assert 0 <= value <= 100
    assert value >= round(0.6 * (qualification or 0))


# --- temperatura ----------------------------------------------------------------------------------


def test_it_is_quente_at_seventy_with_a_contact_in_seven_days():
    assert temperatura(lead_score=70, last_contact_at=ago(1), now=NOW) == "quente"
    assert temperatura(lead_score=69, last_contact_at=ago(1), now=NOW) == "morno"


def test_it_counts_seven_days_as_elapsed_time_inclusive():
    assert temperatura(lead_score=80, last_contact_at=ago(7), now=NOW) == "quente"
    assert temperatura(lead_score=80, last_contact_at=ago(7) - SECOND, now=NOW) == "morno"
    assert temperatura(lead_score=80, last_contact_at=ago(8), now=NOW) == "morno"


def test_it_is_not_quente_without_any_contact():
    assert temperatura(lead_score=100, last_contact_at=None, now=NOW) == "morno"


def test_it_is_morno_from_forty_whatever_the_contact_age():
    assert temperatura(lead_score=40, last_contact_at=None, now=NOW) == "morno"
    assert temperatura(lead_score=40, last_contact_at=ago(90), now=NOW) == "morno"
    assert temperatura(lead_score=39, last_contact_at=None, now=NOW) == "frio"
    assert temperatura(lead_score=39, last_contact_at=ago(90), now=NOW) == "frio"


def test_it_is_morno_below_forty_with_a_contact_in_fourteen_days():
    assert temperatura(lead_score=0, last_contact_at=ago(14), now=NOW) == "morno"
    assert temperatura(lead_score=0, last_contact_at=ago(14) - SECOND, now=NOW) == "frio"
    assert temperatura(lead_score=39, last_contact_at=ago(15), now=NOW) == "frio"
    assert temperatura(lead_score=10, last_contact_at=ago(8), now=NOW) == "morno"


def test_it_treats_a_future_contact_as_zero_days_old():
    future = NOW + timedelta(hours=1)
    assert temperatura(lead_score=70, last_contact_at=future, now=NOW) == "quente"


def test_it_takes_the_last_contact_of_any_age_ignoring_sem_resposta():
    interactions = [
        contact("follow_up", days=45),
        contact("sem_resposta", days=1),
        contact("agendamento", days=20),
    ]
    assert last_contact_at(interactions) == ago(20)
    assert last_contact_at([contact("sem_resposta")]) is None
    assert last_contact_at([]) is None


def test_it_cools_a_lead_whose_only_recent_interactions_went_unanswered():
    interactions = [contact("sem_resposta", days=1), contact("agendamento", days=20)]
    value = score(qualification_score=100, interactions=interactions, valor_potencial=TICKET)
    # 60 + 5 (one contact in 30 days) + 10 (it is the latest contact) + 10 (ticket) = 85,
    # but the last real contact is 20 days old: not quente, and not frio because >= 40.
    assert value == 85
    assert temperatura(
        lead_score=value, last_contact_at=last_contact_at(interactions), now=NOW
    ) == ("morno")
