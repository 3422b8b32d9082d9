"""The import wizard in the admin, headers and values as users write them (file and API)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from leads import csv_io, importing
from leads.jobs_import import run_lead_import
from leads.models import Lead, LeadImport, LeadImportStatus

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/admin/leads/leadimport/upload/"
PT_CSV = (
    "Nome;E-mail;Telefone;Status;Origem;Empresa;Valor;Temperatura;Anotação interna\r\n"
    "Sérgio Dias;SERGIO@x.com.br;(11) 98765-4321;Em contato;Indicação;Acme;R$ 1.500,00;Quente;a\r\n"
    "Joana Reis;joana@x.com.br;;Negociação;Tráfego pago;;2500;Frio;b\r\n"
    "Sem Email;nao-e-email;;Ganho;;;;;c\r\n"
)


def admin_client(membership) -> Client:
    user = membership.user
    user.is_staff = True  # until staff status follows the membership everywhere
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run_job(lead_import: LeadImport) -> LeadImport:
    run_lead_import(
        lead_import_id=str(lead_import.pk), organization_id=str(lead_import.organization_id)
    )
    lead_import.refresh_from_db()
    return lead_import


def upload(client: Client, raw: bytes, name: str = "leads.csv", **extra):
    return client.post(UPLOAD_URL, {"file": SimpleUploadedFile(name, raw), **extra})


# --- headers and values ----------------------------------------------------------------------


def test_it_recognises_portuguese_headers():
    mapping = importing.suggest_mapping(
        ["Nome", "E-mail", "Telefone", "Status", "Origem", "Empresa", "Valor", "Temperatura", "?!"]
    )
    assert mapping.columns == [
        "nome_completo",
        "email",
        "telefone",
        "status",
        "origem",
        "empresa",
        "valor_potencial",
        "",
        "",
    ]
    assert mapping.unknown == ["?!"]  # temperatura is computed: known, left out


def test_a_field_comes_from_one_column_only():
    mapping = importing.suggest_mapping(["nome", "Nome completo"])
    assert mapping.columns == ["nome_completo", ""]
    assert mapping.repeated == ["Nome completo"]
    assert importing.mapping_problems(["nome_completo", "nome_completo"])
    assert importing.mapping_problems(["email"])  # no name column


def test_the_api_import_takes_headers_and_values_as_users_see_them(
    org_a, client_for, django_capture_on_commit_callbacks
):
    text = PT_CSV.replace(";Anotação interna", "").replace(";a\r\n", "\r\n")
    text = text.replace(";b\r\n", "\r\n").replace(";c\r\n", "\r\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.admin).post(
            "/api/v1/leads/import/",
            {"file": SimpleUploadedFile("leads.csv", text.encode())},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    lead_import = run_job(LeadImport.objects.get(pk=response.json()["id"]))
    assert (lead_import.created_count, lead_import.invalid_rows) == (2, 1)
    sergio = Lead.objects.get(nome_completo="Sérgio Dias")
    assert (sergio.status, sergio.origem, sergio.email) == (
        "em_contato",
        "indicacao",
        "sergio@x.com.br",
    )
    assert sergio.valor_potencial == Decimal("1500.00")
    joana = Lead.objects.get(nome_completo="Joana Reis")
    assert (joana.status, joana.origem) == ("negociacao", "trafego_pago")
    assert {e["field"] for e in lead_import.errors} == {"email", "status"}
    assert all(e["line"] == 4 for e in lead_import.errors)


def test_the_api_import_reads_xlsx(org_a, client_for, django_capture_on_commit_callbacks):
    raw = xlsx_bytes(
        [
            ["Nome", "Telefone", "Valor", "Status"],
            ["Ana Planilha", 11987654321, 15000.0, "Qualificado"],
            [None, None, None, None],
            ["Bia Planilha", "(21) 99876-5432", 99.9, "novo"],
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.closer).post(
            "/api/v1/leads/import/",
            {"file": SimpleUploadedFile("leads.xlsx", raw)},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    lead_import = run_job(LeadImport.objects.get(pk=response.json()["id"]))
    assert lead_import.created_count == 2, lead_import.errors
    ana = Lead.objects.get(nome_completo="Ana Planilha")
    assert ana.telefone == "+5511987654321"
    assert ana.valor_potencial == Decimal("15000.00")
    assert ana.status == "qualificado"
    assert ana.closer_id == org_a.closer.pk
    assert Lead.objects.get(nome_completo="Bia Planilha").valor_potencial == Decimal("99.90")


def test_a_broken_xlsx_is_a_400(org_a, client_for):
    response = client_for(org_a.admin).post(
        "/api/v1/leads/import/",
        {"file": SimpleUploadedFile("leads.xlsx", b"PK\x03\x04not really a zip")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "file" in response.json()["details"]
    assert LeadImport.objects.count() == 0


# --- the wizard ------------------------------------------------------------------------------


def test_the_wizard_from_upload_to_result(org_a, django_capture_on_commit_callbacks):
    client = admin_client(org_a.admin)
    response = upload(client, PT_CSV.encode("utf-8"))
    assert response.status_code == 302, response.content.decode()[:2000]
    draft = LeadImport.objects.get()
    assert draft.status == LeadImportStatus.DRAFT
    assert draft.total_rows == 3
    assert draft.column_mapping[:3] == ["nome_completo", "email", "telefone"]
    assert response["Location"] == f"/admin/leads/leadimport/{draft.pk}/mapping/"
    # Nothing runs before the columns are confirmed; drafts are not imports for the API.
    assert f"lead-import-{draft.pk}" not in django_rq.get_queue("default").job_ids

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "Sérgio Dias" in body
    assert "Prévia" in body
    assert "Ganho" in body  # the bad row is shown with its errors
    assert "nao-e-email" in body

    columns = {f"col_{i}": name for i, name in enumerate(draft.column_mapping)}
    columns["col_5"] = ""  # the user leaves Empresa out
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(response["Location"], {**columns, "run": "1"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == f"/admin/leads/leadimport/{draft.pk}/change/"
    lead_import = LeadImport.objects.get()
    assert lead_import.status == LeadImportStatus.PENDING
    assert lead_import.column_mapping[5] == ""
    assert f"lead-import-{draft.pk}" in django_rq.get_queue("default").job_ids

    progress = client.get(f"/admin/leads/leadimport/{draft.pk}/progress.json").json()
    assert (progress["processed_rows"], progress["total_rows"], progress["finished"]) == (
        0,
        3,
        False,
    )
    assert client.get(f"/admin/leads/leadimport/{draft.pk}/change/").status_code == 200

    run_job(lead_import)
    progress = client.get(f"/admin/leads/leadimport/{draft.pk}/progress.json").json()
    assert progress["status"] == "done"
    assert progress["finished"]
    assert (progress["processed_rows"], progress["percent"]) == (3, 100)
    assert (progress["created"], progress["invalid_rows"]) == (2, 1)
    assert Lead.objects.get(nome_completo="Sérgio Dias").empresa == ""  # column left out

    result = client.get(f"/admin/leads/leadimport/{draft.pk}/change/").content.decode()
    assert "Baixar relatório de erros" in result
    report = client.get(f"/admin/leads/leadimport/{draft.pk}/errors.csv")
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["linha", "campo", "mensagem"]
    assert {(row[0], row[1]) for row in rows[1:]} == {("4", "email"), ("4", "status")}

    listing = client.get("/admin/leads/leadimport/").content.decode()
    assert "leads.csv" in listing


def test_the_wizard_reads_xlsx_and_refuses_a_mapping_without_the_name(org_a):
    client = admin_client(org_a.gestor)
    raw = xlsx_bytes([["Cliente", "Celular"], ["Caio", "(11) 98888-7777"]])
    response = upload(client, raw, name="planilha.xlsx")
    assert response.status_code == 302
    draft = LeadImport.objects.get()
    assert draft.column_mapping == ["nome_completo", "telefone"]
    response = client.post(
        f"/admin/leads/leadimport/{draft.pk}/mapping/",
        {"col_0": "", "col_1": "telefone", "run": "1"},
    )
    assert response.status_code == 200
    assert "Escolha a coluna com o nome do lead." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == LeadImportStatus.DRAFT
    response = client.post(
        f"/admin/leads/leadimport/{draft.pk}/mapping/",
        {"col_0": "nome_completo", "col_1": "nome_completo", "run": "1"},
    )
    assert "Cada campo pode vir de uma coluna só" in response.content.decode()
    assert LeadImport.objects.get().status == LeadImportStatus.DRAFT


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "O arquivo submetido está"),  # Django's empty-file message
        (b"Nome;Email\r\n", "O arquivo não tem linhas de dados."),
        (b"PK\x03\x04junk", "Não foi possível ler a planilha."),
    ],
)
def test_the_wizard_answers_a_bad_file_with_a_form_error(org_a, raw, message):
    client = admin_client(org_a.admin)
    response = upload(client, raw)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert LeadImport.objects.count() == 0


def test_the_wizard_refuses_a_file_over_the_limit(org_a, settings):
    settings.LEADS_IMPORT_MAX_BYTES = 50
    response = upload(admin_client(org_a.admin), PT_CSV.encode())
    assert response.status_code == 200
    assert "passa do limite" in response.content.decode()
    assert LeadImport.objects.count() == 0


def test_drafts_are_not_imports_in_the_api(org_a, client_for):
    upload(admin_client(org_a.admin), PT_CSV.encode())
    draft = LeadImport.objects.get()
    client = client_for(org_a.admin)
    assert client.get(f"/api/v1/imports/{draft.pk}/").status_code == 404
    assert client.get("/api/v1/imports/").json()["data"] == []
    csv_io.lead_import_process(lead_import_id=draft.pk)  # a stray job run does nothing
    assert LeadImport.objects.get().status == LeadImportStatus.DRAFT


# --- who sees what -----------------------------------------------------------------------------


def _import_pages(lead_import: LeadImport) -> list[str]:
    base = f"/admin/leads/leadimport/{lead_import.pk}"
    return [f"{base}/mapping/", f"{base}/change/", f"{base}/progress.json", f"{base}/errors.csv"]


def test_another_organizations_import_is_a_404(org_a, org_b):
    upload(admin_client(org_b.admin), PT_CSV.encode())
    foreign = LeadImport.objects.get()
    client = admin_client(org_a.admin)
    for url in _import_pages(foreign):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(f"/admin/leads/leadimport/{foreign.pk}/mapping/", {"run": "1"}).status_code
        == 404
    )
    assert str(foreign.pk) not in client.get("/admin/leads/leadimport/").content.decode()
    # The organization choice offers only the member's own organizations.
    response = upload(client, PT_CSV.encode(), organization=str(org_b.org.pk))
    assert response.status_code == 200
    assert LeadImport.objects.count() == 1


def test_sellers_see_only_their_own_imports_and_mentors_none(org_a):
    upload(admin_client(org_a.admin), PT_CSV.encode())
    managers_import = LeadImport.objects.get()
    closer = admin_client(org_a.closer)
    for url in _import_pages(managers_import):
        assert closer.get(url).status_code == 404, url
    assert upload(closer, PT_CSV.encode()).status_code == 302
    own = LeadImport.objects.exclude(pk=managers_import.pk).get()
    assert own.created_by_id == org_a.closer.pk
    assert closer.get(f"/admin/leads/leadimport/{own.pk}/mapping/").status_code == 200
    gestor = admin_client(org_a.gestor)
    assert gestor.get(f"/admin/leads/leadimport/{own.pk}/mapping/").status_code == 200

    mentor = admin_client(org_a.mentor)
    assert mentor.get(UPLOAD_URL).status_code == 403
    assert mentor.get("/admin/leads/leadimport/").status_code == 403
    for url in _import_pages(own):
        assert mentor.get(url).status_code in (403, 404), url


def test_a_new_upload_deletes_the_uploaders_day_old_drafts(org_a):
    client = admin_client(org_a.admin)
    upload(client, PT_CSV.encode())
    upload(admin_client(org_a.gestor), PT_CSV.encode())
    old = LeadImport.objects.get(created_by=org_a.admin)
    LeadImport.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=2))
    upload(client, PT_CSV.encode())
    assert not LeadImport.objects.filter(pk=old.pk).exists()
    assert LeadImport.objects.filter(created_by=org_a.admin).count() == 1
    assert LeadImport.objects.filter(created_by=org_a.gestor).count() == 1  # not theirs
