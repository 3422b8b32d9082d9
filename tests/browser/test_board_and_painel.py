"""The pipeline board and the painel in a real browser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import Page, expect

from leads import services
from leads.models import Lead, LeadStatusChange
from tests.factories import LeadFactory

BOARD = "/admin/leads/lead/board/"


def _staff(*members) -> None:
    for member in members:  # staff status until it follows the membership everywhere
        member.user.is_staff = True
        member.user.save(update_fields=["is_staff"])


def _column(page: Page, status: str):
    return page.locator(f'.bo-column[data-status="{status}"]')


def test_a_closer_sees_only_their_leads_on_the_board(
    page: Page, login: Callable[..., None], org_a, org_b
) -> None:
    _staff(org_a.closer)
    mine = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Ana Minha")
    LeadFactory(organization=org_a.org, closer=org_a.gestor, nome_completo="Bia do Gestor")
    LeadFactory(organization=org_b.org, closer=org_b.closer, nome_completo="Caio da Beta")
    login(page, org_a.closer)
    page.goto(BOARD)
    cards = page.locator(".bo-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Ana Minha")
    expect(page.locator(f"#card-{mine.pk}")).to_contain_text("R$ 15.000,00")
    expect(_column(page, "novo").locator(".bo-count")).to_have_text("1")
    expect(page.locator("body")).not_to_contain_text("Caio da Beta")


def test_dragging_a_card_changes_the_status_and_writes_the_history(
    page: Page, login: Callable[..., None], org_a
) -> None:
    _staff(org_a.closer)
    lead = LeadFactory(
        organization=org_a.org,
        closer=org_a.closer,
        nome_completo="Davi Arrasta",
        valor_potencial=Decimal("147000.00"),
    )
    login(page, org_a.closer)
    page.goto(BOARD)
    card = page.locator(f"#card-{lead.pk}")
    card.drag_to(_column(page, "agendado").locator(".bo-cards"))
    expect(_column(page, "agendado").locator(f"#card-{lead.pk}")).to_be_visible()
    expect(page.locator("#bo-feedback")).to_contain_text("Lead movido para Agendado")
    expect(_column(page, "agendado").locator(".bo-sum")).to_have_text("R$ 147.000,00")
    expect(_column(page, "novo").locator(".bo-count")).to_have_text("0")
    assert Lead.objects.get(pk=lead.pk).status == "agendado"
    change = LeadStatusChange.objects.get(lead=lead, to_status="agendado")
    assert change.from_status == "novo"
    assert change.changed_by == org_a.closer
    # Still there after a reload: the move was saved, not only drawn.
    page.reload()
    expect(_column(page, "agendado").locator(f"#card-{lead.pk}")).to_be_visible()


def test_the_card_menu_moves_a_lead_without_dragging(
    page: Page, login: Callable[..., None], org_a
) -> None:
    _staff(org_a.gestor)
    lead = LeadFactory(organization=org_a.org, nome_completo="Edu Teclado")
    login(page, org_a.gestor)
    page.goto(BOARD)
    page.locator(f"#card-{lead.pk} select.bo-move-select").select_option("qualificado")
    expect(_column(page, "qualificado").locator(f"#card-{lead.pk}")).to_be_visible()
    assert Lead.objects.get(pk=lead.pk).status == "qualificado"


def test_moving_to_perdido_asks_the_reason(page: Page, login: Callable[..., None], org_a) -> None:
    _staff(org_a.closer)
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Fabi Perde")
    login(page, org_a.closer)
    # Wide enough for every column at once: a drag does not scroll the board by itself here.
    page.set_viewport_size({"width": 2400, "height": 900})
    page.goto(BOARD)
    page.locator(f"#card-{lead.pk}").drag_to(_column(page, "perdido").locator(".bo-cards"))
    dialog = page.locator("#bo-lost-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Motivo da perda")
    # Cancelling leaves the lead where it was.
    dialog.get_by_role("button", name="Cancelar").click()
    expect(dialog).to_be_hidden()
    expect(_column(page, "novo").locator(f"#card-{lead.pk}")).to_be_visible()
    assert Lead.objects.get(pk=lead.pk).status == "novo"
    page.locator(f"#card-{lead.pk}").drag_to(_column(page, "perdido").locator(".bo-cards"))
    page.locator("#bo-lost-reason").fill("Sem orçamento este ano")
    dialog.get_by_role("button", name="Confirmar").click()
    expect(_column(page, "perdido").locator(f"#card-{lead.pk}")).to_be_visible()
    lead.refresh_from_db()
    assert lead.status == "perdido"
    assert lead.motivo_perda == "Sem orçamento este ano"


def test_a_refused_move_shows_the_apis_message(
    page: Page, login: Callable[..., None], org_a
) -> None:
    _staff(org_a.closer)
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Gabi Some")
    login(page, org_a.closer)
    page.goto(BOARD)
    Lead.objects.filter(pk=lead.pk).delete()  # gone meanwhile: the API answers 404
    page.locator(f"#card-{lead.pk} select.bo-move-select").select_option("agendado")
    expect(page.locator("#bo-feedback")).to_contain_text("não encontrado")
    expect(_column(page, "novo").locator(f"#card-{lead.pk}")).to_be_visible()


def _chart(page: Page, canvas: str, dataset: int = 0) -> list:
    return page.evaluate(
        "([id, n]) => Chart.getChart(document.getElementById(id)).data.datasets[n].data",
        [canvas, dataset],
    )


def test_the_painel_charts_show_the_api_dashboards_figures(
    page: Page, login: Callable[..., None], org_a
) -> None:
    _staff(org_a.gestor)
    for days, path, origem in (
        (2, ["em_contato", "qualificado"], "instagram"),
        (9, ["em_contato", "perdido"], "site"),
        (15, ["qualificado", "convertido"], "indicacao"),
        (16, [], "indicacao"),
    ):
        lead = LeadFactory(organization=org_a.org, closer=org_a.closer, origem=origem)
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=days))
        lead.refresh_from_db()
        for status in path:
            data = {"status": status}
            if status == "perdido":
                data["motivo_perda"] = "Sem orçamento"
            lead = services.lead_update(lead=lead, actor=org_a.closer, data=data)
    login(page, org_a.gestor)
    page.goto("/admin/painel/?period=30")
    expect(page.locator("#chart-funnel")).to_be_visible()
    api = page.evaluate(
        "async () => (await fetch('/api/v1/leads/performance/?period=30', "
        "{headers: {Accept: 'application/json'}})).json()"
    )
    assert _chart(page, "chart-funnel", 0) == [stage["entraram"] for stage in api["funnel"]]
    assert _chart(page, "chart-funnel", 1) == [stage["avancaram"] for stage in api["funnel"]]
    assert sum(_chart(page, "chart-weeks", 0)) == api["metrics"]["total_leads"] == 4
    assert sum(_chart(page, "chart-weeks", 1)) == api["metrics"]["leads_convertidos"] == 1
    assert sum(_chart(page, "chart-origens", 0)) == api["metrics"]["total_leads"]
    assert _chart(page, "chart-closers", 0) == [
        float(row["valor_convertido"]) for row in api["topClosers"]
    ]
    kpis = page.locator("#painel-kpis")
    expect(kpis.locator('[data-figure="total_leads"] .bo-kpi-value')).to_have_text("4")
    expect(kpis.locator('[data-figure="valor_total_convertido"] .bo-kpi-value')).to_have_text(
        "R$ 15.000,00"
    )
    # A number opens the list behind it.
    kpis.locator('[data-figure="leads_convertidos"] a').click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
