"""Every file path that README.md and docs/*.md name exists (docs must not cite ghosts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A `quoted` token that names a file: under a top-level folder of the repository, or a file name
# with a source or documentation ending. Routes start with "/" and are not files.
TOP_LEVEL = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
ENDINGS = (".py", ".md", ".toml", ".yml", ".yaml", ".lock", ".sh", ".html", ".po", ".cfg")
TOKEN = re.compile(r"`([A-Za-z0-9_.][A-Za-z0-9_./-]*)(?:::[A-Za-z0-9_]+)?`")
GENERATED = (".data/",)  # made by `make run`, not tracked


def named_paths(text: str) -> set[str]:
    found = set()
    for match in TOKEN.finditer(text):
        token = match.group(1).rstrip(".")
        if token.startswith(GENERATED):
            continue
        if (token.split("/")[0] in TOP_LEVEL and "/" in token) or token.endswith(ENDINGS):
            found.add(token)
    return found


def exists(token: str) -> bool:
    if (ROOT / token).exists():
        return True
    # Templates are named as Django finds them (admin/base_site.html: ours or a library's).
    if token.endswith(".html"):
        try:
            get_template(token)
        except TemplateDoesNotExist:
            return False
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    missing = sorted(token for token in named_paths(doc.read_text()) if not exists(token))
    assert missing == []


def test_it_finds_the_paths_it_checks() -> None:
    found = named_paths("see `leads/services.py`, `pyproject.toml`, `/api/v1/leads/`, `dd/mm`")
    assert found == {"leads/services.py", "pyproject.toml"}
