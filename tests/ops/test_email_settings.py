"""EMAIL_URL / EMAIL_PROVIDER as docs/deploy.md shows them (SendGrid SMTP relay, Brevo)."""

from __future__ import annotations

import json

import pytest

from tests.ops.conftest import PYTHON, ROOT

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

_PRINT_EMAIL_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
names = ["EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
         "EMAIL_USE_TLS", "EMAIL_USE_SSL"]
out = {name: getattr(settings, name) for name in names}
out["ANYMAIL"] = getattr(settings, "ANYMAIL", None)
print(json.dumps(out))
"""


def _email_settings(subprocess_env, **env: str) -> dict:
    import subprocess

    result = subprocess.run(
        [PYTHON, "-c", _PRINT_EMAIL_SETTINGS],
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_reads_sendgrids_smtp_relay_from_email_url(subprocess_env):
    # The key percent-encodes "/" and "+" as docs/deploy.md says.
    got = _email_settings(
        subprocess_env,
        EMAIL_URL="smtp+tls://apikey:SG.abc%2Fdef%2Bghi@smtp.sendgrid.net:587",
    )

    assert got["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert got["EMAIL_HOST"] == "smtp.sendgrid.net"
    assert got["EMAIL_PORT"] == 587
    assert got["EMAIL_HOST_USER"] == "apikey"
    assert got["EMAIL_HOST_PASSWORD"] == "SG.abc/def+ghi"
    assert got["EMAIL_USE_TLS"] is True
    assert got["EMAIL_USE_SSL"] is False


def test_it_reads_implicit_tls_on_port_465(subprocess_env):
    got = _email_settings(subprocess_env, EMAIL_URL="smtp+ssl://apikey:SG.k@smtp.sendgrid.net:465")

    assert got["EMAIL_PORT"] == 465
    assert got["EMAIL_USE_SSL"] is True
    assert got["EMAIL_USE_TLS"] is False


def test_it_sends_through_brevo_with_anymail(subprocess_env):
    got = _email_settings(
        subprocess_env, EMAIL_PROVIDER="brevo", BREVO_API_KEY="xkeysib-123", EMAIL_TIMEOUT="7"
    )

    assert got["EMAIL_BACKEND"] == "anymail.backends.brevo.EmailBackend"
    assert got["ANYMAIL"]["BREVO_API_KEY"] == "xkeysib-123"
    assert got["ANYMAIL"]["REQUESTS_TIMEOUT"] == 7.0
