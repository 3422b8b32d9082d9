"""config.api.output: a kept output serializer writes what a new one writes."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from config.api import output
from leads.api.reports import SalesDashboardSerializer


def _body(*, with_nulls: bool) -> dict[str, Any]:
    at = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # 1 March in UTC, 28 February in São Paulo
    stage = {
        "status": "qualificado",
        "count": 3,
        "percentual": 37.5,
        "entraram": 4,
        "avancaram": 1,
        "taxa_avanco": None if with_nulls else 25.0,
        "tempo_medio_dias": None if with_nulls else 2.25,
    }
    return {
        "periodo": {
            "dias": 30,
            "inicio": at,
            "fim": at.replace(day=31, month=3),
            "closer_id": None if with_nulls else uuid.UUID(int=7),
            "sdr_id": None,
        },
        "metrics": {
            "total_leads": 8,
            "leads_qualificados": 3,
            "leads_convertidos": 1,
            "taxa_conversao": 12.5,
            "valor_total_convertido": Decimal("1500.5"),
            "ticket_medio": None if with_nulls else Decimal("1500.50"),
            "tempo_medio_conversao_dias": None if with_nulls else 3.5,
            "total_interacoes": 20,
            "leads_quentes": 2,
            "leads_mornos": 3,
            "leads_frios": 3,
            "score_medio": None if with_nulls else 51.25,
        },
        "funnel": [stage, {**stage, "status": "novo", "count": 5}],
        "topClosers": []
        if with_nulls
        else [
            {
                "closer_id": uuid.UUID(int=7),
                "nome_completo": "Ana Closer",
                "total_leads": 8,
                "convertidos": 1,
                "taxa_conversao": 12.5,
                "valor_convertido": Decimal("1500.50"),
                "total_interacoes": 20,
            }
        ],
        "atualizado_em": at,
    }


@pytest.mark.parametrize("with_nulls", [False, True])
def test_a_kept_serializer_writes_what_a_new_one_writes(with_nulls: bool) -> None:
    body = _body(with_nulls=with_nulls)
    # Kept first under one time zone, then used under another: the zone is asked per value.
    for zone in ("UTC", "America/Sao_Paulo", "Asia/Tokyo"):
        with timezone.override(zone):
            kept = output.represent(SalesDashboardSerializer, body)
            assert kept == dict(SalesDashboardSerializer(body).data)
    with timezone.override("America/Sao_Paulo"):
        written = output.represent(SalesDashboardSerializer, body)
    assert written["periodo"]["inicio"] == "2026-02-28T23:30:00-03:00"
    assert written["metrics"]["valor_total_convertido"] == "1500.50"


def test_one_instance_per_thread() -> None:
    mine = output.kept_serializer(SalesDashboardSerializer)
    assert output.kept_serializer(SalesDashboardSerializer) is mine
    theirs: list[Any] = []
    thread = threading.Thread(
        target=lambda: theirs.append(output.kept_serializer(SalesDashboardSerializer))
    )
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert isinstance(theirs[0], SalesDashboardSerializer)
