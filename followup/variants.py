"""A/B message variants of a step: which one an execution gets.

A step of kind email or whatsapp may carry ``variantes``: ``[{"id": "a", "mensagem": ...,
"assunto": ..., "peso": 1}, ...]`` (validated in `followup.validation`). Each execution gets
one variant per step, chosen by weight from a stable hash of (execution id, step index): the
same execution always gets the same variant (a retry, a takeover after a crash, a reload of
the stats), and over many executions the split follows the weights. The chosen id is kept on
the step record (`FollowupStepRun.variant`) and the execution log (`variante`).
"""

from __future__ import annotations

import hashlib
from typing import Any

#: The fields a variant may replace in its step.
VARIANT_TEXT_FIELDS = ("assunto", "mensagem")


def choose_variant(step: dict[str, Any], execution_id: Any, index: int) -> dict[str, Any] | None:
    """The variant of ``step`` for this execution (None: the step has no variants)."""
    variants = step.get("variantes") or []
    if not variants:
        return None
    weights = [max(int(variant.get("peso") or 1), 1) for variant in variants]
    digest = hashlib.sha256(f"{execution_id}:{index}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(weights)
    for variant, weight in zip(variants, weights, strict=True):
        if point < weight:
            return dict(variant)
        point -= weight
    return dict(variants[-1])  # pragma: no cover - the loop always returns


def step_with_variant(step: dict[str, Any], variant: dict[str, Any] | None) -> dict[str, Any]:
    """The step as sent: the variant's texts over the step's own (absent ones keep the step's)."""
    if variant is None:
        return step
    merged = {key: value for key, value in step.items() if key != "variantes"}
    for name in VARIANT_TEXT_FIELDS:
        if variant.get(name):
            merged[name] = variant[name]
    return merged
