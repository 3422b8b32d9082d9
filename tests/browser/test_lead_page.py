"""The lead's page (the 360° view) in a real browser: a closer records an interaction and sees
it in the timeline; a refused input shows the message and writes nothing; the page fits 390 px."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from playwright.sync_api import Page, expect

from leads import services
from leads.models import LeadInteraction, Task
from tests.factories import InteractionFactory, LeadFactory


def _lead(org_a):
    lead = LeadFactory(
        organization=org_a.org,
        closer=org_a.closer,
        nome_completo="Helena Timeline",
        valor_potencial=Decimal("147000.00"),
    )
    services.lead_update(lead=lead, actor=org_a.closer, data={"status": "em_contato"})
    InteractionFactory(lead=lead, closer=org_a.closer, resumo="Primeiro contato por telefone")
    return lead


def test_a_closer_adds_an_interaction_on_the_lead_page_and_sees_it_in_the_timeline(
    page: Page, login: Callable[..., None], org_a
) -> None:
    lead = _lead(org_a)
    login(page, org_a.closer)
    page.goto(f"/admin/leads/lead/{lead.pk}/change/")
    header = page.locator(".lp-header")
    expect(header).to_contain_text("Helena Timeline")
    expect(header).to_contain_text("Em contato")
    expect(header).to_contain_text("R$ 147.000,00")
    form = page.locator("#registrar-interacao")
    form.get_by_label("Tipo de interação").select_option("reuniao")
    form.get_by_label("Resultado").select_option("proposta_enviada")
    form.get_by_label("Resumo").fill("Apresentei a proposta na reunião")
    form.get_by_label("Próximo passo").fill("Ligar amanhã às 10h")
    with page.expect_navigation():
        form.get_by_role("button", name="Registrar interação").click()
    expect(page.locator("body")).to_contain_text("Interação registrada.")
    # Newest first: the task the next step created, then the interaction itself.
    items = page.locator("#linha-do-tempo .lp-item")
    expect(items.nth(0)).to_contain_text("Ligar amanhã às 10h")
    newest = items.nth(1)
    expect(newest).to_contain_text("Reunião · Proposta enviada")
    expect(newest).to_contain_text("Apresentei a proposta na reunião")
    expect(newest).to_contain_text(org_a.closer.nome_completo)
    # The dated next step became a task (the service's rule), shown in the header and timeline.
    expect(page.locator(".lp-header")).to_contain_text("Ligar amanhã às 10h")
    interaction = LeadInteraction.objects.get(lead=lead, resumo="Apresentei a proposta na reunião")
    assert interaction.closer == org_a.closer
    assert Task.objects.filter(lead=lead, origem_ref=f"interaction:{interaction.pk}").exists()


def test_a_refused_interaction_shows_the_message_and_writes_nothing(
    page: Page, login: Callable[..., None], org_a
) -> None:
    lead = _lead(org_a)
    before = LeadInteraction.objects.filter(lead=lead).count()
    login(page, org_a.closer)
    page.goto(f"/admin/leads/lead/{lead.pk}/change/")
    form = page.locator("#registrar-interacao")
    form.get_by_label("Resumo").fill("Do futuro")
    form.get_by_label("Data da interação").fill("2099-01-01T10:00")
    with page.expect_navigation():
        form.get_by_role("button", name="Registrar interação").click()
    expect(page.locator("#registrar-interacao [role=alert]")).to_contain_text(
        "A data da interação não pode estar no futuro."
    )
    expect(page.locator("#registrar-interacao").get_by_label("Resumo")).to_have_value("Do futuro")
    assert LeadInteraction.objects.filter(lead=lead).count() == before


def test_the_lead_page_fits_a_phone(page: Page, login: Callable[..., None], org_a) -> None:
    lead = _lead(org_a)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, org_a.closer)
    page.goto(f"/admin/leads/lead/{lead.pk}/change/")
    expect(page.locator("#linha-do-tempo")).to_contain_text("Primeiro contato por telefone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
