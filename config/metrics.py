"""Application metrics (Prometheus), defined once so every app increments the same series.

Exposed at /metrics by django-prometheus. Label values must stay low-cardinality: ids of
organizations are fine (few), lead ids or phone numbers never.
"""

from __future__ import annotations

from prometheus_client import Counter

LEADS_CREATED = Counter("leads_created_total", "Leads created", ["organization_id"])
INTERACTIONS_CREATED = Counter(
    "interactions_created_total", "Lead interactions created", ["organization_id", "tipo_interacao"]
)
FOLLOWUP_STEPS = Counter(
    "followup_steps_total",
    "Follow-up steps by channel and outcome (executed, skipped, retried, failed)",
    ["channel", "outcome"],
)
WEBHOOK_NOTIFICATIONS = Counter(
    "webhook_notifications_total",
    "Inbound webhook notifications by provider and outcome (accepted, rejected, ignored)",
    ["provider", "outcome"],
)
CRM_SYNC = Counter(
    "crm_sync_total", "CRM sync attempts by provider and outcome", ["provider", "outcome"]
)
