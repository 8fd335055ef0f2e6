"""Scenario issuance fixtures: a registered scenario of the demo enterprise (`<code>_applicant`'s organisation)
whose methodology declares its quantification (tests/scenario_data.py), its users' consent and a period of
metro trips taken in by the intake, so the campaign's verification (services/procedures/scenarios/
verification.run) computes the per-user reductions from real files; and the steps of the procedure over HTTP."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlmodel import col, select

from services.orchestration.dispatch import drain
from services.procedures.scenarios.issuance import run_scenario_campaign
from services.store.engine import Database
from services.store.tables import Case, LedgerEntry, Project, ScenarioAllocation, User
from tests.e2e.http import act, h
from tests.scenario_data import make_scenario, send_direct

# km of metro a day per user (the methodology caps 200 km): three named users and six more; in February
# 2026 (0.18 − 0.04 kg/km) they reduce 6,077,960 g — a block of 6 t with 77,960 g carried
USERS_KM = {"u-alice": "200", "u-bob": "150", "u-carol": "120.5", **{f"u-{i:03d}": "180" for i in range(6)}}


def scenario_with_data(db: Database, code: str, first: date, last: date, users_km: dict[str, str] = USERS_KM,
                       title: str = "地铁出行") -> int:
    pid = make_scenario(db, code, title=title)
    with db.write() as session:  # the demo enterprise runs it, so its applicant users act for it
        org = session.exec(select(User.org_id).where(col(User.username) == f"{code.lower()}_applicant")).one()
        project = session.get(Project, pid)
        project.owner_org_id = org
        session.add(project)
    send_direct(db, pid, "consents", "c1", first, [(u, "granted", "2025-01-01") for u in users_km])
    send_days(db, pid, first, last, users_km)
    return pid


def send_days(db: Database, pid: int, first: date, last: date, users_km: dict[str, str] = USERS_KM) -> None:
    """A week's records a batch, each user's km each day (record ids unique across calls)."""
    day, n = first, 0
    while day <= last:
        week = [day + timedelta(days=i) for i in range(7) if day + timedelta(days=i) <= last]
        rows = [(f"r{first.isoformat()}-{(n := n + 1)}", u, "metro_trip", km, d.isoformat())
                for d in week for u, km in users_km.items()]
        send_direct(db, pid, "records", f"b{week[0].isoformat()}", week[-1], rows)
        day = week[-1] + timedelta(days=1)


def rfc9162_root(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2 written out here, apart from the system's code: the root the path leads to."""
    fn, sn, r = index, size - 1, hashlib.sha256(b"\x00" + leaf).digest()
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def issue_period(client: TestClient, db: Database, code: str, pid: int) -> tuple[int, dict]:
    """The campaign opens the case (once), it goes through review and decision to `issued`, and the dispatcher
    mints and allocates."""
    cid = approve_period(client, db, code, pid)
    assert drain(db)["done"] >= 1
    allocation = minted(client, db, code, cid)
    assert allocation is not None
    return cid, allocation


def approve_period(client: TestClient, db: Database, code: str, pid: int) -> int:
    """The campaign opens the case (once), and it goes through review and decision to `issued`: the approval
    is the decision; the minting and allocation are the dispatcher's work, not done yet."""
    low = code.lower()
    assert run_scenario_campaign(db, code)["opened"] == 1
    assert run_scenario_campaign(db, code)["opened"] == 0  # idempotent
    with db.read() as s:
        cid = s.exec(select(Case.id).where(col(Case.procedure) == "scenario_issuance", col(Case.project_id) == pid)
                     .order_by(col(Case.id).desc())).first()  # the one the campaign just opened
    case = client.get(f"/api/v1/cases/{cid}", headers=h(f"{low}_review_centre")).json()
    if case["state"]["name"] == "commissioning":  # Shanghai art. 15: a technical service agency verifies
        vid = client.get("/api/v1/public/verifiers", params={"jurisdiction": code}).json()["items"][0]["id"]
        bad = act(client, f"{low}_case_officer", cid, "commission_verifier", {"verifier_id": 99999}, expect=422)
        assert bad["error"]["reasons"][0]["code"] == "verifier_unknown"
        act(client, f"{low}_case_officer", cid, "commission_verifier", {"verifier_id": vid})
        act(client, f"{low}_verifier", cid, "verify_report", {"opinion": "数据完整，核证通过"})
    else:  # Ordos art. 15: verified digitally, the report stands in for the verifier
        assert case["state"]["name"] == "technical_review"
    act(client, f"{low}_review_centre", cid, "pass_review", {"opinion": "数字化核证报告审核通过"})
    case = act(client, f"{low}_approver", cid, "approve", {})
    assert case["state"]["name"] == "issued"
    assert minted(client, db, code, cid) is None
    queued = client.get(f"/api/v1/cases/{cid}", headers=h(f"{low}_review_centre")).json()["scenario_issuance"]
    assert queued["minting"]["status"] == "queued" and queued["minting"]["label"]["en"]
    return cid


def minted(client: TestClient, db: Database, code: str, cid: int) -> dict | None:
    """The case's allocation once the dispatcher recorded it, else None — checked in the case the officers
    see (the minting queued, nothing allocated), in the ledger (no issue entry) and in the allocations."""
    issuance = client.get(f"/api/v1/cases/{cid}", headers=h(f"{code.lower()}_review_centre")).json()[
        "scenario_issuance"]
    with db.read() as s:
        found = s.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.case_id) == cid)).first()
        entries = s.exec(select(LedgerEntry).where(col(LedgerEntry.case_id) == cid,
                                                   col(LedgerEntry.kind) == "issue")).all()
    if found is None:
        assert issuance["minting"]["status"] != "done" and issuance["allocation"] is None
        assert entries == []
        return None
    assert issuance["minting"]["status"] == "done" and issuance["allocation"]["root"] == found.root
    assert len(entries) == (1 if found.block_t else 0)
    return found.model_dump()


def token_for(client: TestClient, code: str, pid: int, user: str) -> str:
    r = client.post(f"/api/v1/scenarios/{pid}/lookup-tokens", json={"user_id": user},
                    headers=h(f"{code.lower()}_applicant"))
    assert r.status_code == 201, r.text
    return r.json()["token"]
