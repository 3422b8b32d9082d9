"""The CSV import job (thin: load by id, call the service). Enqueued by `lead_import_create`."""

from __future__ import annotations

from config.jobs import job_logged
from leads.csv_io import lead_import_process


@job_logged
def run_lead_import(*, lead_import_id: str, organization_id: str) -> None:
    """Imports (or resumes) one upload; a finished import is left alone."""
    lead_import_process(lead_import_id=lead_import_id)
