"""The CSV import job (thin: load by id, call the service). Enqueued by `lead_import_create`."""

from __future__ import annotations

from config.context import bind_via
from config.jobs import deferred_jobs, job_logged
from leads.csv_io import lead_import_process


@job_logged
def run_lead_import(*, lead_import_id: str, organization_id: str) -> None:
    """Imports (or resumes) one upload; a finished import is left alone.

    Follow-on work of the imported leads (CRM sync, scores, follow-up enrollment) collects in
    its pending sets as batches commit, and its jobs are enqueued once, when the import ends:
    one bulk CRM sync for the whole file (config.jobs.deferred_jobs)."""
    # Leads written here are recorded as coming from an import (audit trail, consent ledger).
    with deferred_jobs(), bind_via("import"):
        lead_import_process(lead_import_id=lead_import_id)
