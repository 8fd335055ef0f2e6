"""Jiaxing art. 11 (seeds/003_4691f5d268057b21.txt: 关键参数……及时进行更新、公示), the review centre's part: the
sweep opens one task per parameter whose source is older than the profile's year (again only once it is
stale again; nothing elsewhere); the review centre updates it (a newer, current source; the old value kept
and shown) or confirms the source is still the latest (current from that day); the public page says which."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.procedures.methodologies import open_parameter_reviews
from services.store.engine import Database
from services.store.tables import Case
from tests.e2e.http import act, h
from tests.e2e.test_parameters_http import version_id

pytestmark = pytest.mark.e2e


def _reviews(db: Database, version: int) -> list[Case]:
    with db.read() as s:
        return [c for c in s.exec(select(Case).where(Case.procedure == "parameter_review").order_by(Case.id))
                if c.application["version_id"] == version]


def test_the_review_centre_updates_or_confirms_each_stale_parameter_once(client: TestClient, db: Database,
                                                                         test_clock) -> None:
    pv = version_id(client, "JX")
    (param,) = client.get(f"/api/v1/public/methodologies/{pv}").json()["parameters"]
    first = open_parameter_reviews(db, test_clock.now())
    assert first["opened"] >= 1
    assert open_parameter_reviews(db, test_clock.now()) == {"opened": 0, "skipped": first["opened"]}  # idempotent
    with db.read() as s:
        assert {c.jurisdiction for c in s.exec(select(Case).where(Case.procedure == "parameter_review"))} == {"JX"}
    (review,) = _reviews(db, pv)
    assert review.application["parameter"] == param["name"]
    queue = client.get("/api/v1/tasks", params={"view": "team", "kind": "parameter_review"},
                       headers=h("jx_review_centre")).json()["items"]
    (task,) = [t for t in queue if t["case_id"] == review.id]
    assert task["due_on"]  # 及时: within the profile's working days (sla.parameter_review)

    # an update brings a current source: an old or future date is refused, with the reason
    update = {"value": "0.5366", "unit": param["unit"], "source": "生态环境部 2025年电力碳足迹因子",
              "source_date": "2026-01-15", "note": "采用最新公布数据"}
    for stale_or_future, code in (("2024-01-01", "parameter_source_still_stale"),
                                  ("2027-01-01", "parameter_source_future")):
        bad = act(client, "jx_review_centre", review.id, "update_parameter",
                  {**update, "source_date": stale_or_future}, expect=422)["error"]["reasons"]
        assert [r["code"] for r in bad] == [code] and bad[0]["zh"] and bad[0]["en"]
    act(client, "jx_applicant", review.id, "update_parameter", update, expect=404)  # the review centre's work
    assert act(client, "jx_review_centre", review.id, "update_parameter", update)["state"]["name"] == "updated"
    public = client.get(f"/api/v1/public/methodologies/{pv}").json()
    (now_param,) = public["parameters"]
    assert (now_param["value"], now_param["source_date"]) == ("0.5366", "2026-01-15")
    assert now_param["history"][0]["value"] == param["value"] and param["name"] not in public["stale_parameters"]
    assert f"{param['value']}" in client.get(f"/public/registry/methodologies/{pv}").text
    assert open_parameter_reviews(db, test_clock.now())["opened"] == 0  # current now: nothing new

    # a year on it is stale again: a new task, and this time the source is confirmed as still the latest
    test_clock.advance(timedelta(days=400))
    assert open_parameter_reviews(db, test_clock.now())["opened"] >= 1
    again = _reviews(db, pv)[-1]
    assert again.id != review.id
    done = act(client, "jx_review_centre", again.id, "confirm_parameter",
               {"checked_source": "生态环境部官网", "note": "尚未发布新数据，仍为最新"})
    assert done["state"]["name"] == "confirmed"
    public = client.get(f"/api/v1/public/methodologies/{pv}").json()
    assert public["parameters"][0]["confirmed_on"] and param["name"] not in public["stale_parameters"]
    assert "data-confirmed" in client.get(f"/public/registry/methodologies/{pv}").text
