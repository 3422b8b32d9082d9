"""A port: WhatsApp to a lead, for the apps that may not import `integrations`.

`followup` sits beside `integrations` in the layers (`.importlinter`), so it cannot import the
WhatsApp services. It sends through the sender registered here instead; the integrations app
registers `integrations.whatsapp.services` at start-up (`IntegrationsConfig.ready`). A sender's
failures are `config.errors.ProviderError`s (`integrations.errors` derives from it): `retryable`
and `retry_after` say whether and when to try again.
"""

from __future__ import annotations

from typing import Protocol

from leads.models import Lead


class SentWhatsApp(Protocol):
    @property
    def wamid(self) -> str | None: ...


class WhatsAppSender(Protocol):
    """What `integrations.whatsapp.services` provides (see its module docstring)."""

    def whatsapp_window_open(self, *, lead: Lead) -> bool: ...

    def whatsapp_send_to_lead(
        self, *, lead: Lead, text: str | None, template_name: str | None, idempotency_key: str
    ) -> SentWhatsApp: ...


_sender: WhatsAppSender | None = None


def register_whatsapp_sender(sender: WhatsAppSender | None) -> None:
    global _sender
    _sender = sender


def whatsapp_sender() -> WhatsAppSender | None:
    """The registered sender, or None when no app provides WhatsApp."""
    return _sender
