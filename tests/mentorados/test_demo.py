"""`seed_demo` gives the mentee dashboard something real to show."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from leads.models import Lead
from mentorados.models import Mentorado
from mentorados.selectors import mentorado_dashboard
from mentorados.services import mentorado_refresh_figures, organization_nps_refresh
from organizations.demo import DEMO_SLUG
from organizations.models import Organization, OrganizationNps

pytestmark = pytest.mark.django_db


def test_it_seeds_mentees_with_a_year_of_history(capsys):
    call_command("seed_demo")
    assert "mentorados:" in capsys.readouterr().out
    org = Organization.objects.get(slug=DEMO_SLUG)
    converted = Lead.objects.for_org(org).filter(status="convertido")
    linked = Mentorado.objects.for_org(org).filter(lead__isnull=False)
    assert linked.count() == converted.count() > 0
    assert set(linked.values_list("lead_id", flat=True)) == set(
        converted.values_list("pk", flat=True)
    )

    dashboard = mentorado_dashboard(organization=org)
    assert dashboard["overview"]["ativos"] > 0
    assert dashboard["overview"]["cancelados"] > 0
    assert all(m["mentorados_reportando"] > 0 for m in dashboard["growth"]["meses"])
    assert dashboard["growth"]["crescimento_medio_12m"] is not None
    assert dashboard["engagement"]["media"] is not None
    assert dashboard["satisfaction"]["total_respostas"] > 0
    assert dashboard["satisfaction"]["nps"] is not None
    # The organization's stored NPS (painel card, API nps_atual) is there from the start: it
    # read "0 respostas" until the daily refresh, the feedbacks being bulk-created.
    stored_nps = OrganizationNps.objects.get(organization=org)
    assert stored_nps.respostas_90d > 0
    assert stored_nps.respostas_90d == organization_nps_refresh(organization=org).respostas_90d

    # The stored figures are those the services would compute.
    for mentee in Mentorado.objects.for_org(org).order_by("pk")[:15]:
        stored = (mentee.faturamento_atual, mentee.crescimento_percentual, mentee.engagement_score)
        refreshed = mentorado_refresh_figures(mentorado=mentee)
        assert stored == (
            refreshed.faturamento_atual,
            refreshed.crescimento_percentual,
            refreshed.engagement_score,
        )
