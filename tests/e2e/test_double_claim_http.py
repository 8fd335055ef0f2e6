"""No double claiming after the fact, end to end in Ordos (art. 17) and Shanghai (art. 14): the monitoring report
declares the reductions are not claimed elsewhere (422 citing the article without it), each issued block keeps
the declaration; an operator's finding that a block is claimed in another scheme freezes what is left of it
wherever held (a `freeze` journal entry in the public log, with its inclusion proof), opens a rectification,
and shows on the public registry; frozen units are neither transferred nor retired (422); an accepted
rectification releases them. Beijing's reports are as before and it has no such finding."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.procedures import ledger
from services.store.engine import Database
from services.store.tables import LedgerEntry, User
from services.transparency import check, leaves, log
from tests.e2e.http import act, h
from tests.e2e.test_issuance_http import registered_project, report, to_issued, upload_sheet
from tests.e2e.test_supervision_http import open_issuance

pytestmark = pytest.mark.e2e
ARTICLE = {"ORD": ("鄂尔多斯办法第十七条", "Ordos art. 17"), "SH": ("上海办法第十四条", "Shanghai art. 14")}


def _reasons(r) -> list[dict]:
    assert r.status_code == 422, r.text
    return r.json()["error"]["reasons"]


def _find(client: TestClient, code: str, serial: str, user: str | None = None, **extra) -> object:
    return client.post(f"/api/v1/jurisdictions/{code}/blocks/claimed-elsewhere", json={
        "serial": serial, "scheme": "CCER", "evidence": "在CCER登记簿中查到同一减排量", **extra},
        headers=h(user or f"{code.lower()}_operator"))


@pytest.mark.parametrize("code", ["ORD", "SH"])
def test_a_block_found_claimed_elsewhere_is_frozen_logged_rectified_and_released(
        client: TestClient, db: Database, driver, test_clock, log_key: str, code: str) -> None:
    low = code.lower()
    zh, en = ARTICLE[code]
    project = registered_project(db, driver, test_clock, code)
    cid = open_issuance(client, code, project)
    upload_sheet(client, code, cid)
    (why,) = act(client, f"{low}_applicant", cid, "submit_monitoring_report",
                 report(client, code, not_claimed_elsewhere=False), expect=422)["error"]["reasons"]
    assert why["code"] == "declaration_missing" and zh in why["zh"] and en in why["en"]
    to_issued(client, db, driver, test_clock, code, cid)
    (row,) = client.get("/api/v1/public/issuances", params={"jurisdiction": code}).json()["items"]
    assert (row["declared_not_claimed_elsewhere"], row["claimed_in"], row["frozen"]) == (True, None, False)
    serial = row["serials"]
    # units move on as usual: 300 to another holder, 100 retired by the owner
    with db.write() as s:
        orgs = [s.exec(select(User.org_id).where(User.username == u)).one() for u in (f"{low}_applicant",
                                                                                      f"{low}_applicant2")]
        owner, other = (ledger.account_for(s, code, o, test_clock.now()).id for o in orgs)
    assert client.post(f"/api/v1/jurisdictions/{code}/transfers", json={
        "from_account_id": owner, "to_account_id": other, "amount_tco2e": 300, "reference": f"EX-{code}-1"},
        headers=h(f"{low}_operator")).status_code == 201
    retire = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": code, "application": {
        "amount_tco2e": 100, "purpose": "voluntary", "purpose_detail": "自愿注销"}}, headers=h(f"{low}_applicant"))
    act(client, f"{low}_operator", retire.json()["id"], "approve", {"comments": "同意"})

    # the finding: only staff; frozen wherever held (retired units cannot be), a rectification opened
    assert _find(client, code, serial, f"{low}_applicant").status_code == 403
    found = _find(client, code, serial)
    assert found.status_code == 201, found.text
    body = found.json()
    assert body["frozen_tco2e"] == 1000 and len(body["frozen"]) == 2 and body["rectification_case_id"]
    assert [r["code"] for r in _reasons(_find(client, code, serial))] == ["already_found_elsewhere"]
    assert [r["code"] for r in _reasons(_find(client, code, serial.replace("-000001-", "-000002-")))] == [
        "issued_block_unknown"]
    (row,) = client.get("/api/v1/public/issuances", params={"jurisdiction": code}).json()["items"]
    assert (row["claimed_in"], row["frozen"]) == ("CCER", True) and row["found_on"]
    assert "CCER" in client.get("/public/registry/issuances", params={"jurisdiction": code}).text

    # frozen: no retirement, no transfer by amount or by range, for either holder
    for user in (f"{low}_applicant", f"{low}_applicant2"):
        r = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": code, "application": {
            "amount_tco2e": 10, "purpose": "voluntary", "purpose_detail": "x"}}, headers=h(user))
        frozen = [x for x in _reasons(r) if x["code"] == "units_frozen"]
        assert frozen and zh in frozen[0]["zh"] and en in frozen[0]["en"]
    moved = client.post(f"/api/v1/jurisdictions/{code}/transfers", json={
        "from_account_id": owner, "to_account_id": other, "amount_tco2e": 10, "reference": f"EX-{code}-2"},
        headers=h(f"{low}_operator"))
    assert [x["code"] for x in _reasons(moved)] == ["units_frozen"]
    piece = next(b for b in body["frozen"] if b.endswith("-000300"))
    by_range = client.post(f"/api/v1/jurisdictions/{code}/transfers", json={
        "from_account_id": other, "to_account_id": owner, "amount_tco2e": 300, "serials": piece,
        "reference": f"EX-{code}-3"}, headers=h(f"{low}_operator"))
    assert [x["code"] for x in _reasons(by_range)] == ["units_frozen"]

    # the freeze is a journal entry: the ledger verifies, and the public log proves it
    assert client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()["ok"] is True
    while log.sequence(db, limit=50).appended:
        pass
    with db.read() as s:
        entry = s.get(LedgerEntry, body["freeze_entry_id"])
        assert entry.kind == "freeze" and entry.case_id == body["rectification_case_id"]
        assert entry.log_seq is not None
        leaf = leaves.hash_of(leaves.ledger_fields(entry)).hex()
    proof = client.get("/api/v1/public/log/inclusion", params={"leaf_hash": leaf}).json()
    head = client.get("/api/v1/public/log/heads", params={"limit": 1}).json()["items"][0]
    assert proof["leaf_index"] == entry.log_seq and proof["tree_size"] == head["tree_size"]
    assert check.verify_inclusion(bytes.fromhex(leaf), proof["leaf_index"], proof["tree_size"],
                                  [bytes.fromhex(x) for x in proof["proof"]], bytes.fromhex(head["root_hash"]))

    # the rectification: the other claim withdrawn and accepted → released, and the units move again
    rect = body["rectification_case_id"]
    act(client, f"{low}_case_officer", rect, "issue_notice", {"required_actions": ["撤回CCER申报"]})
    act(client, f"{low}_applicant", rect, "submit_report", {"summary": "已撤回", "actions_taken": ["撤回CCER申报"]})
    assert act(client, f"{low}_case_officer", rect, "accept_report", {"opinion": "已核实撤回"})["state"][
        "name"] == "resumed"
    (row,) = client.get("/api/v1/public/issuances", params={"jurisdiction": code}).json()["items"]
    assert (row["claimed_in"], row["frozen"]) == ("CCER", False)
    assert client.post(f"/api/v1/jurisdictions/{code}/transfers", json={
        "from_account_id": owner, "to_account_id": other, "amount_tco2e": 10, "reference": f"EX-{code}-4"},
        headers=h(f"{low}_operator")).status_code == 201
    assert client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()["ok"] is True


def test_beijing_asks_no_declaration_and_has_no_finding(client: TestClient, db: Database, driver,
                                                        test_clock) -> None:
    project = registered_project(db, driver, test_clock, "BJ")
    cid = open_issuance(client, "BJ", project)
    upload_sheet(client, "BJ", cid)
    case = act(client, "bj_applicant", cid, "submit_monitoring_report",
               report(client, "BJ", not_claimed_elsewhere=None))
    assert case["state"]["name"] == "verification"
    assert [r["code"] for r in _reasons(_find(client, "BJ", "BJ-2025-P00001-000001-000010"))] == [
        "double_claim_not_here"]
