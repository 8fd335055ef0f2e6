"""The HTTP client over the ASGI app, on the test's database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.api import create_app
from services.store.engine import Database


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(db))
