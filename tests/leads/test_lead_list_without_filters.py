"""The leads list skips django-filter when none of its parameters is given, and builds a
FilterSet of only the given ones otherwise (leads/api/views.py
GivenFiltersBackend): same answer as DRF's own loop over the whole LeadFilter."""

from __future__ import annotations

from typing import Any

import django_filters
import pytest
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend

from config.api.filters import StrictOrderingFilter
from leads.api import filters
from leads.api.views import LeadViewSet, _given_filters
from organizations.models import Membership
from tests.factories import LeadFactory

FILTER_NAMES = set(filters.LeadFilter.base_filters)
# django-filter's own backend over the whole LeadFilter: the reference answers.
DRF_BACKENDS = [DjangoFilterBackend, StrictOrderingFilter]

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the LeadFilter forms built (one per filtered request)."""
    calls: list[str] = []
    original = filters.LeadFilter.filter_queryset

    def counting(self: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        calls.append(",".join(sorted(self.data.keys())))
        return original(self, queryset)

    monkeypatch.setattr(filters.LeadFilter, "filter_queryset", counting)
    return calls


def test_without_filter_parameters_the_answer_is_the_same_without_the_form(
    org_a: Any, client_for: Any, built: list[str]
) -> None:
    for n in range(3):
        LeadFactory(organization=org_a.org, status="novo" if n else "qualificado")
    client = client_for(org_a.admin)
    for query in ("", "?ordering=nome_completo", "?page=1&page_size=2", "?cursor="):
        skipped = client.get(URL + query)
        assert skipped.status_code == 200, query
        assert built == [], query
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(LeadViewSet, "filter_backends", DRF_BACKENDS)
            regular = client.get(URL + query)
        assert built, query  # DRF's own loop built the form
        built.clear()
        assert skipped.content == regular.content, query


def test_a_filter_parameter_still_goes_through_django_filter(
    org_a: Any, client_for: Any, built: list[str]
) -> None:
    LeadFactory(organization=org_a.org, status="qualificado")
    LeadFactory(organization=org_a.org, status="novo")
    client = client_for(org_a.admin)
    response = client.get(URL, {"status": "qualificado"})
    assert [lead["status"] for lead in response.json()["data"]] == ["qualificado"]
    assert built == ["status"]
    assert client.get(URL, {"status": "nope"}).status_code == 400  # still validated


def _regular(client: Any, query: str) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LeadViewSet, "filter_backends", DRF_BACKENDS)
        return client.get(URL + query)


GIVEN_FILTERS = [
    "?status=novo",
    "?status=em_contato,qualificado&temperatura=quente&score_min=50",
    "?search=silva&ordering=nome_completo",
    "?tags=vip,evento&valor_min=10",
    "?closer_id=me&date_from=2020-01-01&date_to=2099-12-31",
    "?origem=instagram&closer_id=me&sdr_id=&page=1&limit=2",
    "?status=novo&cursor=",
    # invalid values: the same 400 bodies
    "?status=nope",
    "?score_min=101&temperatura=morno",
    "?date_from=ontem&search=ana",
    "?valor_min=-1&status=perdido,nope",
]


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The filters of each LeadFilter validated (one per filtered request)."""
    calls: list[list[str]] = []
    original = filters.LeadFilter.is_valid

    def recording(self: Any) -> bool:
        calls.append(sorted(self.filters))
        return original(self)

    monkeypatch.setattr(filters.LeadFilter, "is_valid", recording)
    return calls


@pytest.mark.parametrize("query", GIVEN_FILTERS)
def test_only_the_given_filters_take_part_with_the_same_answer(
    org_a: Any, client_for: Any, validated: list[list[str]], query: str
) -> None:
    for n in range(6):
        LeadFactory(
            organization=org_a.org,
            nome_completo=["Ana Silva", "Bruno"][n % 2],
            status=["novo", "qualificado", "em_contato"][n % 3],
            temperatura=["quente", "morno"][n % 2],
            lead_score=n * 20,
            tags=[["vip"], [], ["evento"]][n % 3],
            closer=org_a.closer if n % 2 else None,
            sdr=org_a.sdr if n % 3 else None,
        )
    client = client_for(org_a.closer)
    narrowed = client.get(URL + query)
    assert validated == [sorted(set(narrowed.wsgi_request.GET) & FILTER_NAMES)]
    regular = _regular(client, query)
    assert validated[1] == sorted(FILTER_NAMES)  # DRF's loop: the whole LeadFilter
    assert narrowed.status_code == regular.status_code
    assert narrowed.content == regular.content, query
    if narrowed.status_code == 200 and "cursor" not in query:
        assert narrowed.json()["data"], query  # the filters match something


def test_a_narrowed_filterset_builds_its_form_class_once(org_a: Any, client_for: Any) -> None:
    LeadFactory(organization=org_a.org, status="novo", lead_score=40)
    client = client_for(org_a.admin)
    narrowed = _given_filters(filters.LeadFilter, frozenset({"status", "score_min"}))
    narrowed._form_class = None  # as if new (another test may have built it)

    first = client.get(URL + "?status=novo&score_min=10")
    form_class = narrowed._form_class
    invalid = client.get(URL + "?status=qualificado&score_min=muito")
    again = client.get(URL + "?score_min=50&status=novo")

    assert first.status_code == 200
    assert len(first.json()["data"]) == 1
    assert form_class is not None
    assert narrowed._form_class is form_class
    assert invalid.status_code == 400
    assert "score_min" in invalid.json()["details"]
    assert again.status_code == 200
    assert again.json()["data"] == []


def test_a_filter_whose_field_depends_on_the_request_keeps_a_form_class_per_request() -> None:
    class MemberChoices(filters.LeadFilter):
        closer = django_filters.ModelChoiceFilter(
            queryset=lambda request: Membership.objects.none()
        )

    narrowed = _given_filters(MemberChoices, frozenset({"closer", "status"}))
    plain = _given_filters(MemberChoices, frozenset({"status"}))

    assert narrowed().get_form_class() is not narrowed().get_form_class()
    assert "_form_class" not in narrowed.__dict__
    assert plain().get_form_class() is plain().get_form_class()
