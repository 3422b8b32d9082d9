"""Brazilian number and money formatting in the back office (issue 12, points 5 and 10).

pt-BR pages write "R$ 147.000,00" and group counts ("1.500"); a page asked for in English
writes "R$ 147,000.00"; numbers that are codes (a year, an id in an attribute) are never grouped.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import translation

from config import formatting
from leads.models import LeadImport
from tests.admin_support import login
from tests.factories import LeadFactory
from tests.mentorados.factories import EvolucaoFactory, MentoradoFactory

pytestmark = pytest.mark.django_db


def test_it_formats_money_and_numbers_per_language() -> None:
    with translation.override("pt-br"):
        assert formatting.money(Decimal("147000")) == "R$ 147.000,00"
        assert formatting.number(1500) == "1.500"
        assert formatting.percent(Decimal("12.5")) == "12,5%"
        assert formatting.money(None) == "—"
    with translation.override("en"):
        assert formatting.money(Decimal("147000")) == "R$ 147,000.00"
        assert formatting.number(1500) == "1,500"


def test_it_shows_the_lead_list_value_as_brazilian_money(org_a) -> None:
    LeadFactory(organization=org_a.org, nome_completo="Ana Rica", valor_potencial=Decimal("147000"))
    client = login(org_a.admin)
    html = client.get("/admin/leads/lead/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "R$ 147.000,00" in html
    assert "147000" not in html

    english = client.get("/admin/leads/lead/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "R$ 147,000.00" in english


def test_it_groups_mentee_money_and_never_a_year(org_a) -> None:
    mentorado = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    EvolucaoFactory(mentorado=mentorado, ano=2026, mes=3, faturamento=Decimal("25400.5"))
    client = login(org_a.admin)
    html = client.get(
        "/admin/mentorados/evolucaofinanceira/", HTTP_ACCEPT_LANGUAGE="pt-br"
    ).content.decode()
    assert "R$ 25.400,50" in html
    assert "2026" in html
    assert "2.026" not in html


def test_it_keeps_numbers_meant_for_code_plain(org_a) -> None:
    """The import's progress bar and the board's counts feed JavaScript: never "1.500"."""
    lead_import = LeadImport.objects.create(
        organization=org_a.org,
        created_by=org_a.admin,
        content="nome\nAna\n",
        filename="a.csv",
        total_rows=2500,
        processed_rows=1500,
        status="running",
    )
    client = login(org_a.admin)
    html = client.get(
        f"/admin/leads/leadimport/{lead_import.pk}/change/", HTTP_ACCEPT_LANGUAGE="pt-br"
    ).content.decode()
    assert re.search(r'max="2500" value="1500"', html), html
    assert "1.500" in html  # the visible count is grouped


def test_the_lead_list_filters_by_closer_and_tag(org_a, org_b) -> None:
    LeadFactory(organization=org_a.org, nome_completo="Ana Vip", closer=org_a.closer, tags=["vip"])
    LeadFactory(
        organization=org_a.org, nome_completo="Bia Fria", closer=org_a.gestor, tags=["frio"]
    )
    LeadFactory(organization=org_b.org, nome_completo="Caio Beta", tags=["beta-secreta"])
    client = login(org_a.admin)
    page = client.get("/admin/leads/lead/").content.decode()
    assert "?tag=vip" in page
    assert "?tag=frio" in page
    assert "beta-secreta" not in page  # another organization's tags are never offered

    by_tag = client.get("/admin/leads/lead/?tag=vip").content.decode()
    assert "Ana Vip" in by_tag
    assert "Bia Fria" not in by_tag
    by_closer = client.get(f"/admin/leads/lead/?closer__id__exact={org_a.closer.pk}")
    assert by_closer.status_code == 200
    assert "Ana Vip" in by_closer.content.decode()
    assert "Bia Fria" not in by_closer.content.decode()
