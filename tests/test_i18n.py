"""Translations: Portuguese (the msgids) by default, English through `Accept-Language: en`.

The English catalogue is `locale/en/LC_MESSAGES/django.po`; its compiled `.mo` is committed, so
these tests also check that every entry is translated and that the `.mo` matches the `.po`.
"""

from __future__ import annotations

import ast
import gettext
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"


@pytest.fixture(autouse=True)
def _restore_language() -> Iterator[None]:
    """A request in English must not leave English active for the tests that follow."""
    with translation.override(translation.get_language()):
        yield


# --- API responses in both languages -------------------------------------------------------


@pytest.mark.django_db
def test_validation_errors_are_portuguese_by_default(org_a, client_for):
    response = client_for(org_a.admin).get("/api/v1/leads/?limit=0")

    assert response.status_code == 400
    assert response.json()["error"] == (
        "Dados inválidos em 'limit': Deve ser um número inteiro entre 1 e 100."
    )
    assert response.headers["Content-Language"] == "pt-br"


@pytest.mark.django_db
def test_validation_errors_are_english_on_request(org_a, client_for):
    response = client_for(org_a.admin).get("/api/v1/leads/?limit=0", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid data in 'limit': Must be an integer between 1 and 100.",
        "details": {"limit": ["Must be an integer between 1 and 100."]},
    }
    assert response.headers["Content-Language"] == "en"


@pytest.mark.django_db
def test_the_language_follows_each_request(org_a, client_for):
    client = client_for(org_a.admin)

    english = client.get("/api/v1/leads/?limit=0", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    default = client.get("/api/v1/leads/?limit=0")
    portuguese = client.get("/api/v1/leads/?limit=0", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9")

    assert english.json()["error"].startswith("Invalid data in 'limit'")
    assert default.json()["error"].startswith("Dados inválidos em 'limit'")
    assert portuguese.json()["error"].startswith("Dados inválidos em 'limit'")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "message"),
    [(None, "Recurso não encontrado."), ("en", "Resource not found.")],
)
def test_unknown_api_paths_answer_in_the_requested_language(
    org_a, client_for, accept_language, message
):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = client_for(org_a.admin).get("/api/v1/nao-existe/", **headers)

    assert response.status_code == 404
    assert response.json() == {"error": message, "details": {}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "message"),
    [
        (None, "As credenciais de autenticação não foram fornecidas."),
        ("en", "Authentication credentials were not provided."),
    ],
)
def test_drf_messages_come_from_drf_catalogues(anon, accept_language, message):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = anon.get("/api/v1/leads/", **headers)

    assert response.status_code == 401
    assert response.json()["error"] == message


@pytest.mark.django_db
def test_an_unsupported_language_falls_back_to_portuguese(org_a, client_for):
    response = client_for(org_a.admin).get("/api/v1/nao-existe/", HTTP_ACCEPT_LANGUAGE="de")

    assert response.json()["error"] == "Recurso não encontrado."


# --- The catalogue itself -------------------------------------------------------------------


@dataclass
class PoEntry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    obsolete: bool = False


def _parse_po(path: Path) -> list[PoEntry]:
    """A small .po reader (no third-party dependency): flags, context, ids and translations."""
    entries: list[PoEntry] = []
    current: PoEntry | None = None
    target: tuple[str, int] | None = None  # which string continuation lines extend

    def append(kind: str, index: int, text: str) -> None:
        assert current is not None
        if kind == "msgstr":
            current.msgstr[index] = current.msgstr.get(index, "") + text
        else:
            setattr(current, kind, (getattr(current, kind) or "") + text)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            current, target = None, None
            continue
        if current is None:
            current = PoEntry(line=number)
            entries.append(current)
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            assert target is not None, f"{path.name}:{number}: string outside an entry"
            append(target[0], target[1], ast.literal_eval(line))
            continue
        keyword, _, value = line.partition(" ")
        if keyword.startswith("msgstr["):
            target = ("msgstr", int(keyword[len("msgstr[") : -1]))
        elif keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            target = (keyword, 0)
        else:
            raise AssertionError(f"{path.name}:{number}: cannot parse {raw!r}")
        if target[0] != "msgstr":
            setattr(current, target[0], "")
        append(target[0], target[1], ast.literal_eval(value))
    return [entry for entry in entries if not entry.obsolete and (entry.msgid or entry.msgstr)]


@pytest.fixture(scope="module")
def po_entries() -> list[PoEntry]:
    return _parse_po(PO_PATH)


def test_the_catalogue_has_entries(po_entries):
    messages = [entry for entry in po_entries if entry.msgid]
    assert len(messages) > 100
    assert any(entry.msgid == "Recurso não encontrado." for entry in messages)


def test_every_entry_is_translated_and_none_is_fuzzy(po_entries):
    """New strings: run makemessages -l en, translate them, then compilemessages.

    python manage.py makemessages -l en --ignore=.venv --ignore=tests --ignore=bench
        --ignore=staticfiles
    python manage.py compilemessages --ignore=.venv
    """
    problems = []
    for entry in po_entries:
        where = f"django.po:{entry.line} {entry.msgid!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{where}: fuzzy")
        if not entry.msgid:
            continue  # the header
        expected = {0, 1} if entry.msgid_plural is not None else {0}
        if set(entry.msgstr) != expected or not all(entry.msgstr.values()):
            problems.append(f"{where}: not translated")
    assert not problems, "\n".join(problems)


def test_the_compiled_catalogue_matches_the_po(po_entries):
    """The committed .mo is what compilemessages makes of the committed .po.

    Compared by content, not by modification time: a fresh clone gives both files the
    checkout time, in whatever order git wrote them.
    """
    assert MO_PATH.exists(), "run: python manage.py compilemessages --ignore=.venv"
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    # msgfmt rewrites the header (drops POT-Creation-Date): compare the messages only.
    catalog = {k: v for k, v in compiled._catalog.items() if k != ""}  # type: ignore[attr-defined]

    expected: dict[object, str] = {}
    for entry in po_entries:
        if not entry.msgid:
            continue
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[key] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(key, index)] = text

    assert catalog == expected, "django.mo is stale: run compilemessages --ignore=.venv"


def test_the_mo_is_not_older_than_the_po():
    """In a working tree, editing the .po without compiling is caught at once."""
    assert MO_PATH.stat().st_mtime >= PO_PATH.stat().st_mtime - 2, (
        "django.mo is older than django.po: run compilemessages --ignore=.venv"
    )


@pytest.mark.django_db
def test_drf_messages_have_no_typos_in_portuguese(org_a, client_for):
    """DRF's pt_BR says "Certifque-se"; our locale corrects it (LOCALE_PATHS wins)."""
    response = client_for(org_a.admin).post(
        "/api/v1/leads/", {"nome_completo": "Ana", "valor_potencial": "-1"}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["details"]["valor_potencial"][0]
    assert message == "Certifique-se de que este valor seja maior ou igual a 0."
