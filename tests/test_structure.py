"""Structure rules checked on the source: no long functions and no copied runs in app code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "organizations", "leads", "mentorados", "followup", "integrations", "privacy")
MAX_LINES = 60
# Longer functions not split yet, with their length today: they may shrink, never grow, and
# leave this list when they are split. New code gets no entry.
NOT_YET_SPLIT: dict[str, int] = {}


def function_lengths() -> dict[str, int]:
    """`path:function` -> lines (decorators excluded, docstring included), longest of a name."""
    lengths: dict[str, int] = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    key = f"{path.relative_to(ROOT)}:{node.name}"
                    size = (node.end_lineno or node.lineno) - node.lineno + 1
                    lengths[key] = max(size, lengths.get(key, 0))
    return lengths


def test_no_app_function_is_longer_than_the_limit() -> None:
    too_long = {
        key: size
        for key, size in function_lengths().items()
        if size > MAX_LINES and size > NOT_YET_SPLIT.get(key, 0)
    }
    assert too_long == {}


def test_the_list_of_long_functions_only_names_long_functions() -> None:
    lengths = function_lengths()
    stale = {key for key in NOT_YET_SPLIT if lengths.get(key, 0) <= MAX_LINES}
    assert stale == set(), "split: remove them from NOT_YET_SPLIT"


# --- copies: no run of six significant lines stands twice in app code ----------------------

MIN_RUN = 6
# Repeats left on purpose (the files that hold them -> why). Anything else repeated is a copy:
# give it one home (a constant, a helper, a base class) instead of adding it here.
ALLOWED_REPEATS = {
    "followup/channels.py": "each channel spells out the Channel protocol's send() signature",
    "organizations/auth.py": "both backends spell out ModelBackend.authenticate()'s signature",
    "integrations/errors.py": "each error type spells out its keyword-only constructor",
    "integrations/api/base.py ~ leads/api/routing.py": "the CRUD mixins a viewset lists",
    "leads/admin_actions.py": "form_step(...) called with its keyword arguments",
    "integrations/models.py": "model declarations (id, organization, timestamps)",
    "integrations/crm/base.py": "the CRM client base (integrations/crm, being reworked)",
    "integrations/crm/base.py ~ integrations/crm/pipedrive.py": "the same, mid-rework",
    "integrations/crm/base.py ~ integrations/whatsapp/client.py": "the HTTP client set-up",
}


def _significant_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text with spaces folded), without blanks, comments, imports and lone
    punctuation (what the eye skips when it compares two places)."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = " ".join(line.split())
        if len(text) <= 3 or text.startswith(("#", "import ", "from ")):
            continue
        lines.append((number, text))
    return lines


def repeated_runs(root: Path = ROOT, apps: tuple[str, ...] = APPS) -> dict[str, list[str]]:
    """Files (joined by " ~ ") -> the places where a run of MIN_RUN lines repeats."""
    places: dict[tuple[str, ...], list[str]] = {}
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = _significant_lines(path)
            name = str(path.relative_to(root))
            for start in range(len(lines) - MIN_RUN + 1):
                run = tuple(text for _number, text in lines[start : start + MIN_RUN])
                places.setdefault(run, []).append(f"{name}:{lines[start][0]}")
    found: dict[str, list[str]] = {}
    for where in places.values():
        if len(where) > 1:
            files = " ~ ".join(sorted({place.split(":")[0] for place in where}))
            found.setdefault(files, []).extend(where)
    return found


def test_no_run_of_six_lines_is_repeated_in_app_code() -> None:
    copies = repeated_runs()
    unexplained = {files: where for files, where in copies.items() if files not in ALLOWED_REPEATS}
    assert unexplained == {}


def test_the_allowed_repeats_still_exist() -> None:
    stale = set(ALLOWED_REPEATS) - set(repeated_runs())
    assert stale == set(), "no longer repeated: remove them from ALLOWED_REPEATS"


def test_it_finds_a_copied_run(tmp_path: Path) -> None:
    run = "\n".join(f"value_{n} = compute({n})" for n in range(MIN_RUN))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text(f"# comment\n{run}\n")
    (tmp_path / "app" / "b.py").write_text(f"import os\n\nfirst = 1\n{run}\n")
    (tmp_path / "app" / "c.py").write_text(run.replace("value_3", "other_3"))
    assert repeated_runs(tmp_path, ("app",)) == {
        "app/a.py ~ app/b.py": ["app/a.py:2", "app/b.py:4"]
    }
