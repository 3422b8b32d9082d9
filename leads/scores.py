"""Lead scoring formulas (DOMAIN.md, "Scores"): pure functions, no database access."""

from __future__ import annotations

AUTHORITY_POINTS = {"decisor": 25, "influenciador": 15, "usuario": 5}
PRAZO_POINTS = {"imediato": 20, "curto": 12, "medio": 6}


def qualification_score(
    *,
    budget_confirmado: bool,
    authority_nivel: str | None,
    necessidade_identificada: bool,
    prazo_decisao: str | None,
) -> int:
    """BANT score 0-100: budget 30 + authority (25/15/5) + need 25 + timing (20/12/6)."""
    score = 30 if budget_confirmado else 0
    score += AUTHORITY_POINTS.get(authority_nivel or "", 0)
    score += 25 if necessidade_identificada else 0
    score += PRAZO_POINTS.get(prazo_decisao or "", 0)
    return score
