"""CSV import (upload, job, progress) and export (filters, visibility, formats, streaming)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rq import SimpleWorker

from leads import csv_io, signals
from leads.jobs_import import run_lead_import
from leads.models import Lead, LeadImport, LeadStatusChange
from organizations.models import Organization
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/leads/import/"
EXPORT_URL = "/api/v1/leads/export/"

SEMICOLON_CSV = (
    "\ufeffNome_Completo;Email;Telefone;Empresa;Origem;Valor_Potencial;Tags;Status\r\n"
    "Ana Souza;ANA@Exemplo.com.br;(11) 98765-4321;Acme;Instagram;R$ 15.000,00;vip, evento;novo\r\n"
    "Bruno Lima;bruno@exemplo.com.br;11 3333-4444;;indicacao;2500,5;;qualificado\r\n"
    ";;;;;;;\r\n"
    "João Ávila;joao@exemplo.com.br;;Padaria São João;site;1.500;;convertido\r\n"
)


def upload(client, text: str | bytes, name: str = "leads.csv"):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(
        IMPORT_URL, {"file": SimpleUploadedFile(name, raw, content_type="text/csv")},
        format="multipart",
    )  # fmt: skip


def import_now(client, text, django_capture_on_commit_callbacks) -> LeadImport:
    """Upload and run the job synchronously (as the worker would)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, text)
    assert response.status_code == 202, response.content
    lead_import = LeadImport.objects.get(pk=response.json()["id"])
    run_lead_import(
        lead_import_id=str(lead_import.pk), organization_id=str(lead_import.organization_id)
    )
    lead_import.refresh_from_db()
    return lead_import


def progress(client, lead_import) -> dict:
    response = client.get(f"/api/v1/imports/{lead_import.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


# --- import: success ---------------------------------------------------------------------


def test_it_accepts_an_upload_and_enqueues_the_job(
    org_a, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_for(org_a.admin), SEMICOLON_CSV)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    lead_import = LeadImport.objects.get(pk=body["id"])
    assert lead_import.total_rows == 3  # the blank row is not a row
    assert lead_import.delimiter == ";"
    queue = django_rq.get_queue("default")
    assert f"lead-import-{lead_import.pk}" in queue.job_ids
    assert Lead.objects.count() == 0  # nothing imported before the job runs


def test_a_real_worker_imports_the_upload(org_a, client_for, django_capture_on_commit_callbacks):
    client = client_for(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        lead_id = upload(client, SEMICOLON_CSV).json()["id"]
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    body = progress(client, LeadImport.objects.get(pk=lead_id))
    assert body["status"] == "done", body
    assert (body["created"], body["duplicates_skipped"], body["invalid_rows"]) == (3, 0, 0)
    assert body["processed_rows"] == body["total_rows"] == 3
    assert body["finished_at"] is not None


def test_it_normalizes_rows_like_the_api(org_a, client_for, django_capture_on_commit_callbacks):
    lead_import = import_now(
        client_for(org_a.admin), SEMICOLON_CSV, django_capture_on_commit_callbacks
    )
    assert lead_import.created_count == 3
    ana = Lead.objects.get(nome_completo="Ana Souza")
    assert ana.organization_id == org_a.org.pk
    assert ana.email == "ana@exemplo.com.br"
    assert ana.telefone == "+5511987654321"
    assert ana.telefone_chave  # the WhatsApp match key is set as on an API create
    assert ana.origem == "instagram"
    assert ana.valor_potencial == Decimal("15000.00")
    assert ana.tags == ["vip", "evento"]
    assert ana.closer_id is None  # a manager's import is not assigned
    bruno = Lead.objects.get(nome_completo="Bruno Lima")
    assert bruno.telefone == "+551133334444"
    assert bruno.valor_potencial == Decimal("2500.50")
    assert bruno.status == "qualificado"
    joao = Lead.objects.get(nome_completo="João Ávila")
    assert joao.valor_potencial == Decimal("1500.00")
    assert joao.status == "convertido"
    assert joao.converted_at is not None
    assert joao.valor_fechado == Decimal("1500.00")
    # Status history starts like an API create, so the dashboard's funnel sees them.
    assert LeadStatusChange.objects.filter(
        lead=bruno, from_status="", to_status="qualificado"
    ).exists()


def test_it_reads_comma_separated_and_windows_1252_files(
    org_a, client_for, django_capture_on_commit_callbacks
):
    text = (
        'nome_completo,email,valor_potencial,tags\r\n"Souza, Ana",ana@x.com.br,15000.00,"a;b"\r\n'
    )
    lead_import = import_now(client_for(org_a.admin), text, django_capture_on_commit_callbacks)
    assert lead_import.delimiter == ","
    lead = Lead.objects.get(email="ana@x.com.br")
    assert lead.nome_completo == "Souza, Ana"
    assert lead.valor_potencial == Decimal("15000.00")
    assert lead.tags == ["a", "b"]
    latin = "nome_completo;email\r\nConceição Araújo;c@x.com.br\r\n".encode("cp1252")
    import_now(client_for(org_a.admin), latin, django_capture_on_commit_callbacks)
    assert Lead.objects.get(email="c@x.com.br").nome_completo == "Conceição Araújo"


def test_it_assigns_a_sellers_import_to_them(org_a, client_for, django_capture_on_commit_callbacks):
    import_now(client_for(org_a.closer), "nome_completo\nAna\n", django_capture_on_commit_callbacks)
    import_now(client_for(org_a.sdr), "nome_completo\nBia\n", django_capture_on_commit_callbacks)
    assert Lead.objects.get(nome_completo="Ana").closer_id == org_a.closer.pk
    assert Lead.objects.get(nome_completo="Bia").sdr_id == org_a.sdr.pk


def test_it_sends_the_lead_hooks(org_a, client_for, django_capture_on_commit_callbacks):
    created, converted = [], []

    def on_created(sender, lead, actor, **kwargs):
        created.append(lead.nome_completo)

    def on_converted(sender, lead, actor, **kwargs):
        converted.append(lead.nome_completo)

    signals.lead_created.connect(on_created)
    signals.lead_converted.connect(on_converted)
    try:
        import_now(client_for(org_a.admin), SEMICOLON_CSV, django_capture_on_commit_callbacks)
    finally:
        signals.lead_created.disconnect(on_created)
        signals.lead_converted.disconnect(on_converted)
    assert sorted(created) == ["Ana Souza", "Bruno Lima", "João Ávila"]
    assert converted == ["João Ávila"]


# --- import: duplicates, errors, idempotency -----------------------------------------------


def test_it_skips_duplicates_of_the_organization_and_of_the_file(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    LeadFactory(organization=org_a.org, email="existe@x.com.br")
    LeadFactory(organization=org_a.org, telefone="+5511912345678")
    LeadFactory(organization=org_b.org, email="outra@x.com.br")  # another org: not a duplicate
    text = (
        "nome_completo;email;telefone\n"
        "A;existe@x.com.br;\n"
        "B;;11 91234-5678\n"
        "C;nova@x.com.br;\n"
        "D;NOVA@x.com.br;\n"
        "E;outra@x.com.br;\n"
    )
    lead_import = import_now(client_for(org_a.admin), text, django_capture_on_commit_callbacks)
    assert (lead_import.created_count, lead_import.duplicates_skipped) == (2, 3)
    assert (
        Lead.objects.filter(
            organization=org_a.org, email__in=["nova@x.com.br", "outra@x.com.br"]
        ).count()
        == 2
    )


def test_it_reports_invalid_rows_by_line_and_field(
    org_a, client_for, django_capture_on_commit_callbacks
):
    text = (
        "nome_completo;email;telefone;status;valor_potencial;origem\n"
        "Boa;boa@x.com.br;;novo;100;site\n"
        ";sem-nome@x.com.br;;;;\n"
        "Ruim;nao-e-email;123;ganho;abc;@@\n"
        '"Várias\nlinhas";multi@x.com.br;;;;\n'
        "Extra;extra@x.com.br;;;;;sobrando\n"
    )
    client = client_for(org_a.admin)
    lead_import = import_now(client, text, django_capture_on_commit_callbacks)
    assert (lead_import.created_count, lead_import.invalid_rows) == (2, 3)
    errors = progress(client, lead_import)["errors"]
    fields_by_line: dict[Any, Any] = {}
    for error in errors:
        assert error["message"]
        fields_by_line.setdefault(error["line"], set()).add(error["field"])
    assert fields_by_line == {
        3: {"nome_completo"},
        4: {"email", "telefone", "status", "valor_potencial", "origem"},
        7: {"linha"},
    }
    assert Lead.objects.filter(email="multi@x.com.br").exists()  # quoted newline is one row


def test_running_a_finished_import_again_does_nothing(
    org_a, client_for, django_capture_on_commit_callbacks
):
    lead_import = import_now(
        client_for(org_a.admin), SEMICOLON_CSV, django_capture_on_commit_callbacks
    )
    finished_at = lead_import.finished_at
    run_lead_import(lead_import_id=str(lead_import.pk), organization_id=str(org_a.org.pk))
    lead_import.refresh_from_db()
    assert Lead.objects.count() == 3
    assert (lead_import.created_count, lead_import.duplicates_skipped) == (3, 0)
    assert lead_import.finished_at == finished_at


def test_a_crashed_import_resumes_without_duplicates(
    org_a, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 2)
    text = "nome_completo;email\n" + "".join(f"Lead {i};l{i}@x.com.br\n" for i in range(7))

    def crash(sender, lead, **kwargs):
        if lead.nome_completo == "Lead 3":  # second batch
            raise RuntimeError("worker died")

    signals.lead_created.connect(crash)
    client = client_for(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        lead_id = upload(client, text).json()["id"]
    try:
        with pytest.raises(RuntimeError):
            run_lead_import(lead_import_id=lead_id, organization_id=str(org_a.org.pk))
    finally:
        signals.lead_created.disconnect(crash)
    lead_import = LeadImport.objects.get(pk=lead_id)
    assert lead_import.status == "failed"
    assert "worker died" in progress(client, lead_import)["error_message"]
    assert (lead_import.processed_rows, lead_import.created_count) == (2, 2)
    assert Lead.objects.count() == 2  # the failed batch left nothing behind

    run_lead_import(lead_import_id=lead_id, organization_id=str(org_a.org.pk))
    lead_import.refresh_from_db()
    assert lead_import.status == "done"
    assert (lead_import.created_count, lead_import.duplicates_skipped) == (7, 0)
    assert Lead.objects.count() == 7
    assert LeadStatusChange.objects.count() == 7


# --- import: bad input, roles, organizations -----------------------------------------------


@pytest.mark.parametrize(
    ("content", "detail_key"),
    [
        ("", "file"),
        ("\n\n", "file"),
        ("email;telefone\na@x.com;\n", "header"),
        ("nome_completo;telefon\nA;1\n", "header"),
        ("nome_completo;email;email\nA;a@x;b@x\n", "header"),
        ("nome_completo\n", "file"),
        (b"nome_completo\n\x81\x8d\x8f\n", "file"),
    ],
)
def test_it_rejects_an_unreadable_file(org_a, client_for, content, detail_key):
    response = upload(client_for(org_a.admin), content)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]
    assert detail_key in body["details"]
    assert LeadImport.objects.count() == 0


def test_it_requires_the_file_field(org_a, client_for):
    response = client_for(org_a.admin).post(IMPORT_URL, {"arquivo": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["details"]
    assert LeadImport.objects.count() == 0


def test_it_wants_multipart(org_a, client_for):
    response = client_for(org_a.admin).post(IMPORT_URL, {"file": "nome_completo\nA"}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]


def test_it_refuses_a_file_over_the_limit(org_a, client_for, settings):
    settings.LEADS_IMPORT_MAX_BYTES = 100
    response = upload(client_for(org_a.admin), "nome_completo\n" + "Ana Souza\n" * 20)
    assert response.status_code == 413
    assert response.json()["error"]
    assert LeadImport.objects.count() == 0


def test_it_refuses_an_oversized_body_before_reading_it(org_a, client_for, settings):
    settings.LEADS_IMPORT_MAX_BYTES = 100
    response = upload(client_for(org_a.admin), "nome_completo\n" + "Ana Souza\n" * 10_000)
    assert response.status_code == 413
    assert LeadImport.objects.count() == 0


def test_it_refuses_too_many_rows(org_a, client_for, settings):
    settings.LEADS_IMPORT_MAX_ROWS = 3
    response = upload(client_for(org_a.admin), "nome_completo\n" + "Ana\n" * 4)
    assert response.status_code == 400
    assert LeadImport.objects.count() == 0


def test_mentors_cannot_import(org_a, client_for):
    response = upload(client_for(org_a.mentor), "nome_completo\nAna\n")
    assert response.status_code == 403
    assert LeadImport.objects.count() == 0


def test_imports_of_another_organization_are_a_404(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    lead_import = import_now(
        client_for(org_b.admin), "nome_completo\nAna\n", django_capture_on_commit_callbacks
    )
    response = client_for(org_a.admin).get(f"/api/v1/imports/{lead_import.pk}/")
    assert response.status_code == 404
    assert client_for(org_a.admin).get("/api/v1/imports/").json()["data"] == []
    assert Lead.objects.get(nome_completo="Ana").organization_id == org_b.org.pk


def test_sellers_see_only_their_own_imports(org_a, client_for, django_capture_on_commit_callbacks):
    mine = import_now(
        client_for(org_a.closer), "nome_completo\nAna\n", django_capture_on_commit_callbacks
    )
    theirs = import_now(
        client_for(org_a.admin), "nome_completo\nBia\n", django_capture_on_commit_callbacks
    )
    closer = client_for(org_a.closer)
    assert closer.get(f"/api/v1/imports/{mine.pk}/").status_code == 200
    assert closer.get(f"/api/v1/imports/{theirs.pk}/").status_code == 404
    assert [row["id"] for row in closer.get("/api/v1/imports/").json()["data"]] == [str(mine.pk)]
    assert client_for(org_a.gestor).get(f"/api/v1/imports/{mine.pk}/").status_code == 200
    assert client_for(org_a.mentor).get(f"/api/v1/imports/{mine.pk}/").status_code == 403


def test_an_unknown_or_malformed_import_id_is_a_404(org_a, client_for):
    client = client_for(org_a.admin)
    assert client.get("/api/v1/imports/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/api/v1/imports/nope/").status_code == 404


def test_the_imports_list_does_not_grow_queries_with_page_size(org_a, client_for):
    for _ in range(5):
        LeadImport.objects.create(organization=org_a.org, created_by=org_a.admin, content="x")
    client = client_for(org_a.admin)
    client.get("/api/v1/imports/")
    with CaptureQueriesContext(connection) as one:
        assert len(client.get("/api/v1/imports/", {"limit": 1}).json()["data"]) == 1
    with CaptureQueriesContext(connection) as hundred:
        assert len(client.get("/api/v1/imports/", {"limit": 100}).json()["data"]) == 5
    assert len(one) == len(hundred)


# --- pure helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15000.00", "15000.00"),
        ("15000,00", "15000.00"),
        ("15.000,00", "15000.00"),
        ("R$ 15.000,00", "15000.00"),
        ("1.500", "1500"),
        ("1.500.000", "1500000"),
        ("2500,5", "2500.5"),
        ("12.5", "12.5"),
        ("abc", "abc"),
    ],
)
def test_it_reads_brazilian_money(text, expected):
    assert csv_io.parse_money(text) == expected


# --- export ---------------------------------------------------------------------------------


def read_export(response) -> tuple[str, list[list[str]]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    delimiter = ";" if text.startswith("\ufeff") else ","
    return text, list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))


def test_it_exports_excel_friendly_csv_by_default(org_a, client_for):
    LeadFactory(
        organization=org_a.org,
        nome_completo='=HYPERLINK("x")',
        valor_potencial=Decimal("15000.5"),
        tags=["vip", "evento"],
        closer=org_a.closer,
    )
    text, rows = read_export(client_for(org_a.admin).get(EXPORT_URL))
    assert text.startswith("\ufeff")
    header, row = rows
    assert header == list(csv_io.EXPORT_COLUMNS)
    record = dict(zip(header, row, strict=True))
    assert record["nome_completo"] == '\'=HYPERLINK("x")'  # not run as a formula
    assert record["valor_potencial"] == "15000,50"
    assert record["tags"] == "vip, evento"
    assert record["closer"] == org_a.closer.nome_completo
    assert record["telefone"].startswith("+55")
    assert record["created_at"].endswith("Z")


def test_it_exports_plain_csv_on_request(org_a, client_for):
    LeadFactory(organization=org_a.org, valor_potencial=Decimal("15000.5"))
    text, rows = read_export(client_for(org_a.admin).get(EXPORT_URL, {"formato": "csv"}))
    assert not text.startswith("\ufeff")
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["valor_potencial"] == "15000.50"


def test_it_applies_the_list_filters_and_ordering(org_a, client_for):
    LeadFactory(organization=org_a.org, nome_completo="Quente", status="qualificado", lead_score=80)
    LeadFactory(organization=org_a.org, nome_completo="Frio", status="novo", lead_score=10)
    LeadFactory(organization=org_a.org, nome_completo="Morno", status="qualificado", lead_score=50)
    client = client_for(org_a.admin)
    _text, rows = read_export(
        client.get(EXPORT_URL, {"status": "qualificado", "ordering": "lead_score"})
    )
    assert [row[1] for row in rows[1:]] == ["Morno", "Quente"]


def test_it_exports_only_what_the_seller_may_see(org_a, org_b, client_for):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    LeadFactory(organization=org_a.org, nome_completo="Meu", closer=org_a.closer)
    LeadFactory(organization=org_a.org, nome_completo="De outro")
    LeadFactory(organization=org_b.org, nome_completo="Outra org", closer=org_b.closer)
    _text, rows = read_export(client_for(org_a.closer).get(EXPORT_URL))
    assert [row[1] for row in rows[1:]] == ["Meu"]
    _text, rows = read_export(client_for(org_a.admin).get(EXPORT_URL))
    assert sorted(row[1] for row in rows[1:]) == ["De outro", "Meu"]


@pytest.mark.parametrize(
    "params", [{"status": "ganho"}, {"ordering": "senha"}, {"formato": "xlsx"}, {"score_min": "x"}]
)
def test_it_rejects_bad_export_parameters_with_json(org_a, client_for, params):
    response = client_for(org_a.admin).get(EXPORT_URL, params, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]


def test_mentors_cannot_export(org_a, client_for):
    assert client_for(org_a.mentor).get(EXPORT_URL).status_code == 403


def test_the_export_query_count_does_not_grow_with_rows(org_a, client_for):
    client = client_for(org_a.admin)
    LeadFactory(organization=org_a.org)
    with CaptureQueriesContext(connection) as one:
        _text, rows = read_export(client.get(EXPORT_URL))
    assert len(rows) == 2
    LeadFactory.create_batch(40, organization=org_a.org)
    with CaptureQueriesContext(connection) as many:
        _text, rows = read_export(client.get(EXPORT_URL))
    assert len(rows) == 42
    assert len(one) == len(many)


def test_an_export_imports_back_into_another_organization(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    LeadFactory(
        organization=org_a.org,
        nome_completo="-Menos",
        email="a@x.com.br",
        valor_potencial=Decimal("1234.56"),
        tags=["vip"],
        status="negociacao",
        observacoes="Linha 1\nLinha 2",
    )
    exported = b"".join(client_for(org_a.admin).get(EXPORT_URL).streaming_content)
    lead_import = import_now(client_for(org_b.admin), exported, django_capture_on_commit_callbacks)
    assert (lead_import.created_count, lead_import.invalid_rows) == (1, 0), lead_import.errors
    copy = Lead.objects.get(organization=org_b.org)
    assert copy.nome_completo == "-Menos"
    assert copy.valor_potencial == Decimal("1234.56")
    assert copy.tags == ["vip"]
    assert copy.status == "negociacao"
    assert copy.observacoes == "Linha 1\nLinha 2"
