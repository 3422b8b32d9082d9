"""Reading a spreadsheet of leads: CSV or XLSX into rows of text, and the columns' mapping.

The import job reads one canonical form: CSV text whose header holds our field names (blank
for a column left out). Both entry points produce it here: the API upload (`POST
/api/v1/leads/import/`, headers recognised automatically, an unknown column is a 400) and the
admin's wizard (the user confirms or changes the suggested mapping). Rows keep their line
numbers (blank rows included), so the job's error report points at the user's own file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.services import IMPORTABLE_FIELDS
from leads.validation import slug_key

XLSX_MAGIC = b"PK\x03\x04"

# Headers people write, by field (compared accent-, case- and punctuation-blind), besides the
# field's own name and the model's verbose name.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "nome_completo": ("nome", "name", "full name", "nome do lead", "cliente", "contato", "lead"),
    "email": ("e-mail", "mail", "endereço de email", "endereço de e-mail"),
    "telefone": ("fone", "tel", "celular", "whatsapp", "phone", "telefone celular", "número"),
    "empresa": ("company", "companhia", "negócio"),
    "cargo": ("função", "job title", "position", "title"),
    "origem": ("fonte", "canal", "source", "origin"),
    "status": ("etapa", "fase", "situação", "stage"),
    "valor_potencial": ("valor", "valor estimado", "value", "ticket"),
    "valor_fechado": ("valor da venda", "valor de fechamento"),
    "tags": ("tag", "etiquetas", "marcadores", "labels"),
    "observacoes": ("observação", "obs", "notas", "notes", "comentários"),
    "motivo_perda": ("motivo da perda", "motivo"),
}
# Columns of our own export that are computed or assigned: accepted and left out.
EXPORT_ONLY_COLUMNS = frozenset(
    {
        "id",
        "temperatura",
        "lead_score",
        "score",
        "closer_id",
        "closer",
        "sdr_id",
        "sdr",
        "created_at",
        "converted_at",
        "last_interaction_at",
    }
)
FIELD_LABELS: dict[str, Any] = {
    "nome_completo": gettext_lazy("Nome"),
    "email": gettext_lazy("E-mail"),
    "telefone": gettext_lazy("Telefone"),
    "empresa": gettext_lazy("Empresa"),
    "cargo": gettext_lazy("Cargo"),
    "origem": gettext_lazy("Origem"),
    "status": gettext_lazy("Status"),
    "valor_potencial": gettext_lazy("Valor potencial"),
    "valor_fechado": gettext_lazy("Valor fechado"),
    "tags": gettext_lazy("Tags"),
    "observacoes": gettext_lazy("Observações"),
    "motivo_perda": gettext_lazy("Motivo da perda"),
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
}


class TableProblem(Exception):
    """The file as a whole cannot be read (`details` per key, like the API's errors)."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass
class Table:
    """A sheet as text: the header and every line after it (blank ones as [])."""

    header: list[str]
    lines: list[list[str]] = field(default_factory=list)

    @property
    def data_rows(self) -> int:
        return sum(1 for cells in self.lines if any(cell.strip() for cell in cells))


def is_xlsx(raw: bytes) -> bool:
    return raw.startswith(XLSX_MAGIC)


def read_xlsx(raw: bytes, *, max_rows: int) -> Table:
    """The first sheet of a workbook; values as a person sees them (dates as dd/mm/aaaa)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableProblem(
            _("Não foi possível ler a planilha."),
            {"file": [_("Arquivo XLSX inválido: %(e)s") % {"e": exc.__class__.__name__}]},
        ) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise TableProblem(_("A planilha está vazia."), {"file": [_("Nenhuma aba.")]})
        lines: list[list[str]] = []
        for values in sheet.iter_rows(values_only=True):
            lines.append([_xlsx_text(value) for value in values])
            if len(lines) > max_rows + 1 and any(lines[-1]):
                break  # the row limit is checked by the caller; stop reading here
    finally:
        workbook.close()
    while lines and not any(cell.strip() for cell in lines[0]):
        lines.pop(0)
    if not lines:
        raise TableProblem(
            _("O arquivo está vazio."), {"file": [_("Inclua a linha de cabeçalho.")]}
        )
    header, *rest = lines
    # Trailing empty cells of the sheet's used range are not columns.
    while header and not header[-1].strip():
        header.pop()
    return Table(header=header, lines=rest)


def _xlsx_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M") if value.time() else value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        # Excel stores 15000 as 15000.0 and phones typed as numbers as floats.
        return str(int(value)) if value.is_integer() else str(Decimal(repr(value)))
    return str(value).strip()


def csv_table(text: str, delimiter: str) -> Table:
    """The CSV text as a Table (the caller has checked the text with csv_io.parse_csv)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    lines = list(reader)
    while lines and not any(cell.strip() for cell in lines[0]):
        lines.pop(0)
    header, *rest = lines or [[]]
    return Table(header=[name.lstrip("\ufeff") for name in header], lines=rest)


def _known_headers() -> dict[str, str]:
    from leads.models import Lead

    known: dict[str, str] = {}
    for name in IMPORTABLE_FIELDS:
        known[slug_key(name)] = name
        known[slug_key(str(getattr(Lead._meta.get_field(name), "verbose_name", name)))] = name
        known[slug_key(str(FIELD_LABELS[name]))] = name
        for alias in HEADER_ALIASES.get(name, ()):
            known[slug_key(alias)] = name
    return known


@dataclass
class Mapping:
    """One entry per column of the file: the field it fills, or "" when left out."""

    columns: list[str]
    unknown: list[str] = field(default_factory=list)  # headers nothing matched
    repeated: list[str] = field(default_factory=list)  # headers of a field already taken

    @property
    def fields(self) -> list[str]:
        return [name for name in self.columns if name]


def suggest_mapping(header: list[str]) -> Mapping:
    """Recognises headers such as `Nome`, `E-mail`, `Telefone`, `Valor`; each field once."""
    known = _known_headers()
    columns: list[str] = []
    unknown: list[str] = []
    repeated: list[str] = []
    taken: set[str] = set()
    for name in header:
        key = slug_key(name)
        target = known.get(key, "")
        if target in taken:
            repeated.append(name.strip())
            target = ""
        if target:
            taken.add(target)
        elif name.strip() and key not in EXPORT_ONLY_COLUMNS:
            unknown.append(name.strip())
        columns.append(target)
    return Mapping(columns=columns, unknown=unknown, repeated=repeated)


def mapping_problems(columns: list[str]) -> list[str]:
    """What makes a mapping unusable (Portuguese messages); empty when it is fine."""
    problems: list[str] = []
    chosen = [name for name in columns if name]
    if "nome_completo" not in chosen:
        problems.append(_("Escolha a coluna com o nome do lead."))
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        problems.append(
            _("Cada campo pode vir de uma coluna só: %(cols)s.")
            % {"cols": ", ".join(str(FIELD_LABELS.get(name, name)) for name in repeated)}
        )
    invalid = sorted({name for name in chosen if name not in IMPORTABLE_FIELDS})
    if invalid:
        problems.append(_("Campos desconhecidos: %(cols)s.") % {"cols": ", ".join(invalid)})
    return problems


def canonical_csv(table: Table, columns: list[str], *, delimiter: str = ",") -> str:
    """CSV text for the job: the header replaced by the mapped field names, rows unchanged."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    width = max(len(columns), len(table.header))
    writer.writerow([*columns, *[""] * (width - len(columns))])
    for cells in table.lines:
        writer.writerow(cells)
    return buffer.getvalue()


def original_csv(table: Table) -> str:
    """The table with its own header (a wizard draft, before the mapping is confirmed)."""
    return canonical_csv(table, table.header)
