"""Fixture loading shared by the integration client tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load_fixture(name: str) -> Any:
    return json.loads(fixture_bytes(name))
