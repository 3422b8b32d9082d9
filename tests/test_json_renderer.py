"""The orjson JSON renderer (config/api/renderers.py) writes DRF's JSONRenderer's bytes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from config.api.renderers import JSONRenderer
from tests.factories import InteractionFactory, LeadFactory, QualificationFactory

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SERIALIZER: Any = None  # what a serializer's `data` carries along; not rendered


def drf(data: Any, media_type: str = "application/json") -> bytes:
    return renderers.JSONRenderer().render(data, media_type, {})


def ours(data: Any, media_type: str = "application/json") -> bytes:
    return JSONRenderer().render(data, media_type, {})


VALUES: list[Any] = [
    {"utc": dt.datetime(2026, 12, 5, 1, 2, 3, tzinfo=dt.UTC)},
    {"utc_micro": dt.datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=dt.UTC)},
    {"offset": dt.datetime(2026, 12, 5, 1, 2, 3, 120000, tzinfo=SAO_PAULO)},
    {"naive": dt.datetime(2026, 12, 5, 1, 2, 3)},  # noqa: DTZ001  (a naive value, on purpose)
    {"date": dt.date(2026, 2, 28), "time": dt.time(9, 30), "time_micro": dt.time(9, 30, 0, 5)},
    {"duration": dt.timedelta(days=1, seconds=3.5)},
    {"decimals": [Decimal("0"), Decimal("1234.50"), Decimal("-0.01"), Decimal("1E+2")]},
    {"decimals_small_large": [Decimal("0.00001"), Decimal("12345678901234567.89")]},
    {"uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"lazy": gettext_lazy("Busca"), "accents": "Conceição, ação, 😀"},
    {"separators": "linha\u2028parágrafo\u2029fim", "control": 'tab\there\nnl "q" \\'},
    {"ints": [0, -1, 2**53, 2**63 - 1], "bools": [True, False, None]},
    {"floats": [0.1, 1.5, -2.25, 100.0, 12.345678]},
    {1: "int key", "nested": {"list": [1, "a", None], "empty": {}, "empty_list": []}},
    ReturnDict(
        {"a": 1, "b": ReturnList([{"c": Decimal("2.50")}], serializer=SERIALIZER)},
        serializer=SERIALIZER,
    ),
    [{"tuple": (1, 2)}, "top-level list"],
    "a bare string",
    {"big_int": 2**70},  # beyond orjson: DRF's path
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_it_writes_drfs_bytes(value: Any) -> None:
    assert ours(value) == drf(value)


def test_an_indented_answer_is_drfs() -> None:
    value = {"a": [1, 2], "b": {"c": Decimal("1.10")}}
    media = "application/json; indent=4"
    assert ours(value, media) == drf(value, media)
    assert b"\n    " in ours(value, media)


def test_what_drf_refuses_it_refuses_the_same_way() -> None:
    aware_time = {"t": dt.time(9, 30, tzinfo=dt.UTC)}
    with pytest.raises(ValueError, match="timezone-aware"):
        drf(aware_time)
    with pytest.raises(ValueError, match="timezone-aware"):
        ours(aware_time)
    with pytest.raises(ValueError, match="Out of range float"):
        ours({"huge": Decimal("1E+400")})  # a float infinity: STRICT_JSON


def test_none_is_an_empty_body() -> None:
    assert ours(None) == drf(None) == b""


@pytest.mark.django_db
@override_settings(TIME_ZONE="America/Sao_Paulo")
def test_the_api_answers_with_it_byte_for_byte(org_a: Any, client_for: Any) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=123456)
    lead = LeadFactory(
        organization=org_a.org,
        closer=org_a.closer,
        valor_potencial=Decimal("1234.5"),
        tags=["vip", "ação"],
        observacoes="Observação\u2028com separador",
        last_interaction_at=now,
    )
    QualificationFactory(lead=lead, qualification_score=40)
    InteractionFactory(lead=lead, valor=Decimal("99.90"))
    client = client_for(org_a.admin)
    for path in (
        "/api/v1/leads/",
        f"/api/v1/leads/{lead.pk}/",
        f"/api/v1/leads/{lead.pk}/interactions/",
        "/api/v1/leads/performance/?period=30",
        "/api/v1/mentorados/dashboard/",
        "/api/v1/me/",
        "/api/v1/leads/?status=nope",  # an error body
    ):
        response = client.get(path, HTTP_ACCEPT="application/json")
        assert response.status_code in (200, 400), path
        assert response.accepted_renderer.__class__ is JSONRenderer, path
        assert response.content == drf(response.data), path
