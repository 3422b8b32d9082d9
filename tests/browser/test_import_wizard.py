"""The import wizard in a real browser: upload, mapping with preview, live progress, result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from leads import csv_io
from leads.jobs_import import run_lead_import
from leads.models import Lead, LeadImport, LeadImportStatus

ROWS = [
    ("Sérgio Dias", "sergio@x.com.br", "Em contato", "Indicação"),
    ("João Ávila", "joao@x.com.br", "Negociação", "Tráfego pago"),
    ("Ana Souza", "ana@x.com.br", "Novo", "Instagram"),
    ("Sem Email", "nao-e-email", "Ganho", ""),
    ("Bia Reis", "bia@x.com.br", "Qualificado", "Site"),
]


def test_the_import_wizard_from_upload_to_done(
    page: Page,
    login: Callable[..., None],
    org_a,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = org_a.admin
    admin.user.is_staff = True  # staff status until it follows the membership everywhere
    admin.user.save(update_fields=["is_staff"])
    csv_file = tmp_path / "clientes.csv"
    csv_file.write_text(
        "Nome;E-mail;Status;Origem\n" + "".join(";".join(row) + "\n" for row in ROWS),
        encoding="utf-8",
    )
    login(page, admin)

    page.goto("/admin/leads/leadimport/upload/")
    page.locator("input[type=file][name=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Enviar e conferir colunas").click()

    # Step 2: the Portuguese headers are recognised; the preview shows the rows and errors.
    expect(page.locator("select[name=col_0]")).to_have_value("nome_completo")
    expect(page.locator("select[name=col_1]")).to_have_value("email")
    expect(page.locator("select[name=col_2]")).to_have_value("status")
    preview = page.locator("#preview")
    expect(preview.locator("tbody tr")).to_have_count(5)
    expect(preview.locator("tr.invalid")).to_have_count(1)
    expect(preview.locator("tr.invalid")).to_contain_text("nao-e-email")
    expect(preview.locator("tr.invalid")).to_contain_text(
        "E-mail: Insira um endereço de email válido."
    )
    page.get_by_role("button", name="Importar").click()

    # Step 3: the job is queued; the bar starts at 0 of 5.
    bar = page.locator("#import-bar")
    expect(bar).to_have_attribute("max", "5")
    expect(bar).to_have_attribute("value", "0")
    expect(page.locator("#import-count")).to_contain_text("0 de 5 linhas")
    lead_import = LeadImport.objects.get()
    assert lead_import.status == LeadImportStatus.PENDING

    # The worker imports a first batch of 2 rows: the open page follows without a reload.
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 2)
    rows = csv_io.parse_csv(lead_import.content, delimiter=lead_import.delimiter).rows
    csv_io._import_next_batch(lead_import.pk, rows)  # one batch, as the job does in a loop
    expect(page.locator("#import-done")).to_have_text("2")
    expect(page.locator("#import-percent")).to_have_text("40")
    assert page.evaluate("document.getElementById('import-bar').value") == 2

    # The rest of the job: the page shows the result and the error report.
    run_lead_import(lead_import_id=str(lead_import.pk), organization_id=str(org_a.org.pk))
    expect(page.locator("#import-state")).to_have_text("Concluída")
    expect(page.locator("#import-done")).to_have_text("5")
    expect(page.locator("#import-created")).to_have_text("4")
    expect(page.locator("#import-invalid")).to_have_text("1")
    link = page.get_by_role("link", name="Baixar relatório de erros (CSV)")
    expect(link).to_be_visible()
    with page.expect_download() as download_info:
        link.click()
    report = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert "linha;campo;mensagem" in report
    assert "email" in report

    assert Lead.objects.get(email="sergio@x.com.br").status == "em_contato"
    assert Lead.objects.get(email="joao@x.com.br").origem == "trafego_pago"

    # Past imports are listed.
    page.goto("/admin/leads/leadimport/")
    expect(page.locator("#result_list")).to_contain_text("clientes.csv")
