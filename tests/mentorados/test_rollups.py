"""The mentee dashboard's rollups give the reference queries' figures after any history of writes.

Random histories of writes (through the services and through bulk QuerySet.update/delete, on two
organizations) are applied, then the dashboard and the NPS by month read from the rollups are
compared with the reference (the raw-row queries) for several periods and several "today"s,
with the type of every value.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentorados import services
from mentorados.models import (
    EvolucaoFinanceira,
    Mentorado,
    MentoradoFeedback,
    MentoradoStatus,
)
from mentorados.selectors import mentorado_dashboard, nps_by_month
from organizations.models import Organization
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

BASE = date(2026, 3, 15)
TODAYS = [BASE, date(2026, 3, 31), date(2025, 2, 1)]
PERIODS = [1, 12, 36]
STATUSES = [status.value for status in MentoradoStatus]

money = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
percent = st.one_of(st.none(), st.decimals(min_value=-100, max_value=Decimal("99999.99"), places=2))
create = st.tuples(
    st.just("create"),
    st.integers(0, 1),  # organization
    st.sampled_from(STATUSES),
    st.integers(-900, 60),  # data_inicio, days from BASE (some in the future)
    st.one_of(st.none(), st.integers(0, 500)),  # data_fim, days after data_inicio
    st.one_of(st.none(), money),
    percent,
    st.integers(0, 100),
)
update = st.tuples(
    st.just("update"),
    st.integers(0, 30),  # which mentee (modulo how many exist)
    st.sampled_from(STATUSES),
    st.one_of(st.none(), st.integers(0, 500)),
)
bulk = st.tuples(
    st.sampled_from(["bulk_engagement", "bulk_status", "bulk_delete", "bulk_money"]),
    st.integers(0, 1),
    st.integers(0, 100),
    st.sampled_from(STATUSES),
)
report = st.tuples(
    st.just("report"),
    st.integers(0, 30),
    st.integers(-38, 2),  # month, from BASE's month
    money,
)
feedback = st.tuples(
    st.just("feedback"),
    st.integers(0, 30),
    st.integers(-1200, 30),  # data_feedback, days from BASE
    st.integers(0, 10),
    st.integers(0, 10),
)
removal = st.tuples(
    st.sampled_from(
        ["delete", "report_delete", "feedback_delete", "reports_bulk", "feedbacks_bulk"]
    ),
    st.integers(0, 30),
)
operation = st.one_of(create, create, update, bulk, report, report, feedback, feedback, removal)


def _nth(queryset: Any, index: int) -> Any:
    rows = list(queryset.order_by("pk")[:40])
    return rows[index % len(rows)] if rows else None


def _create(orgs: list[Organization], op: tuple[Any, ...]) -> None:
    _kind, org, status, start, end, fat, growth, score = op
    inicio = BASE + timedelta(days=start)
    services.mentorado_create(
        organization=orgs[org],
        actor=None,
        data={
            "nome_completo": "Mentorado",
            "status": status,
            "data_inicio": inicio,
            "data_fim": None if end is None else inicio + timedelta(days=end),
            "faturamento_atual": fat,
            "crescimento_percentual": growth,
            "engagement_score": score,
        },
    )


def _update(orgs: list[Organization], op: tuple[Any, ...]) -> None:
    mentee = _nth(Mentorado.objects.filter(organization__in=orgs), op[1])
    if mentee is None:
        return
    data: dict[str, Any] = {"status": op[2]}
    if op[3] is not None:
        data["data_fim"] = mentee.data_inicio + timedelta(days=op[3])
    services.mentorado_update(mentorado=mentee, actor=None, data=data)


def _bulk(orgs: list[Organization], op: tuple[Any, ...]) -> None:
    kind, org, value, status = op
    some = Mentorado.objects.filter(organization=orgs[org], engagement_score__lte=value)
    if kind == "bulk_engagement":  # the daily job writes many scores at once
        some.update(engagement_score=100 - value)
    elif kind == "bulk_status":
        some.update(status=status)
    elif kind == "bulk_money":
        some.update(faturamento_atual=F("faturamento_atual") + 1, crescimento_percentual=value)
    else:
        some.delete()


def _report(orgs: list[Organization], op: tuple[Any, ...]) -> None:
    mentee = _nth(Mentorado.objects.filter(organization__in=orgs), op[1])
    if mentee is None:
        return
    index = BASE.year * 12 + BASE.month - 1 + op[2]
    services.evolucao_upsert(
        mentorado=mentee,
        actor=None,
        data={"ano": index // 12, "mes": index % 12 + 1, "faturamento": op[3]},
    )


def _feedback(orgs: list[Organization], op: tuple[Any, ...]) -> None:
    mentee = _nth(Mentorado.objects.filter(organization__in=orgs), op[1])
    if mentee is None:
        return
    data = {"data_feedback": BASE + timedelta(days=op[2]), "nota_nps": op[3], "nota_geral": op[4]}
    if op[1] % 2:
        services.feedback_create(mentorado=mentee, actor=None, data=data)
    else:
        MentoradoFeedback.objects.create(
            organization_id=mentee.organization_id, mentorado=mentee, **data
        )


def _remove(orgs: list[Organization], op: tuple[Any, ...]) -> None:
    kind, index = op
    reports = EvolucaoFinanceira.objects.filter(organization__in=orgs)
    feedbacks = MentoradoFeedback.objects.filter(organization__in=orgs)
    if kind == "reports_bulk":  # a bulk correction of every other month
        reports.filter(mes__in=[1, 3, 5, 7, 9, 11]).update(faturamento=F("faturamento") * 2)
        return
    if kind == "feedbacks_bulk":
        feedbacks.filter(nota_nps__gte=index % 11).update(nota_nps=index % 11, nota_geral=3)
        return
    if kind == "delete":
        found = _nth(Mentorado.objects.filter(organization__in=orgs), index)
        if found is not None:
            services.mentorado_delete(mentorado=found, actor=None)
    elif kind == "report_delete":
        found = _nth(reports, index)
        if found is not None:
            services.evolucao_delete(evolucao=found, actor=None)
    else:
        found = _nth(feedbacks, index)
        if found is not None:
            services.feedback_delete(feedback=found, actor=None)


APPLY = {
    "create": _create,
    "update": _update,
    "report": _report,
    "feedback": _feedback,
    **dict.fromkeys(["bulk_engagement", "bulk_status", "bulk_delete", "bulk_money"], _bulk),
    **dict.fromkeys(
        ["delete", "report_delete", "feedback_delete", "reports_bulk", "feedbacks_bulk"], _remove
    ),
}


def _typed(value: Any) -> Any:
    """`value` with the type of every leaf: 5 and Decimal(5) compare equal, their JSON does not."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_typed(item) for item in value]
    return (type(value).__name__, repr(value))


def _figures(organization: Organization, *, from_rollups: bool) -> list[Any]:
    found: list[Any] = []
    for today in TODAYS:
        for period in PERIODS:
            dashboard = mentorado_dashboard(
                organization=organization, period=period, today=today, from_rollups=from_rollups
            )
            dashboard.pop("atualizado_em")
            months = nps_by_month(
                organization=organization, period=period, today=today, from_rollups=from_rollups
            )
            found.append((today, period, dashboard, months))
    return _typed(found)


def assert_rollups_match(*organizations: Organization) -> None:
    for organization in organizations:
        assert _figures(organization, from_rollups=True) == _figures(
            organization, from_rollups=False
        )


@pytest.mark.heavy
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(operation, min_size=1, max_size=14))
def test_the_rollups_give_the_reference_figures_after_any_history(
    operations: list[tuple[Any, ...]],
) -> None:
    with transaction.atomic():
        orgs = [OrganizationFactory(), OrganizationFactory()]
        for op in operations:
            APPLY[op[0]](orgs, op)
        assert_rollups_match(*orgs)
        transaction.set_rollback(True)
