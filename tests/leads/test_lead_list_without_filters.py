"""The leads list skips django-filter when none of its parameters is given
(leads/api/views.py LeadViewSet.filter_queryset): same answer, no form built."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import QuerySet
from rest_framework.generics import GenericAPIView

from leads.api import filters
from leads.api.views import LeadViewSet
from tests.factories import LeadFactory

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
            patch.setattr(LeadViewSet, "filter_queryset", GenericAPIView.filter_queryset)
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
