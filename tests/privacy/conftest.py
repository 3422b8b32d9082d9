from __future__ import annotations

# The strict local stub server of the integration tests (unmatched or missing requests fail).
from tests.integrations.conftest import httpserver  # noqa: F401
