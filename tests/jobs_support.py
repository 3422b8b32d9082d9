"""Job functions used by tests/test_jobs.py (importable by a worker subprocess)."""

from __future__ import annotations

from config.jobs import job_logged
from organizations.models import Organization


@job_logged
def rename_organization(*, organization_id: str, nome: str) -> str:
    """A job with a visible effect in the database."""
    Organization.objects.filter(pk=organization_id).update(nome=nome)
    return nome


@job_logged
def always_fails(*, organization_id: str | None = None) -> None:
    raise RuntimeError("falhou de propósito")
