from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from followup import channels
from followup.channels import ChannelError, ChannelResult


@dataclass
class FakeChannel:
    """A stand-in channel that records calls; a send with a key seen before is a no-op,
    like the WhatsApp client's idempotency key."""

    idempotent: bool = True
    errors: list[ChannelError] = field(default_factory=list)
    skip: str = ""
    skip_reason: str = "outro"
    calls: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, str] = field(default_factory=dict)

    def send(self, step: Any, execution: Any, lead: Any, rendered: Any) -> ChannelResult:
        key = f"followup:{execution.pk}:{execution.step_atual}"
        self.calls.append({"key": key, "lead": lead.pk, "text": rendered.mensagem})
        if self.errors:
            raise self.errors.pop(0)
        if self.skip:
            return ChannelResult.skipped(self.skip, self.skip_reason)
        self.delivered.setdefault(key, rendered.mensagem)
        return ChannelResult(detail="enviado (fake)")

    def close(self) -> None:
        return None


@pytest.fixture
def fake_whatsapp(monkeypatch: pytest.MonkeyPatch) -> FakeChannel:
    fake = FakeChannel()
    monkeypatch.setitem(channels.CHANNELS, "whatsapp", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def _locmem_email(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://app.exemplo.com.br"
