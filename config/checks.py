"""Start-up checks of the production configuration (Django's system check framework).

Registered without the `deploy` tag, so every command that runs the checks refuses to start
with an Error: `manage.py check` (with or without `--deploy`), `runserver`, `migrate`, and
gunicorn through `config.wsgi` (which runs them before serving). With DEBUG on (a developer
machine, the tests) they are silent.

- `config.E001`: `/metrics` would be open: neither `METRICS_TOKEN` nor `METRICS_ALLOWED_IPS` set.
- `config.E002`: the console email backend would print whole emails (recipient, name, body)
  to the process log, past the log redaction: production needs a real backend (`EMAIL_URL`
  `smtp://...` or `EMAIL_PROVIDER`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

CONSOLE_BACKENDS = {"django.core.mail.backends.console.EmailBackend"}


def production_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.DEBUG:
        return []
    errors: list[Error] = []
    if not (getattr(settings, "METRICS_TOKEN", "") or getattr(settings, "METRICS_ALLOWED_IPS", [])):
        errors.append(
            Error(
                "/metrics would be open to anyone: it shows per-organization counts.",
                hint="Set METRICS_TOKEN (scrape with a Bearer token) and/or METRICS_ALLOWED_IPS.",
                id="config.E001",
            )
        )
    if settings.EMAIL_BACKEND in CONSOLE_BACKENDS:
        errors.append(
            Error(
                "The console email backend prints whole emails (address, name, body) to the log.",
                hint="Set EMAIL_URL (smtp://...) or EMAIL_PROVIDER for production.",
                id="config.E002",
            )
        )
    return errors


def register_all() -> None:
    """Called by ProjectConfig.ready()."""
    register(production_settings, Tags.security)


def refuse_unsafe_start() -> None:
    """Run the security checks at process start (gunicorn does not run Django's checks) and
    stop with their messages when one is an Error."""
    from django.core.checks import run_checks
    from django.core.exceptions import ImproperlyConfigured

    errors = [m for m in run_checks(tags=[Tags.security]) if m.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{m.id}: {m.msg} {m.hint}" for m in errors))
