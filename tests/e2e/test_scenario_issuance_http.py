"""Scenario issuance on the users' behalf end to end over HTTP (issue 17), per profile: the periodic
campaign opens one case per scenario and closed period with the verification report attached; Ordos
verifies digitally (art. 15) and Shanghai has a commissioned verifier (art. 15); `issued` mints to the
enterprise's holding account with the per-user allocation and its Merkle root on the ledger entry
(Ordos arts. 12, 16); each user's lookup token opens their account, points and an inclusion proof a
client checks on its own; Shandong refuses moving points (编制说明 二(二)); a correction from an
evaluation's data-anomaly finding reverses users' reductions and cancels the units (Ordos art. 11)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from services.orchestration.dispatch import drain
from services.procedures import ledger
from services.procedures.scenarios.allocation import read_users
from services.procedures.scenarios.issuance import ISSUE_WORK, run_issue, run_scenario_campaign
from services.store.engine import Database
from services.store.tables import AuditEvent, Case, LedgerEntry, Outbox, ScenarioAllocation, ScenarioReport
from services.transparency import log as transparency_log
from states.scenarios import GRAMS_PER_TONNE
from tests.conftest import at
from tests.e2e.http import h
from tests.e2e.scenario_fixtures import (
    approve_period,
    issue_period,
    minted,
    rfc9162_root,
    scenario_with_data,
    send_days,
    token_for,
)
from tests.scenario_data import make_scenario, send_direct

pytestmark = pytest.mark.e2e

FEB = (date(2026, 2, 1), date(2026, 2, 28))


def check_proof(client: TestClient, token: str, period: str, root: str) -> dict:
    r = client.get("/api/v1/scenario-account/proof", params={"period": period}, headers={"X-Lookup-Token": token})
    assert r.status_code == 200, r.text
    p = r.json()
    got = rfc9162_root(p["leaf"].encode(), p["leaf_index"], p["tree_size"],
                       [bytes.fromhex(x) for x in p["inclusion_proof"]])
    assert got is not None and got.hex() == p["root"] == root
    # a leaf claiming one gram more does not verify against the root
    forged = p["leaf"].replace(f'"allocated_g":{p["leaf"].split(":")[1].split(",")[0]}',
                               f'"allocated_g":{int(p["leaf"].split(":")[1].split(",")[0]) + 1}')
    assert forged != p["leaf"]
    assert rfc9162_root(forged.encode(), p["leaf_index"], p["tree_size"],
                        [bytes.fromhex(x) for x in p["inclusion_proof"]]).hex() != root
    return p


def test_ordos_issues_on_users_behalf_with_proofs_points_and_correction(
        client: TestClient, db: Database, driver, test_clock, data_dir, log_key) -> None:
    pid = scenario_with_data(db, "ORD", *FEB)
    assert run_scenario_campaign(db, "ORD")["opened"] == 0  # 2026-03-02: February's late records may still come
    test_clock.set(at("2026-03-10 09:00"))
    cid, allocation = issue_period(client, db, "ORD", pid)
    # 9 users' 28 days: 6,077,960 g; the sum equals the block, the 77,960 g under a tonne carry per user
    assert allocation["reduction_g"] == 6_077_960 and allocation["users"] == 9
    assert allocation["block_t"] == 6 and allocation["allocated_g"] == 6 * GRAMS_PER_TONNE
    assert allocation["carry_g"] == 77_960
    with db.read() as s:
        entry = s.get(LedgerEntry, allocation["ledger_entry_id"])
        assert entry.kind == "issue" and entry.amount == 6 and allocation["root"] in entry.reference
        owner = s.get(Case, cid).applicant_org_id
        account = ledger.account_for(s, "ORD", owner, test_clock.now())
        assert ledger.balance(s, account.id, pid) == 6  # the enterprise holds them on the users' behalf
    # the officer's view of the case carries the report summary
    case = client.get(f"/api/v1/cases/{cid}", headers=h("ord_review_centre")).json()
    assert case["application"]["report"]["figures"]["participants"] == 9

    # only the enterprise hands out lookup tokens
    r = client.post(f"/api/v1/scenarios/{pid}/lookup-tokens", json={"user_id": "u-alice"}, headers=h("ord_approver"))
    assert r.status_code == 403
    bad = client.post(f"/api/v1/scenarios/{pid}/lookup-tokens", json={"user_id": "13812345678 x"},
                      headers=h("ord_applicant"))
    assert bad.status_code == 422
    alice, bob = token_for(client, "ORD", pid, "u-alice"), token_for(client, "ORD", pid, "u-bob")
    me = client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": alice}).json()
    row = me["periods"][0]
    assert row["period"] == "2026-02" and row["reduction_g"] == 28 * 28_000  # 200 km × 0.14 kg a day
    assert row["allocated_g"] + row["carry_out_g"] == 28 * 28_000
    assert row["points"] == row["allocated_g"] // 1000  # Ordos: 1 point per kg (the default rate)
    assert client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": "spa_wrong"}).status_code == 404
    # a replaced token stops working
    old = alice
    alice = token_for(client, "ORD", pid, "u-alice")
    assert client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": old}).status_code == 404
    check_proof(client, alice, "2026-02", allocation["root"])
    check_proof(client, bob, "2026-02", allocation["root"])
    # once sequenced, the ledger entry carrying the root is in the signed log
    transparency_log.sequence(db)
    p = client.get("/api/v1/scenario-account/proof", params={"period": "2026-02"},
                   headers={"X-Lookup-Token": alice}).json()
    assert p["log"] is not None and p["ledger_entry"]["reference"].endswith(allocation["root"])

    # points move between individuals in Ordos; the key makes a retry harmless
    send = {"to_user_id": "u-bob", "points": 100}
    r1 = client.post("/api/v1/scenario-account/transfers", json=send,
                     headers={"X-Lookup-Token": alice, "Idempotency-Key": "t1"})
    r2 = client.post("/api/v1/scenario-account/transfers", json=send,
                     headers={"X-Lookup-Token": alice, "Idempotency-Key": "t1"})
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    bob_points = client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": bob}).json()["points"]
    assert bob_points["received"] == 100 and bob_points["balance"] == bob_points["earned"] + 100
    over = client.post("/api/v1/scenario-account/transfers", json={"to_user_id": "u-bob", "points": 10**9},
                       headers={"X-Lookup-Token": alice, "Idempotency-Key": "t2"})
    assert over.status_code == 422 and over.json()["error"]["reasons"][0]["code"] == "points_not_enough"

    # public statistics: participants and reductions, no pseudonyms
    stats = client.get(f"/api/v1/public/scenarios/{pid}/statistics").json()
    assert stats["periods"][0]["participants"] == 9 and "u-alice" not in str(stats)

    # Ordos art. 11: an evaluation finds the data anomalous; alice's reductions are reversed
    ev = client.post(f"/api/v1/projects/{pid}/evaluations", headers=h("ord_case_officer"), json={
        "summary": "数据异常", "findings": [{"severity": "high", "category": "data_anomaly",
                                            "description": "u-alice 的骑行记录异常", "needs_action": False}]})
    assert ev.status_code == 201, ev.text
    evaluation = ev.json()["evaluation_id"] if "evaluation_id" in ev.json() else ev.json()["id"]
    body = {"evaluation_id": evaluation, "period": "2026-02", "users": [{"user_id": "u-alice"}],
            "reason": "骑行记录异常"}
    refused = client.post(f"/api/v1/scenarios/{pid}/corrections", headers=h("ord_case_officer"), json={
        **body, "users": [{"user_id": "u-nobody"}, {"user_id": "u-bob", "reduction_g": 10**9}]})
    assert refused.status_code == 422
    assert {r["code"] for r in refused.json()["error"]["reasons"]} == {
        "scenario_correction_unknown_user", "scenario_correction_over_reduction"}
    assert all(r["zh"] and r["en"] for r in refused.json()["error"]["reasons"])
    done = client.post(f"/api/v1/scenarios/{pid}/corrections", headers=h("ord_case_officer"), json=body)
    assert done.status_code == 201, done.text
    c = done.json()
    # 6,077,960 − 784,000 g: a block of 5 t, one tonne cancelled from the holding account
    assert c["reversed_g"] == 784_000 and c["cancelled_t"] == 1 and c["new_root"] != allocation["root"]
    again = client.post(f"/api/v1/scenarios/{pid}/corrections", headers=h("ord_case_officer"), json=body)
    assert again.json()["id"] == c["id"]  # idempotent
    with db.read() as s:
        assert ledger.balance(s, account.id, pid) == 5
        fixed = s.get(ScenarioAllocation, allocation["id"])
        assert fixed.allocated_g == 5 * GRAMS_PER_TONNE and fixed.corrected_g == 784_000
        assert "evaluation #" in s.get(LedgerEntry, c["ledger_entry_id"]).reference
        assert ledger.verify(s, ["ORD"])["ok"]
    me = client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": alice}).json()
    assert me["periods"][0]["allocated_g"] == 0 and me["periods"][0]["reversed_g"] == 784_000
    # the points alice's reductions earned are withdrawn in full; the 100 she sent stay bob's, so she owes 100
    # (offset against her next awards) and sends nothing meanwhile
    row = me["periods"][0]
    assert row["points"] == 0 and row["points_reversed"] == row["points_awarded"] == row["issued_g"] // 1000 > 0
    assert me["points"] | {"basis": None} == {
        **me["points"], "reversed": row["points_awarded"], "earned": 0, "sent": 100, "balance": -100,
        "available": 0, "owed": 100, "basis": None}
    assert me["points"]["basis"]["zh"] == "（鄂尔多斯办法第十一条）"
    owed = client.post("/api/v1/scenario-account/transfers", json={"to_user_id": "u-bob", "points": 1},
                       headers={"X-Lookup-Token": alice, "Idempotency-Key": "t3"})
    assert owed.status_code == 422 and owed.json()["error"]["reasons"][0]["code"] == "points_owed"
    said = owed.json()["error"]["reasons"][0]
    assert "100" in said["zh"] and "鄂尔多斯办法第十一条" in said["zh"] and "Ordos art. 11" in said["en"]
    assert client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": bob}).json()["points"]["received"] == 100
    check_proof(client, bob, "2026-02", c["new_root"])

    # units no longer there (cancelled by other means): a further correction is refused, naming them
    ev2 = client.post(f"/api/v1/projects/{pid}/evaluations", headers=h("ord_case_officer"), json={
        "summary": "数据异常二", "findings": [{"severity": "high", "category": "data_anomaly",
                                              "description": "u-bob 异常", "needs_action": False}]}).json()
    with db.write() as s:
        ledger.cancel(s, jurisdiction="ORD", account_id=account.id, amount=5, project_id=pid, vintage=2026,
                      actor_id=None, now=test_clock.now(), reference="test: units gone")
    gone = client.post(f"/api/v1/scenarios/{pid}/corrections", headers=h("ord_case_officer"), json={
        **body, "evaluation_id": ev2.get("evaluation_id", ev2.get("id")), "users": [{"user_id": "u-bob"}]})
    assert gone.status_code == 422 and gone.json()["error"]["reasons"][0]["code"] == "scenario_units_gone"


def test_the_approval_hands_the_minting_to_the_dispatcher_which_mints_once_even_after_a_crash(
        client: TestClient, db: Database, driver, test_clock, data_dir, monkeypatch) -> None:
    pid = scenario_with_data(db, "ORD", *FEB)
    test_clock.set(at("2026-03-10 09:00"))
    cid = approve_period(client, db, "ORD", pid)  # returns with nothing minted (checked in approve_period)
    with db.read() as s:
        work = s.exec(select(Outbox).where(col(Outbox.case_id) == cid, col(Outbox.kind) == ISSUE_WORK)).one()
        events = [e.event for e in s.exec(select(AuditEvent).where(col(AuditEvent.case_id) == cid))]
        assert work.status == "pending" and "scenario_issued" not in events

    # the power goes after the files are written, before the commit: nothing recorded, the row is retried
    def cut(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")
    monkeypatch.setattr(ledger, "mint", cut)
    assert drain(db)["pending"] == 1
    assert minted(client, db, "ORD", cid) is None
    issuance = client.get(f"/api/v1/cases/{cid}", headers=h("ord_review_centre")).json()["scenario_issuance"]
    assert issuance["minting"]["status"] == "retrying" and "power cut" in issuance["minting"]["last_error"]
    assert issuance["minting"]["label"]["zh"] and issuance["minting"]["label"]["en"]
    monkeypatch.undo()
    test_clock.advance(timedelta(minutes=1))  # past the first back-off
    assert drain(db)["done"] == 1
    allocation = minted(client, db, "ORD", cid)  # one issue entry, the case shows it done
    assert allocation is not None and allocation["block_t"] == 6

    # the work run again — directly, and the row delivered again — changes nothing: minted once
    assert run_issue(db, cid) == allocation["id"]
    with db.write() as s:
        row = s.get(Outbox, work.id)
        row.status, row.attempts = "pending", 0
        s.add(row)
    assert drain(db)["done"] == 1
    assert minted(client, db, "ORD", cid) == allocation
    with db.read() as s:
        account = ledger.account_for(s, "ORD", s.get(Case, cid).applicant_org_id, test_clock.now())
        assert ledger.balance(s, account.id, pid) == 6 and ledger.verify(s, ["ORD"])["ok"]
        events = [e.event for e in s.exec(select(AuditEvent).where(col(AuditEvent.case_id) == cid))]
        assert events.count("scenario_issued") == 1
    # the event sits on the case's hash chain like a command's: the chains verify
    assert client.get("/api/v1/audit/verify", headers=h("demo_admin")).json()["ok"] is True
    # the allocation sums to the block, and a user's inclusion proof leads to the root on the ledger entry
    users = read_users(allocation["path"])
    assert sum(r["allocated_g"] for r in users.values()) == 6 * GRAMS_PER_TONNE
    check_proof(client, token_for(client, "ORD", pid, "u-carol"), "2026-02", allocation["root"])


def test_minting_refused_on_an_altered_file_is_dead_lettered_shown_on_the_case_and_sent_again(
        client: TestClient, db: Database, driver, test_clock, data_dir) -> None:
    pid = scenario_with_data(db, "ORD", *FEB)
    test_clock.set(at("2026-03-10 09:00"))
    cid = approve_period(client, db, "ORD", pid)
    report_id = client.get(f"/api/v1/cases/{cid}", headers=h("ord_review_centre")).json()["scenario_issuance"][
        "report_id"]
    with db.read() as s:
        users_file = Path(s.get(ScenarioReport, report_id).users_path)
    kept = users_file.read_bytes()
    users_file.write_bytes(kept + b"x")  # the report's users file no longer matches its SHA-256
    assert drain(db)["dead"] == 1  # a refusal does not heal by retrying
    minting = client.get(f"/api/v1/cases/{cid}", headers=h("ord_review_centre")).json()["scenario_issuance"][
        "minting"]
    assert minting["status"] == "failed" and "SHA-256" in minting["last_error"]
    assert minted(client, db, "ORD", cid) is None
    dead = client.get("/api/v1/admin/outbox", params={"status": "dead"}, headers=h("demo_admin")).json()["items"]
    row = next(r for r in dead if r["case_id"] == cid)
    users_file.write_bytes(kept)  # the file restored, an administrator sends the work again
    assert client.post(f"/api/v1/admin/outbox/{row['id']}/retry", headers=h("demo_admin")).status_code == 200
    assert drain(db)["done"] == 1
    assert minted(client, db, "ORD", cid)["block_t"] == 6


def test_points_owed_after_a_correction_are_offset_against_the_next_awards(
        client: TestClient, db: Database, driver, test_clock, data_dir) -> None:
    pid = scenario_with_data(db, "ORD", *FEB)
    test_clock.set(at("2026-03-10 09:00"))
    issue_period(client, db, "ORD", pid)
    alice = token_for(client, "ORD", pid, "u-alice")
    earned = client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": alice}).json()["points"]["earned"]
    assert client.post("/api/v1/scenario-account/transfers", json={"to_user_id": "u-bob", "points": earned - 10},
                       headers={"X-Lookup-Token": alice, "Idempotency-Key": "all"}).status_code == 201
    ev = client.post(f"/api/v1/projects/{pid}/evaluations", headers=h("ord_case_officer"), json={
        "summary": "数据异常", "findings": [{"severity": "high", "category": "data_anomaly",
                                            "description": "u-alice 异常", "needs_action": False}]}).json()
    done = client.post(f"/api/v1/scenarios/{pid}/corrections", headers=h("ord_case_officer"), json={
        "evaluation_id": ev.get("evaluation_id", ev.get("id")), "period": "2026-02",
        "users": [{"user_id": "u-alice"}], "reason": "异常"})
    assert done.status_code == 201, done.text
    points = client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": alice}).json()["points"]
    assert (points["owed"], points["available"]) == (earned - 10, 0)  # withdrawn in full, beyond the 10 left
    # March: alice rides again; her new points pay what she owes first
    send_days(db, pid, date(2026, 3, 1), date(2026, 3, 31))
    test_clock.set(at("2026-04-10 09:00"))
    issue_period(client, db, "ORD", pid)
    me = client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": alice}).json()
    march = me["periods"][1]
    assert march["period"] == "2026-03" and march["points"] > earned - 10
    assert me["points"]["owed"] == 0 and me["points"]["available"] == march["points"] - (earned - 10)
    assert client.post("/api/v1/scenario-account/transfers", json={"to_user_id": "u-bob", "points": 1},
                       headers={"X-Lookup-Token": alice, "Idempotency-Key": "again"}).status_code == 201


def test_shanghai_commissions_a_verifier_and_issues_annually(client: TestClient, db: Database, driver, test_clock,
                                                              data_dir) -> None:
    pid = scenario_with_data(db, "SH", date(2025, 6, 1), date(2025, 6, 28))
    cid, allocation = issue_period(client, db, "SH", pid)
    # annual (art. 15); 2025's factors: 0.20 − 0.04 kg/km
    assert allocation["period"] == "2025" and allocation["vintage"] == 2025
    assert allocation["block_t"] == allocation["reduction_g"] // GRAMS_PER_TONNE > 0
    token = token_for(client, "SH", pid, "u-carol")
    p = check_proof(client, token, "2025", allocation["root"])
    assert p["tree_size"] == 9


def test_shandong_points_do_not_move_between_individuals(client: TestClient, db: Database, driver, test_clock,
                                                          data_dir) -> None:
    pid = scenario_with_data(db, "SD", *FEB)
    test_clock.set(at("2026-03-10 09:00"))
    # the campaign on demand: staff only, a known jurisdiction
    assert client.post("/api/v1/jurisdictions/SD/scenario-campaign", headers=h("sd_applicant")).status_code == 403
    assert client.post("/api/v1/jurisdictions/XX/scenario-campaign", headers=h("sd_case_officer")).status_code == 422
    issue_period(client, db, "SD", pid)
    alice = token_for(client, "SD", pid, "u-alice")
    assert client.get("/api/v1/scenario-account", headers={"X-Lookup-Token": alice}).json()["points"][
        "transferable"] is False
    r = client.post("/api/v1/scenario-account/transfers", json={"to_user_id": "u-bob", "points": 1},
                    headers={"X-Lookup-Token": alice, "Idempotency-Key": "k"})
    assert r.status_code == 422
    refusal = r.json()["error"]["reasons"][0]
    assert refusal["code"] == "points_not_transferable" and "编制说明" in refusal["zh"] and refusal["en"]


def test_the_daily_flow_opens_the_period_case_the_campaign_opens(db: Database, driver, test_clock, data_dir
                                                                  ) -> None:
    """Flows call what tests call: the scenario campaign flow runs run_scenario_campaign (once per period), and
    after the approval the dispatch flow mints and allocates (once, however often it runs)."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.campaign import scenario_campaign_flow
    from flows.common import use_database
    from flows.dispatch import dispatch_flow
    from tests.e2e.test_flows import run_flow

    pid = scenario_with_data(db, "ORD", *FEB)
    # a scenario whose methodology declares no quantification cannot be verified: counted, the other opens
    broken = make_scenario(db, "ORD", quantification=None, title="无量化")
    send_direct(db, broken, "records", "x1", date(2026, 2, 3), [("x1", "u1", "metro_trip", "1", "2026-02-02")])
    test_clock.set(at("2026-03-10 09:00"))
    use_database(db)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            first = run_flow(scenario_campaign_flow("ORD"))
            again = run_flow(scenario_campaign_flow("ORD"))
            with db.read() as s:
                case = s.exec(select(Case).where(col(Case.procedure) == "scenario_issuance")).one()
            assert (case.project_id, case.application["period"], case.state) == (pid, "2026-02", "technical_review")
            driver.act("ord_review_centre", case.id, "pass_review", {"opinion": "数字化核证报告审核通过"})
            assert driver.act("ord_approver", case.id, "approve", {}) == "issued"
            with db.read() as s:
                assert s.exec(select(ScenarioAllocation)).first() is None  # nothing minted by the approval
            run_flow(dispatch_flow("test"))
            run_flow(dispatch_flow("test"))
    finally:
        use_database(None)
    assert (first["opened"], first["refused"], again["opened"]) == (1, 1, 0)
    with db.read() as s:
        allocation = s.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.case_id) == case.id)).one()
        issued = s.exec(select(LedgerEntry).where(col(LedgerEntry.case_id) == case.id,
                                                  col(LedgerEntry.kind) == "issue")).all()
        assert [e.amount for e in issued] == [allocation.block_t] == [6]
        assert allocation.root in issued[0].reference
