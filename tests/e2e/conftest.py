"""The HTTP client over the ASGI app, on the test's database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.api import create_app
from services.store.engine import Database


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(db))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Each test's scenario files (SCENARIO_DATA_DIR) in a directory of its own."""
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    return tmp_path / "scenarios"
