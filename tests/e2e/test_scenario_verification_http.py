"""Digital verification of a scenario period through the API (Ordos art. 15: 减排场景减排量优先以数字化方式核证;
Shanghai art. 15: issued annually; art. 22: data quality and privacy): run by the review centre or an
officer, read by staff of the jurisdiction, refused with every reason in Chinese and English, idempotent,
and a new version when the inputs change. Batches are sent through the intake API with a feed credential."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from services.store.engine import Database
from states.scenarios import CONSENT_COLUMNS, RECORD_COLUMNS
from tests.conftest import at
from tests.e2e.http import h
from tests.scenario_data import Send, february, make_scenario, scenario_files  # noqa: F401 - pytest fixtures
from tests.scenarios_setup import as_csv, sha

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("scenario_files")]



def through_the_api(client: TestClient, officer: str) -> Send:
    """Each batch sent as the scenario enterprise would: a feed credential (issued by an officer), then the
    file with its metadata to the intake API."""
    tokens: dict[int, str] = {}

    def send(pid: int, kind: str, batch_id: str, day: date, rows: list[tuple[str, ...]]) -> object:
        if pid not in tokens:
            r = client.post(f"/api/v1/scenarios/{pid}/feed/credential", headers=h(officer))
            assert r.status_code == 201, r.text
            tokens[pid] = r.json()["token"]
        data = as_csv(RECORD_COLUMNS if kind == "records" else CONSENT_COLUMNS, rows)
        r = client.post(f"/api/v1/scenarios/{pid}/{kind}", headers={"Authorization": f"Bearer {tokens[pid]}"},
                        files={"file": (f"{batch_id}.csv", data)},
                        data={"batch_id": batch_id, "business_date": day.isoformat(), "record_count": str(len(rows)),
                              "sha256": sha(data)})
        assert r.status_code == 201, r.text
        return r.json()
    return send


def _verify(client: TestClient, user: str, pid: int, period: str, expect: int, key: str | None = None) -> dict:
    headers = {**h(user), **({"Idempotency-Key": key} if key else {})}
    r = client.post(f"/api/v1/scenarios/{pid}/periods/{period}/verification", headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


def test_ordos_the_review_centre_verifies_a_month_and_staff_read_the_report(client: TestClient, db: Database,
                                                                           test_clock) -> None:
    test_clock.set(at("2026-03-12 09:00"))  # every batch's business date has passed
    via = through_the_api(client, "ord_case_officer")
    pid = february(db, "ORD", via=via)
    report = _verify(client, "ord_review_centre", pid, "2026-02", 201)
    f = report["figures"]
    assert (report["period"], report["version"], report["latest"]) == ("2026-02", 1, True)
    assert f["totals"]["reduction_g"] == 34700 and f["participants"] == 2
    assert f["exclusions"]["no_consent"] == 3 and f["exclusions"]["back_dated"] == 1
    assert f["pii"]["pii_phone"] == 1
    assert report["labels"]["no_consent"]["zh"].startswith("活动日无用户授权")
    assert report["labels"]["pii_phone"]["en"].startswith("Looks like a mobile number")
    # the same inputs: the same report (200), whoever asks and with whatever key
    again = _verify(client, "ord_case_officer", pid, "2026-02", 200, key="k-1")
    assert (again["id"], again["digest"]) == (report["id"], report["digest"])
    assert _verify(client, "ord_case_officer", pid, "2026-02", 200, key="k-1")["id"] == report["id"]
    # the approver reads it; another jurisdiction's staff do not see the scenario at all
    r = client.get(f"/api/v1/scenarios/{pid}/periods/2026-02/verification", headers=h("ord_approver"))
    assert r.status_code == 200 and r.json()["digest"] == report["digest"]
    assert client.get(f"/api/v1/scenarios/{pid}/periods/2026-02/verification",
                      headers=h("sh_review_centre")).status_code == 404
    assert client.post(f"/api/v1/scenarios/{pid}/periods/2026-02/verification",
                       headers=h("sh_review_centre")).status_code == 404
    refused = client.post(f"/api/v1/scenarios/{pid}/periods/2026-02/verification", headers=h("ord_approver"))
    assert refused.status_code == 403 and refused.json()["error"]["reasons"][0]["code"] == "role_required"
    assert client.post(f"/api/v1/scenarios/{pid}/periods/2026-02/verification").status_code == 401
    # a late batch within the period's late days: a new version, the first kept
    via(pid, "records", "d0303", date(2026, 3, 3), [("r14", "u2", "metro_trip", "10", "2026-02-14")])
    newer = _verify(client, "ord_review_centre", pid, "2026-02", 201)
    assert newer["version"] == 2 and newer["figures"]["totals"]["reduction_g"] == 34700 + 1400
    listed = client.get(f"/api/v1/scenarios/{pid}/reports", headers=h("ord_approver")).json()["items"]
    assert [(i["id"], i["version"], i["latest"]) for i in listed] == [(newer["id"], 2, True), (report["id"], 1, False)]
    first = client.get(f"/api/v1/scenarios/{pid}/reports/{report['id']}", headers=h("ord_approver")).json()
    assert first["digest"] == report["digest"] and first["latest"] is False


def test_bad_requests_get_every_reason_in_chinese_and_english(client: TestClient, db: Database) -> None:
    bare = make_scenario(db, "ORD", quantification=None, title="无量化场景")
    r = client.post(f"/api/v1/scenarios/{bare}/periods/2026-13/verification", headers=h("ord_review_centre"))
    assert r.status_code == 422
    reasons = r.json()["error"]["reasons"]
    assert [x["code"] for x in reasons] == ["scenario_period_unknown", "scenario_no_quantification"]
    assert all(x["zh"] and x["en"] and x["zh"] != x["en"] for x in reasons)
    assert "2026-13" in reasons[0]["en"]
    r = client.post("/api/v1/scenarios/999999/periods/2026-02/verification", headers=h("ord_review_centre"))
    assert r.status_code == 404
    # the scenario enterprise reads its reports (it holds the reductions for its users, Ordos art. 16) but
    # verification is the platform's (art. 15): 403, not 404
    own = make_scenario(db, "ORD", title="企业自有场景", owner="ord_applicant")
    r = client.post(f"/api/v1/scenarios/{own}/periods/2026-02/verification", headers=h("ord_applicant"))
    assert r.status_code == 403 and r.json()["error"]["reasons"][0]["code"] == "role_required"
    _verify(client, "ord_review_centre", own, "2026-01", 201)
    assert client.get(f"/api/v1/scenarios/{own}/reports", headers=h("ord_applicant")).status_code == 200
    assert client.get(f"/api/v1/scenarios/{bare}/reports", headers=h("ord_applicant")).status_code == 404
    r = client.get(f"/api/v1/scenarios/{bare}/periods/2026-02/verification", headers=h("ord_review_centre"))
    assert r.status_code == 404  # not verified yet
    r = client.post(f"/api/v1/scenarios/{bare}/periods/2026-02/verification?engine=spark",
                    headers=h("ord_review_centre"))
    assert r.status_code == 422


def test_shanghai_verifies_a_year_and_excludes_days_without_a_parameter_in_force(client: TestClient,
                                                                                 db: Database) -> None:
    pid = make_scenario(db, "SH")
    send = through_the_api(client, "sh_case_officer")
    send(pid, "consents", "c1", date(2023, 1, 1), [("u1", "granted", "2023-01-01")])
    # the metro factor is registered from 2024-01-01: nothing is in force in 2023
    send(pid, "records", "d230601", date(2023, 6, 1), [("a1", "u1", "metro_trip", "10", "2023-06-01")])
    send(pid, "records", "d260105", date(2026, 1, 5), [("a2", "u1", "metro_trip", "10", "2026-01-05"),
                                                      ("a3", "u1", "bike_trip", "2.5", "2026-01-05")])
    monthly = client.post(f"/api/v1/scenarios/{pid}/periods/2026-01/verification", headers=h("sh_review_centre"))
    assert monthly.status_code == 422  # Shanghai issues annually (art. 15: 原则上每年签发一次)
    old = _verify(client, "sh_review_centre", pid, "2023", 201)
    assert old["figures"]["exclusions"]["no_parameter"] == 1 and old["figures"]["participants"] == 0
    assert old["figures"]["records"]["in_period"] == old["figures"]["records"]["counted"] + 1
    year = _verify(client, "sh_case_officer", pid, "2026", 201)
    # 10 km × (0.20 − 0.04) + 2.5 km × 0.20 (January 2026: the 2024 car factor; 0.18 from February)
    assert year["figures"]["totals"]["reduction_g"] == 1600 + 500
    assert len(year["figures"]["days"]) == 365 and year["figures"]["period"]["start"] == "2026-01-01"
    # the scale-out engine computes the same figures: the same digest, so the same report (issue 17 "Engines")
    r = client.post(f"/api/v1/scenarios/{pid}/periods/2026/verification?engine=dask", headers=h("sh_review_centre"))
    assert r.status_code == 200 and (r.json()["id"], r.json()["digest"]) == (year["id"], year["digest"])
