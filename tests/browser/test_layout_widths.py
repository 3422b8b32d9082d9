"""The back office fits the screens it is used on (issue 12, point 10).

The lead list's key columns (name, status, temperature, score, value, closer, last contact) are
visible without horizontal scrolling at 1,440 px; at 390 px (a phone) the painel, the board,
the lead list and "Meu dia" do not overflow the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from leads.models import Lead
from tests.factories import LeadFactory, TaskFactory

LIST = "/admin/leads/lead/"
KEY_COLUMNS = ["Nome", "Status", "Temperatura", "Score", "Valor", "Closer", "Último contato"]


def _leads(org) -> None:
    for n in range(12):
        lead = LeadFactory(
            organization=org.org,
            closer=org.closer,
            sdr=org.sdr,
            nome_completo=f"Maria Aparecida dos Santos Oliveira {n}",
            email=f"maria.aparecida.santos.oliveira{n}@empresa-de-exemplo.com.br",
            empresa="Comércio de Materiais de Construção Exemplo Ltda",
            valor_potencial=Decimal("1470000.00"),
            tags=["vip", "retorno", "evento"],
        )
        Lead.objects.filter(pk=lead.pk).update(
            last_interaction_at=timezone.now() - timedelta(days=n)
        )
    TaskFactory(responsavel=org.admin, titulo="Ligar para a Maria Aparecida", lead=lead)


def _page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_the_lead_list_key_columns_fit_1440px(
    page: Page, login: Callable[..., None], org_a
) -> None:
    _leads(org_a)
    login(page, org_a.admin)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(LIST)
    expect(page.locator("#result_list tbody tr")).to_have_count(12)
    assert _page_width(page) <= 1440
    table = page.locator("#result_list")
    box = table.bounding_box()
    assert box is not None
    headers = page.locator("#result_list thead th")
    texts = [t.strip() for t in headers.all_inner_texts()]
    for column in KEY_COLUMNS:
        header = headers.filter(has_text=column).first
        assert any(column in text for text in texts), (column, texts)
        cell = header.bounding_box()
        assert cell is not None
        # Fully inside the viewport, and not hidden behind the table's own scroll.
        assert cell["x"] >= 0, (column, cell)
        assert cell["x"] + cell["width"] <= 1440, (column, cell)
    # No box around the table scrolls sideways (a horizontal scrollbar of its own).
    scroller = page.evaluate(
        "() => { for (let e = document.querySelector('#result_list').parentElement; e;"
        " e = e.parentElement) { const x = getComputedStyle(e).overflowX;"
        " if ((x === 'auto' || x === 'scroll') && e.scrollWidth > e.clientWidth + 1)"
        " return [e.tagName, e.className, e.scrollWidth, e.clientWidth]; } return null; }"
    )
    assert scroller is None, scroller
    expect(page.locator("#result_list")).to_contain_text("R$ 1.470.000,00")


@pytest.mark.parametrize(
    "url", ["/admin/painel/", "/admin/leads/lead/board/", LIST, "/admin/meu-dia/"]
)
def test_pages_do_not_overflow_a_phone(
    page: Page, login: Callable[..., None], org_a, url: str
) -> None:
    _leads(org_a)
    login(page, org_a.admin)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert _page_width(page) <= 390, (url, _page_width(page))
