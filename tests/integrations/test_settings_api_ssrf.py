from __future__ import annotations

import pytest

from tests.integrations.test_outbound_guard import resolver  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

URL = "/api/v1/integrations/crm-connections/"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.hubapi.com",
        "https://localhost:8080",
        "https://127.0.0.1",
        "https://10.0.0.5",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://metadata.internal",
    ],
)
def test_it_refuses_internal_base_urls_in_production(org_a, client_for, settings, base_url):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    response = client_for(org_a.admin).post(
        URL, {"provider": "hubspot", "token": "t0k3n", "api_base_url": base_url}, format="json"
    )
    assert response.status_code == 400
    assert "api_base_url" in response.json()["details"]


def test_it_accepts_a_public_https_base_url_in_production(org_a, client_for, settings, resolver):  # noqa: F811
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    response = client_for(org_a.admin).post(
        URL,
        {"provider": "hubspot", "token": "t0k3n", "api_base_url": "https://proxy.example.com"},
        format="json",
    )
    assert response.status_code == 201, response.json()
