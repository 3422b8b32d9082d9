"""CSV import and export of leads.

Import (`POST /api/v1/leads/import/`): the upload is checked synchronously (size, encoding,
delimiter, header, row count) and stored as a `LeadImport`; a job (`leads.jobs_import`) then
imports the rows in batches with the API's own field rules (`leads.services.lead_clean`: E.164
phones, origem codes, tags...). The admin's wizard (`leads.admin_import`) stores the same
`LeadImport`, first as a draft while the user maps the columns.

- Files: CSV, or XLSX (first sheet); headers as people write them (`Nome`, `E-mail`,
  `Telefone`, `Valor`...) are recognised (`leads.importing`), and values as users see them
  (`Em contato`, `Indicação`, `Tráfego pago`) are read as their codes.

- Encoding: UTF-8 with or without BOM; Windows-1252 (what older Brazilian Excel saves) is
  accepted as a fallback when the bytes are not valid UTF-8.
- Delimiter: `;` (Excel in pt-BR) or `,`, detected from the header row.
- Money: `15000.00`, `15000,00`, `15.000,00` and `R$ 15.000,00` are read the Brazilian way
  (`,` is the decimal separator when present; a lone `.` followed by exactly three digits is a
  thousands separator).
- Tags: one cell, separated by `,`, `;` or `|`.
- Duplicates (an email or phone already a lead of the organization, or repeated earlier in the
  file) are skipped and counted; invalid rows are reported per field with their line number
  (the header is line 1) and skipped.
- Idempotent and resumable: each batch commits its leads together with the import's counters
  and resume point (`processed_rows`) under a row lock; a finished import is never re-run, and
  a crashed one resumes after the last committed batch. Inserts use ON CONFLICT DO NOTHING, so
  even a concurrent API create of the same email/phone cannot produce a duplicate.
- Imported leads go through the same hooks as API-created ones (`lead_created`; for leads
  imported as `convertido` also `lead_status_changed` and `lead_converted`), but no "lead
  converted" notification: an import records history, it is not news.

Export (`GET /api/v1/leads/export/`): the list's filters and visibility, streamed row by row
from a server-side cursor (constant memory). `formato=excel` (default) writes `;`-separated
UTF-8 with BOM and decimal commas, which Excel in pt-BR opens directly; `formato=csv` writes
plain comma-separated UTF-8 with decimal points. Cells that a spreadsheet would run as a
formula (starting with `=`, `+`, `-`, `@`) are prefixed with `'`; the import strips it again.
The export's header is a superset of the import's columns, so an export can be re-imported.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from config.metrics import LEADS_CREATED
from config.text import first_unstorable
from leads import importing, routing, services, signals
from leads.models import (
    LEAD_DATA_FIELDS,
    LEAD_UTM_FIELDS,
    Lead,
    LeadImport,
    LeadImportStatus,
    LeadStatus,
    LeadStatusChange,
)
from organizations.models import Membership, Organization
from organizations.permissions import SALES_ROLES

# Importing is a write: the roles that work leads (a seller's imported leads are theirs).
IMPORT_ROLES = SALES_ROLES
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_ROWS = 20_000
BATCH_SIZE = 500
# Per-row errors kept on the import (the count of invalid rows is always exact).
MAX_STORED_ERRORS = 1000

IMPORT_COLUMNS = services.IMPORTABLE_FIELDS
EXPORT_COLUMNS = (
    "id",
    *LEAD_DATA_FIELDS,
    "tags",
    "closer_id",
    "closer",
    "sdr_id",
    "sdr",
    "observacoes",
    "motivo_perda",
    *LEAD_UTM_FIELDS,
    "created_at",
    "converted_at",
    "last_interaction_at",
)
# Export-only (computed or assigned) columns an import accepts and ignores.
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) - frozenset(IMPORT_COLUMNS)
MONEY_COLUMNS = ("valor_potencial", "valor_fechado")
FORMULA_PREFIXES = ("=", "+", "-", "@")
TAG_SPLIT = re.compile(r"[,;|]")
UTF8_BOM = b"\xef\xbb\xbf"


def max_bytes() -> int:
    return int(getattr(settings, "LEADS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_rows() -> int:
    return int(getattr(settings, "LEADS_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))


class CsvProblem(Exception):
    """The file as a whole cannot be imported (the API answers 400 with `details`)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


@dataclass
class CsvRow:
    line: int
    cells: dict[str, str]
    extra: bool = False


@dataclass
class ParsedCsv:
    text: str
    delimiter: str
    header: list[str]
    rows: list[CsvRow] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------


def decode_csv(raw: bytes) -> str:
    """UTF-8 (BOM stripped), else Windows-1252; anything else is a CsvProblem."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise CsvProblem(
            _("Não foi possível ler o arquivo: salve-o como CSV UTF-8."),
            {"file": [_("Codificação não suportada; use UTF-8.")]},
        ) from None


def detect_delimiter(first_line: str) -> str:
    """`;` when the header has more semicolons than commas (Excel pt-BR), else `,`."""
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _normalize_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def parse_csv(text: str, *, delimiter: str | None = None, check_header: bool = True) -> ParsedCsv:
    """Header and data rows (blank rows dropped); a bad header is a CsvProblem (unless
    `check_header` is off: the wizard previews rows of a mapping not finished yet)."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = delimiter or detect_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        first = next(reader)
        while not any(cell.strip() for cell in first):  # blank lines before the header
            first = next(reader)
        header = [_normalize_header(name) for name in first]
    except StopIteration:
        raise CsvProblem(
            _("O arquivo está vazio."), {"file": [_("Inclua a linha de cabeçalho.")]}
        ) from None
    except csv.Error as exc:
        raise _malformed(exc) from None
    if check_header:
        _check_header(header)
    parsed = ParsedCsv(text=text, delimiter=delimiter, header=header)
    try:
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if not any(cell.strip() for cell in cells):
                continue
            values = dict(zip(header, cells, strict=False))
            extra = any(cell.strip() for cell in cells[len(header) :])
            parsed.rows.append(CsvRow(line=line, cells=values, extra=extra))
            if len(parsed.rows) > max_rows():
                raise CsvProblem(
                    _("O arquivo tem linhas demais (máximo %(n)s).") % {"n": max_rows()},
                    {"file": [_("Divida o arquivo em partes menores.")]},
                )
    except csv.Error as exc:
        raise _malformed(exc) from None
    return parsed


def _malformed(exc: csv.Error) -> CsvProblem:
    return CsvProblem(
        _("O arquivo CSV está malformado."), {"file": [_("CSV inválido: %(e)s") % {"e": exc}]}
    )


def _check_header(header: list[str]) -> None:
    known = set(IMPORT_COLUMNS) | IGNORED_COLUMNS
    unknown = [name for name in header if name and name not in known]
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    problems: list[str] = []
    if "nome_completo" not in header:
        problems.append(_("A coluna nome_completo é obrigatória."))
    if unknown:
        problems.append(
            _("Colunas desconhecidas: %(cols)s. Colunas aceitas: %(known)s.")
            % {"cols": ", ".join(unknown), "known": ", ".join(IMPORT_COLUMNS)}
        )
    if duplicated:
        problems.append(_("Colunas repetidas: %(cols)s.") % {"cols": ", ".join(duplicated)})
    if problems:
        raise CsvProblem(_("Cabeçalho do CSV inválido."), {"header": problems})


def read_table(raw: bytes) -> tuple[importing.Table, str]:
    """A CSV or XLSX upload as a table of text, and the CSV delimiter to store it with."""
    if len(raw) > max_bytes():
        raise ValueError("file too large")  # the views check the size first (413)
    if importing.is_xlsx(raw):
        try:
            table = importing.read_xlsx(raw, max_rows=max_rows())
        except importing.TableProblem as problem:
            raise CsvProblem(problem.message, problem.details) from None
        delimiter = ","
    else:
        text = decode_csv(raw)
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = detect_delimiter(first_line)
        try:
            table = importing.csv_table(text, delimiter)
        except csv.Error as exc:
            raise _malformed(exc) from None
    if not any(name.strip() for name in table.header):
        raise CsvProblem(_("O arquivo está vazio."), {"file": [_("Inclua a linha de cabeçalho.")]})
    _refuse_unstorable(table)
    return table, delimiter


def _refuse_unstorable(table: importing.Table) -> None:
    """NUL characters and lone surrogates cannot be stored (PostgreSQL refuses the text): the
    whole file is refused, naming the first line that has one, before anything is written."""
    for number, cells in enumerate([table.header, *table.lines], start=1):
        if any(first_unstorable(cell) is not None for cell in cells):
            where = _("Caractere nulo (NUL) ou inválido na linha %(line)s: remova-o.")
            raise CsvProblem(
                _("O arquivo contém um caractere inválido (NUL ou substituto isolado)."),
                {"file": [where % {"line": number}]},
            )


def parse_mapped(table: importing.Table, columns: list[str], delimiter: str) -> ParsedCsv:
    """The table with its header replaced by `columns`, checked like the job will read it."""
    parsed = parse_csv(
        importing.canonical_csv(table, columns, delimiter=delimiter), delimiter=delimiter
    )
    if not parsed.rows:
        raise CsvProblem(
            _("O arquivo não tem linhas de dados."), {"file": [_("Nenhum lead para importar.")]}
        )
    return parsed


def read_upload(raw: bytes) -> ParsedCsv:
    """Checks an API upload completely (the job will not find a new problem in it): headers
    are recognised automatically; a column nothing matches, or a field twice, is refused."""
    table, delimiter = read_table(raw)
    mapping = importing.suggest_mapping(table.header)
    problems: list[str] = []
    if mapping.unknown:
        problems.append(
            _("Colunas desconhecidas: %(cols)s. Colunas aceitas: %(known)s.")
            % {"cols": ", ".join(mapping.unknown), "known": ", ".join(IMPORT_COLUMNS)}
        )
    if mapping.repeated:
        problems.append(_("Colunas repetidas: %(cols)s.") % {"cols": ", ".join(mapping.repeated)})
    if problems:
        raise CsvProblem(_("Cabeçalho do CSV inválido."), {"header": problems})
    return parse_mapped(table, mapping.columns, delimiter)


# --- row validation --------------------------------------------------------------------------


def parse_money(text: str) -> str:
    """Brazilian or plain money text as `1234.56` (left as is when it is not a number)."""
    value = text.replace("R$", "").replace("\xa0", "").replace(" ", "")
    if "," in value:
        value = value.replace(".", "").replace(",", ".")
    elif value.count(".") > 1 or re.fullmatch(r"\d{1,3}\.\d{3}", value):
        value = value.replace(".", "")
    return value


def _clean_cell(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_PREFIXES:
        text = text[1:]  # our export's spreadsheet-formula guard
    return text


def row_data(cells: dict[str, str]) -> dict[str, Any]:
    """A CSV row as `services.lead_clean` input; blank cells are left out (defaults apply)."""
    data: dict[str, Any] = {}
    for column in IMPORT_COLUMNS:
        text = _clean_cell(cells.get(column))
        if not text:
            continue
        if column in MONEY_COLUMNS:
            data[column] = parse_money(text)
        elif column == "tags":
            data[column] = [tag.strip() for tag in TAG_SPLIT.split(text) if tag.strip()]
        else:
            data[column] = text
    return data


def validate_row(row: CsvRow) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(cleaned fields, errors as [{line, field, message}]) of one row: the job's and the
    wizard's preview's rule."""
    errors: list[dict[str, Any]] = []
    cleaned: dict[str, Any] = {}
    try:
        cleaned = services.lead_clean(data=row_data(row.cells))
    except DjangoValidationError as exc:
        for field_name, messages in exc.message_dict.items():
            errors.extend(
                {"line": row.line, "field": field_name, "message": str(message)}
                for message in messages
            )
    if row.extra:
        errors.append(
            {"line": row.line, "field": "linha", "message": _("Colunas a mais na linha.")}
        )
    return cleaned, errors


# --- the import job's service ----------------------------------------------------------------


def lead_import_create(
    *, organization: Organization, actor: Membership, filename: str, parsed: ParsedCsv
) -> LeadImport:
    """Stores a checked upload and enqueues its job on commit."""
    lead_import = LeadImport.objects.create(
        organization=organization,
        created_by=actor,
        filename=filename[:255],
        content=parsed.text,
        delimiter=parsed.delimiter,
        total_rows=len(parsed.rows),
        column_mapping=parsed.header,
    )
    _enqueue(lead_import)
    return lead_import


def lead_import_draft_create(
    *,
    organization: Organization,
    actor: Membership | None,
    filename: str,
    table: importing.Table,
) -> LeadImport:
    """Stores an upload of the admin's wizard, with the suggested mapping, to be confirmed.

    Drafts abandoned for a day by the same uploader are deleted here: a draft holds the whole
    file and nothing else ever runs it."""
    LeadImport.objects.filter(
        organization=organization,
        created_by=actor,
        status=LeadImportStatus.DRAFT,
        created_at__lt=timezone.now() - DRAFT_LIFETIME,
    ).delete()
    mapping = importing.suggest_mapping(table.header)
    return LeadImport.objects.create(
        organization=organization,
        created_by=actor,
        filename=filename[:255],
        content=importing.original_csv(table),
        delimiter=",",
        status=LeadImportStatus.DRAFT,
        total_rows=table.data_rows,
        column_mapping=mapping.columns,
    )


def draft_table(lead_import: LeadImport) -> importing.Table:
    return importing.csv_table(lead_import.content, lead_import.delimiter)


PREVIEW_ROWS = 10
DRAFT_LIFETIME = timedelta(days=1)


def preview(
    table: importing.Table, columns: list[str], *, limit: int = PREVIEW_ROWS
) -> list[tuple[CsvRow, list[dict[str, Any]]]]:
    """The first rows under a mapping, each with the errors the job would report for it."""
    head = importing.Table(header=table.header, lines=table.lines[: limit * 2 + 10])
    text = importing.canonical_csv(head, columns)
    try:
        rows = parse_csv(text, delimiter=",", check_header=False).rows[:limit]
    except CsvProblem:
        return []
    return [(row, validate_row(row)[1]) for row in rows]


@transaction.atomic
def lead_import_confirm(*, lead_import: LeadImport, columns: list[str]) -> LeadImport:
    """Applies the chosen mapping to a draft and starts its job (a no-op once started)."""
    locked = LeadImport.objects.select_for_update().get(pk=lead_import.pk)
    if locked.status != LeadImportStatus.DRAFT:
        return cast("LeadImport", locked)
    problems = importing.mapping_problems(columns)
    if problems:
        raise CsvProblem(_("Mapeamento de colunas inválido."), {"mapping": problems})
    parsed = parse_mapped(draft_table(locked), columns, locked.delimiter)
    locked.content = parsed.text
    locked.column_mapping = columns
    locked.total_rows = len(parsed.rows)
    locked.status = LeadImportStatus.PENDING
    locked.created_at = timezone.now()
    locked.save(update_fields=["content", "column_mapping", "total_rows", "status", "created_at"])
    _enqueue(locked)
    return cast("LeadImport", locked)


def _enqueue(lead_import: LeadImport) -> None:
    from config.jobs import SAFE_RETRY, enqueue

    enqueue(
        "leads.jobs_import.run_lead_import",
        lead_import_id=str(lead_import.pk),
        organization_id=str(lead_import.organization_id),
        queue="default",
        job_id=f"lead-import-{lead_import.pk}",
        retry=SAFE_RETRY,
    )


def lead_import_process(*, lead_import_id: uuid.UUID | str) -> LeadImport:
    """Imports the pending rows of an import, batch by batch; safe to run again at any time."""
    lead_import = LeadImport.objects.get(pk=lead_import_id)
    if lead_import.status in (LeadImportStatus.DONE, LeadImportStatus.DRAFT):
        return lead_import
    LeadImport.objects.filter(pk=lead_import.pk).exclude(status=LeadImportStatus.DONE).update(
        status=LeadImportStatus.RUNNING,
        started_at=lead_import.started_at or timezone.now(),
        error_message="",
    )
    try:
        rows = parse_csv(lead_import.content, delimiter=lead_import.delimiter).rows
        while _import_next_batch(lead_import.pk, rows):
            pass
    except Exception as exc:
        LeadImport.objects.filter(pk=lead_import.pk).exclude(status=LeadImportStatus.DONE).update(
            status=LeadImportStatus.FAILED,
            error_message=(exc.message if isinstance(exc, CsvProblem) else repr(exc))[:2000],
        )
        raise
    return LeadImport.objects.get(pk=lead_import.pk)


@transaction.atomic
def _import_next_batch(lead_import_id: uuid.UUID, rows: list[CsvRow]) -> bool:
    """Imports the next batch under the import's row lock; False when nothing is left."""
    lead_import = (
        LeadImport.objects.select_for_update(of=("self",))
        .select_related("organization", "created_by")
        .get(pk=lead_import_id)
    )
    if lead_import.status == LeadImportStatus.DONE:
        return False
    start = lead_import.processed_rows
    batch = rows[start : start + BATCH_SIZE]
    if not batch:
        lead_import.status = LeadImportStatus.DONE
        lead_import.finished_at = timezone.now()
        lead_import.save(update_fields=["status", "finished_at"])
        return False
    outcome = _import_rows(lead_import, batch)
    lead_import.processed_rows = start + len(batch)
    lead_import.created_count += outcome.created
    lead_import.duplicates_skipped += outcome.duplicates
    lead_import.invalid_rows += outcome.invalid
    room = MAX_STORED_ERRORS - len(lead_import.errors)
    if room > 0:
        lead_import.errors = [*lead_import.errors, *outcome.errors[:room]]
    lead_import.save(
        update_fields=[
            "processed_rows",
            "created_count",
            "duplicates_skipped",
            "invalid_rows",
            "errors",
        ]
    )
    return True


@dataclass
class BatchOutcome:
    created: int = 0
    duplicates: int = 0
    invalid: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _import_rows(lead_import: LeadImport, batch: list[CsvRow]) -> BatchOutcome:
    organization = lead_import.organization
    actor = lead_import.created_by
    outcome = BatchOutcome()
    valid = _valid_rows(batch, outcome)
    # Duplicate rule: against the organization's leads and against earlier rows of the file
    # (earlier batches are already leads, so the query covers them after a resume too).
    taken_emails, taken_phones = _taken_contacts(organization, valid)
    now = timezone.now()
    leads: list[Lead] = []
    for _line, data in valid:
        email, phone = data.get("email"), data.get("telefone")
        if (email and email in taken_emails) or (phone and phone in taken_phones):
            outcome.duplicates += 1
            continue
        if email:
            taken_emails.add(email)
        if phone:
            taken_phones.add(phone)
        leads.append(
            services.lead_build(organization=organization, actor=actor, data=data, now=now)
        )

    assignments = routing.leads_route(organization=organization, leads=leads)
    Lead.objects.bulk_create(leads, ignore_conflicts=True)
    inserted_ids = set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("pk", flat=True)
    )
    created = [lead for lead in leads if lead.pk in inserted_ids]
    # Rows that lost a race with a concurrent create of the same email/phone.
    outcome.duplicates += len(leads) - len(created)
    outcome.created = len(created)
    LeadStatusChange.objects.bulk_create(
        LeadStatusChange(
            organization_id=organization.pk,
            lead=lead,
            from_status="",
            to_status=lead.status,
            changed_by=actor,
            changed_at=now,
        )
        for lead in created
    )
    routing.leads_route_record(
        organization=organization, assignments=assignments, saved_ids=inserted_ids
    )
    _send_created_signals(created, actor)
    if created:
        LEADS_CREATED.labels(organization_id=str(organization.pk)).inc(len(created))
    return outcome


def _valid_rows(batch: list[CsvRow], outcome: BatchOutcome) -> list[tuple[int, dict[str, Any]]]:
    """(line, validated data) of the batch's valid rows; the invalid ones counted in `outcome`."""
    valid: list[tuple[int, dict[str, Any]]] = []
    for row in batch:
        validated, errors = validate_row(row)
        if errors:
            outcome.invalid += 1
            outcome.errors.extend(errors)
            continue
        valid.append((row.line, validated))
    return valid


def _taken_contacts(
    organization: Organization, valid: list[tuple[int, dict[str, Any]]]
) -> tuple[set[str], set[str]]:
    """(emails, phones) of the organization's leads that share a contact with the rows."""
    emails = {data["email"] for _line, data in valid if data.get("email")}
    phones = {data["telefone"] for _line, data in valid if data.get("telefone")}
    taken_emails: set[str] = set()
    taken_phones: set[str] = set()
    if emails or phones:
        for email, phone in (
            Lead.objects.for_org(organization)
            .filter(Q(email__in=emails) | Q(telefone__in=phones))
            .values_list("email", "telefone")
        ):
            taken_emails.add(email)
            taken_phones.add(phone)
    return taken_emails, taken_phones


def _send_created_signals(leads: list[Lead], actor: Membership | None) -> None:
    from config.jobs import batched_requests

    # One outbox row per follow-on job kind for the batch, not one per lead and kind.
    with batched_requests():
        _send_each_created_signal(leads, actor)


def _send_each_created_signal(leads: list[Lead], actor: Membership | None) -> None:
    for lead in leads:
        signals.lead_created.send(sender=Lead, lead=lead, actor=actor)
        if lead.status == LeadStatus.CONVERTIDO:
            signals.lead_status_changed.send(
                sender=Lead, lead=lead, actor=actor, from_status="", to_status=lead.status
            )
            signals.lead_converted.send(sender=Lead, lead=lead, actor=actor)


# --- export ----------------------------------------------------------------------------------


class _Echo:
    """csv.writer target that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


# What each export column reads (the closer's and SDR's names through their relation).
EXPORT_VALUES = tuple(
    {"closer": "closer__nome_completo", "sdr": "sdr__nome_completo"}.get(column, column)
    for column in EXPORT_COLUMNS
)
TEXT_COLUMNS = frozenset(
    {"nome_completo", "email", "empresa", "cargo", "origem", "tags", "observacoes"}
    | {"motivo_perda", "closer", "sdr", *LEAD_UTM_FIELDS}
)
EXPORT_CHUNK = 2000


def _cell(column: str, value: Any, *, excel: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = f"{value:.2f}"
        return text.replace(".", ",") if excel else text
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    if column in TEXT_COLUMNS and text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return text


def export_lines(queryset: QuerySet[Lead], *, excel: bool) -> Iterator[str]:
    """The CSV text of `queryset`, a few hundred rows per chunk, from a server-side cursor."""
    writer = csv.writer(_Echo(), delimiter=";" if excel else ",")
    head = writer.writerow(EXPORT_COLUMNS)
    yield ("\ufeff" + head) if excel else head
    buffer: list[str] = []
    rows: Iterable[tuple[Any, ...]] = queryset.values_list(*EXPORT_VALUES).iterator(
        chunk_size=EXPORT_CHUNK
    )
    for row in rows:
        buffer.append(
            writer.writerow(
                [
                    _cell(column, value, excel=excel)
                    for column, value in zip(EXPORT_COLUMNS, row, strict=True)
                ]
            )
        )
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)
