"""Jiaxing art. 11 over HTTP (seeds/003_4691f5d268057b21.txt): a methodology whose key parameter's source is
older than the profile's year is marked on its public record and page; Shanghai's same parameter is not."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.e2e


def version_id(client: TestClient, code: str) -> int:
    items = client.get("/api/v1/public/methodologies", params={"jurisdiction": code, "code": f"{code}-M-PV-001"})
    return items.json()["items"][0]["id"]


def test_jiaxing_marks_a_stale_parameter_and_shanghai_does_not(client: TestClient, test_clock) -> None:
    jx = client.get(f"/api/v1/public/methodologies/{version_id(client, 'JX')}").json()
    (param,) = jx["parameters"]
    assert param["source_date"] == "2024-12-23" and jx["stale_parameters"] == [param["name"]]  # on 2026-03-02
    page = client.get(f"/public/registry/methodologies/{version_id(client, 'JX')}")
    assert "嘉兴办法第十一条" in page.text
    sh = client.get(f"/api/v1/public/methodologies/{version_id(client, 'SH')}").json()
    assert sh["stale_parameters"] == []
    assert "嘉兴办法第十一条" not in client.get(f"/public/registry/methodologies/{version_id(client, 'SH')}").text
