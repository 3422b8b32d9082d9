"""Structure rules checked on the source: no long functions in app code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "organizations", "leads", "mentorados", "followup", "integrations")
MAX_LINES = 60
# Longer functions not split yet, with their length today: they may shrink, never grow, and
# leave this list when they are split. New code gets no entry.
NOT_YET_SPLIT = {
    "config/admin_views.py:_sales": 155,
    "leads/demo.py:seed": 136,
    "config/admin_nav.py:sections": 75,
    "leads/services.py:_update_locked": 63,
    "integrations/whatsapp/inbound.py:inbound_message_process": 63,
    "mentorados/demo.py:seed": 109,
    "leads/dashboard.py:dashboard_top_closers": 72,
    "integrations/crm/hubspot.py:_batch_upsert": 71,
    "followup/services.py:followup_register_reply": 68,
    "followup/engine.py:_fail": 66,
    "leads/csv_io.py:_import_rows": 69,
    "integrations/whatsapp/inbound.py:webhook_receive": 62,
    "integrations/whatsapp/inbound.py:gateway_receive": 61,
    "leads/scoring.py:lead_scores_decay": 61,
    "integrations/whatsapp/services.py:_claim": 61,
}


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
