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


@job_logged
def append_to_organization_name(*, organization_id: str, suffix: str) -> None:
    """Not idempotent on purpose: the name shows how many times the job ran."""
    from django.db.models import Value
    from django.db.models.functions import Concat

    Organization.objects.filter(pk=organization_id).update(nome=Concat("nome", Value(suffix)))


def tls_context_was_inherited() -> bool:
    """Run in a work horse: whether the outbound TLS context was already built when the job
    started (by the worker the horse was forked from)."""
    from integrations import net

    return net.tls_context.cache_info().currsize == 1
