"""Issuance, the ledger and retirement end to end over HTTP, per profile: campaign (or application)
to `issued`, a partial transfer, retirement with a certificate whose PDF renders; and the guards."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.demo import Driver, application, commitments, drive_to
from services.orchestration.timers import run_due_timers
from services.procedures.issuance import run_campaign
from services.store.engine import Database
from services.store.tables import Case, LedgerEntry, Project, SerialBlock
from tests.conftest import at
from tests.e2e.http import act, attach_required, h

pytestmark = pytest.mark.e2e
SHEET = b"col_a,col_b\n1,2\n"


def registered_project(db: Database, driver: Driver, test_clock, code: str, title: str = "光伏项目") -> int:
    """Register a project through the real procedure (early 2026, so that 2025 is a vintage)."""
    cid = driver.open(f"{code.lower()}_applicant", code,
                      application(code, title=title, project_class=1 if code == "BJ" else None))
    drive_to(driver, code, cid, "publicity")
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        case = s.get(Case, cid)
        assert case.state == "registered"
        return case.project_id


def verifier_id(client: TestClient, code: str) -> int:
    return client.get("/api/v1/public/verifiers", params={"jurisdiction": code}).json()["items"][0]["id"]


def report(client: TestClient, code: str, **extra) -> dict:
    return {"period_start": "2025-01-01", "period_end": "2025-12-31", "claimed_tco2e": "1200.5",
            "prepared_by_uscc": "91350100M000100Y43", "prepared_by_name": "某咨询公司",
            "calculation_sheet_sha256": hashlib.sha256(SHEET).hexdigest(), "verifier_id": verifier_id(client, code),
            "not_claimed_elsewhere": True, **extra}  # Ordos art. 17, Shanghai art. 14


def upload_sheet(client: TestClient, code: str, cid: int) -> None:
    r = client.post(f"/api/v1/cases/{cid}/documents", headers=h(f"{code.lower()}_applicant"),
                    files={"file": ("减排量计算表.csv", SHEET, "text/csv")})
    assert r.status_code == 201, r.text
    attach_required(client, f"{code.lower()}_applicant", cid)


def to_issued(client: TestClient, db: Database, driver: Driver, test_clock, code: str, cid: int) -> dict:
    low = code.lower()
    upload_sheet(client, code, cid)
    case = act(client, f"{low}_applicant", cid, "submit_monitoring_report", report(client, code))
    assert case["state"]["name"] == "verification"
    # the verification task is addressed to the commissioned firm only
    queue = client.get("/api/v1/tasks", params={"view": "team"}, headers=h(f"{low}_verifier")).json()["items"]
    assert [t["kind"] for t in queue if t["case_id"] == cid] == ["verification"]
    act(client, f"{low}_verifier", cid, "verify", {"verified_tco2e": "1100.25", "opinion": "数据真实可追溯"})
    act(client, f"{low}_case_officer", cid, "accept")
    case = act(client, f"{low}_review_centre", cid, "pass_review", {"opinion": "审核通过"})
    if case["state"]["name"] == "expert_review":  # Jiaxing art. 17
        experts = [driver.user_id(f"{low}_expert{n}") for n in (1, 2, 3)]
        act(client, f"{low}_case_officer", cid, "compose_panel", {"members": experts, "chair": experts[0]})
        for n in (1, 2, 3):
            act(client, f"{low}_expert{n}", cid, "record_opinion", {"opinion": "agree", "score": 90})
        act(client, f"{low}_expert1", cid, "panel_pass", {"conclusion": "同意"})
    over = act(client, f"{low}_approver", cid, "approve", {"issued_tco2e": 1101}, expect=422)
    assert over["error"]["reasons"][0]["code"] == "issued_over_verified"
    case = act(client, f"{low}_approver", cid, "approve", {"issued_tco2e": 1100})
    if case["state"]["name"] == "publicity":  # Jiaxing art. 17, Shandong
        test_clock.set(at(case["publicity"]["last_day"]) + timedelta(days=1))
        run_due_timers(db, test_clock.now())
        case = client.get(f"/api/v1/cases/{cid}", headers=h(f"{low}_applicant")).json()
    assert case["state"]["name"] == "issued"
    return case


def retire_and_certify(client: TestClient, code: str, amount: int) -> dict:
    low = code.lower()
    r = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": code, "application": {
        "amount_tco2e": amount, "purpose": "large_event", "purpose_detail": "2026年某国际会议碳中和"}},
        headers=h(f"{low}_applicant"))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    case = act(client, f"{low}_operator", cid, "approve", {"comments": "同意注销"})
    assert case["state"]["name"] == "retired"
    number = case["result"]["certificate"]
    cert = client.get(f"/api/v1/public/certificates/{number}").json()
    assert cert["valid"] and cert["amount_tco2e"] == amount
    pdf = client.get(f"/api/v1/public/certificates/{number}", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).replace("\n", "")
    assert "碳普惠核证减排量注销证明" in text and number in text and cert["serials"][0] in text.replace(" ", "")
    return cert


@pytest.mark.parametrize("code", ["SH", "BJ", "JX", "ORD", "SD"])
def test_from_opening_to_issued_transfer_and_retirement(client: TestClient, db: Database, driver: Driver,
                                                        test_clock, code: str) -> None:
    low = code.lower()
    if code == "JX":  # arts. 14–17: the first reduction filing files the project too
        app = {"new_project": application("JX", title="嘉兴屋顶光伏"), "vintage": 2025, **commitments("JX")}
        r = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": app},
                        headers=h("jx_applicant"))
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
    elif code in ("SH", "BJ"):  # annual: the campaign opens the case
        project = registered_project(db, driver, test_clock, code)
        assert run_campaign(db, code, 2025)["opened"] == 1
        assert run_campaign(db, code, 2025)["opened"] == 0  # idempotent
        with db.read() as s:
            cid = s.exec(select(Case.id).where(Case.procedure == "issuance", Case.project_id == project)).one()
        opened = client.get(f"/api/v1/cases/{cid}", headers=h(f"{low}_applicant")).json()
        assert opened["timers"][0]["kind"] == "application_window"
    else:
        project = registered_project(db, driver, test_clock, code)
        app = {"project_id": project, "vintage": 2025, **commitments("JX")}
        r = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": code, "application": app},
                        headers=h(f"{low}_applicant"))
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
    case = to_issued(client, db, driver, test_clock, code, cid)
    if code == "JX":
        assert case["subject"]["registration_number"].startswith("JX-")
    mine = client.get("/api/v1/ledger/accounts/mine", headers=h(f"{low}_applicant")).json()["items"][0]
    assert mine["balance_tco2e"] == 1100
    (serial,) = [b["serial"] for b in mine["blocks"]]
    assert serial.startswith(f"{code}-2025-P") and serial.endswith("-000001-001100")
    # a partial transfer to another holder, recorded by the operator: the block splits
    other = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": code, "application": {
        "amount_tco2e": 1, "purpose": "voluntary", "purpose_detail": "x"}}, headers=h(f"{low}_applicant2"))
    assert other.status_code == 422  # holds nothing yet
    with db.write() as s:
        from services.procedures import ledger
        from services.store.tables import User

        other_org = s.exec(select(User.org_id).where(User.username == f"{low}_applicant2")).one()
        to_account = ledger.account_for(s, code, other_org, test_clock.now()).id
    moved = client.post(f"/api/v1/jurisdictions/{code}/transfers", json={
        "from_account_id": mine["id"], "to_account_id": to_account, "amount_tco2e": 300,
        "reference": "EX-2026-0001"}, headers=h(f"{low}_operator"))
    assert moved.status_code == 201, moved.text
    assert moved.json()["serials"] == [serial.replace("-001100", "-000300")]
    assert client.get("/api/v1/ledger/accounts/mine", headers=h(f"{low}_applicant")).json()["items"][0][
        "balance_tco2e"] == 800
    cert = retire_and_certify(client, code, 500)
    assert cert["serials"] == [serial.replace("-000001-001100", "-000301-000800")]
    assert client.get("/api/v1/ledger/accounts/mine", headers=h(f"{low}_applicant")).json()["items"][0][
        "balance_tco2e"] == 300
    assert client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()["ok"] is True
    issued = client.get("/api/v1/public/issuances", params={"jurisdiction": code}).json()["items"]
    assert [i["amount_tco2e"] for i in issued] == [1100]
    csv_text = client.get("/api/v1/public/retirements", params={"jurisdiction": code, "format": "csv"}).text
    assert cert["fingerprint"] not in csv_text and "large_event" in csv_text


def test_overlap_verifier_conflict_and_period_rules(client: TestClient, db: Database, driver: Driver,
                                                    test_clock) -> None:
    project = registered_project(db, driver, test_clock, "ORD")
    open_case = lambda vintage: client.post("/api/v1/cases", json={  # noqa: E731 - a one-line helper, named where it is used
        "procedure": "issuance", "jurisdiction": "ORD", "application": {"project_id": project, "vintage": vintage}},
        headers=h("ord_applicant"))
    first = open_case(2025).json()["id"]
    assert open_case(2025).status_code == 422  # one case per vintage
    upload_sheet(client, "ORD", first)
    act(client, "ord_applicant", first, "submit_monitoring_report", report(client, "ORD", period_start="2025-06-01"))
    second = open_case(2024).json()["id"]
    upload_sheet(client, "ORD", second)
    verifier_uscc = client.get("/api/v1/public/verifiers", params={"jurisdiction": "ORD"}).json()["items"][0]["uscc"]
    bad = act(client, "ord_applicant", second, "submit_monitoring_report", report(
        client, "ORD", period_start="2024-01-01", period_end="2025-07-01", prepared_by_uscc=verifier_uscc), expect=422)
    codes = [r["code"] for r in bad["error"]["reasons"]]
    # overlapping the first case's period; the verifier prepared the report (Jiaxing art. 15 rule);
    # the period ends outside the case's vintage
    assert {"period_overlap", "verifier_conflict", "period_vintage"} <= set(codes)
    future = act(client, "ord_applicant", second, "submit_monitoring_report",
                 report(client, "ORD", period_start="2024-01-01", period_end="2024-12-31",
                        calculation_sheet_sha256="0" * 64), expect=422)
    assert [r["code"] for r in future["error"]["reasons"]] == ["sheet_missing"]
    # a verifier of another firm cannot verify
    with db.write() as s:
        from services.accounts.identity import create_user, ensure_organisation

        firm = ensure_organisation(s, "91110000600037341L", "另一家核查机构")
        create_user(s, username="ord_verifier_b", display_name="其他核查员", grants=[("verifier", "ORD")],
                    org_id=firm.id)
    with pytest.raises(Exception):  # noqa: B017 - not commissioned: the case is not even visible
        driver.act("ord_verifier_b", first, "verify", {"verified_tco2e": "10", "opinion": "x"})
    over = act(client, "ord_verifier", first, "verify", {"verified_tco2e": "5000", "opinion": "x"}, expect=422)
    assert [r["code"] for r in over["error"]["reasons"]] == ["verified_over_claimed"]


def test_jiaxing_reductions_only_after_2020_09_22(client: TestClient) -> None:
    r = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": {
        "new_project": application("JX"), "vintage": 2020, **commitments("JX")}}, headers=h("jx_applicant"))
    cid = r.json()["id"]
    upload_sheet(client, "JX", cid)
    bad = act(client, "jx_applicant", cid, "submit_monitoring_report",
              report(client, "JX", period_start="2020-09-01", period_end="2020-12-31"), expect=422)
    assert [r["code"] for r in bad["error"]["reasons"]] == ["period_too_early"]


def test_suspension_holds_cases_and_resumption_returns_them(client: TestClient, db: Database, driver: Driver,
                                                            test_clock) -> None:
    project = registered_project(db, driver, test_clock, "SD")
    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "SD", "application": {
        "project_id": project, "vintage": 2025, **commitments("JX")}}, headers=h("sd_applicant")).json()["id"]
    upload_sheet(client, "SD", cid)
    act(client, "sd_applicant", cid, "submit_monitoring_report", report(client, "SD"))
    r = client.post(f"/api/v1/projects/{project}/suspend", json={"reason": "跟踪评估发现数据异常"},
                    headers=h("sd_case_officer"))
    assert r.status_code == 200 and r.json()["cases"] == [cid]
    case = client.get(f"/api/v1/cases/{cid}", headers=h("sd_applicant")).json()
    assert case["state"]["name"] == "on_hold" and case["open_tasks"] == []
    assert client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "SD", "application": {
        "project_id": project, "vintage": 2024}}, headers=h("sd_applicant")).json()["error"]["reasons"][0][
        "code"] == "project_suspended"
    listed = {p["id"]: p for p in client.get("/api/v1/public/projects").json()["items"]}
    assert listed[project]["suspended"] is True
    client.post(f"/api/v1/projects/{project}/resume", json={"reason": "整改合格"}, headers=h("sd_case_officer"))
    case = client.get(f"/api/v1/cases/{cid}", headers=h("sd_verifier")).json()
    assert case["state"]["name"] == "verification" and [t["kind"] for t in case["open_tasks"]] == ["verification"]


def test_beijing_class_2_never_issues_and_bad_amounts_are_refused(client: TestClient, db: Database,
                                                                   driver: Driver) -> None:
    cid = driver.open("bj_applicant", "BJ", application("BJ", project_class=2, methodology="BJ-M-LED-002"))
    drive_to(driver, "BJ", cid, "submitted")
    driver.act("bj_case_officer", cid, "disclose", {})
    with db.read() as s:
        project = s.get(Case, cid).project_id
    r = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "BJ", "application": {
        "project_id": project, "vintage": 2025, **commitments("JX")}}, headers=h("bj_applicant"))
    assert {x["code"] for x in r.json()["error"]["reasons"]} >= {"class2_no_issuance", "project_not_registered"}
    for amount in (0, -5, 1.5, "abc"):
        r = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": "BJ", "application": {
            "amount_tco2e": amount, "purpose": "voluntary", "purpose_detail": "x"}}, headers=h("bj_applicant"))
        assert r.status_code == 422, amount
    r = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": "BJ", "application": {
        "amount_tco2e": 10, "purpose": "ecological_compensation", "purpose_detail": "修复"}}, headers=h("bj_applicant"))
    assert r.status_code == 422 and "检察院" in r.json()["error"]["reasons"][0]["zh"]
    bad = client.post("/api/v1/jurisdictions/BJ/transfers", json={"from_account_id": 999, "to_account_id": 998,
                                                                  "amount_tco2e": 5, "reference": "x"},
                      headers=h("bj_operator"))
    assert bad.status_code == 422 and len(bad.json()["error"]["reasons"]) == 2
    with db.read() as s:
        assert list(s.exec(select(LedgerEntry))) == [] and list(s.exec(select(SerialBlock))) == []
    assert db is not None and Project is not None


def test_claw_back_after_a_jiaxing_revocation_leaves_the_ledger_consistent(client: TestClient, db: Database,
                                                                          driver: Driver, test_clock) -> None:
    """Jiaxing art. 26: false materials → disqualification and 收回已签发的减排量. The revocation itself
    is the supervision procedure's; the ledger's part is here: held units cancelled, a shortfall
    (units already retired) recorded as the owner's debt, and the ledger still verifies."""
    from services.engine.clock import clock
    from services.procedures import ledger

    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": {
        "new_project": application("JX"), "vintage": 2025, **commitments("JX")}},
        headers=h("jx_applicant")).json()["id"]
    to_issued(client, db, driver, test_clock, "JX", cid)
    retire_and_certify(client, "JX", 400)
    with db.write() as s:
        project = s.get(Project, s.get(Case, cid).project_id)
        result = ledger.claw_back(s, project=project, case_id=cid, actor_id=None, now=clock.now(),
                                  reason_text="提供虚假材料")
    assert result["cancelled"] == 700 and result["debt"] == 400
    assert client.get("/api/v1/ledger/accounts/mine", headers=h("jx_applicant")).json()["items"][0][
        "balance_tco2e"] == 0
    check = client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()
    assert check["ok"] is True and check["clawed_back"] == 700 and check["retired"] == 400


def test_shanghai_first_issuance_rides_with_registration(client: TestClient, db: Database, driver: Driver,
                                                        test_clock) -> None:
    cid = driver.open("sh_applicant", "SH", {**application("SH"), "first_issuance_vintage": 2025})
    drive_to(driver, "SH", cid, "publicity")
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        reg = s.get(Case, cid)
        issuance = s.exec(select(Case).where(Case.procedure == "issuance", Case.project_id == reg.project_id)).one()
    assert reg.state == "registered" and (issuance.state, issuance.vintage) == ("open", 2025)
    # elsewhere (Shandong) the first issuance does not ride with the registration
    sd = driver.open("sd_applicant", "SD", {**application("SD"), "first_issuance_vintage": 2025})
    body = act(client, "sd_applicant", sd, "submit", {"commitments": {"no_other_voluntary_scheme": True}}, expect=422)
    assert [r["code"] for r in body["error"]["reasons"]] == ["first_issuance_not_here"]


def test_serial_ranges_move_exactly_and_foreign_ranges_are_refused(client: TestClient, db: Database, driver: Driver,
                                                                   test_clock) -> None:
    project = registered_project(db, driver, test_clock, "ORD")
    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "ORD", "application": {
        "project_id": project, "vintage": 2025, **commitments("JX")}}, headers=h("ord_applicant")).json()["id"]
    to_issued(client, db, driver, test_clock, "ORD", cid)
    mine = client.get("/api/v1/ledger/accounts/mine", headers=h("ord_applicant")).json()["items"][0]
    serial = mine["blocks"][0]["serial"]
    middle = serial.replace("-000001-001100", "-000101-000200")
    with db.write() as s:
        from services.procedures import ledger
        from services.store.tables import User

        other = ledger.account_for(s, "ORD", s.exec(select(User.org_id).where(
            User.username == "ord_applicant2")).one(), test_clock.now()).id
    moved = client.post("/api/v1/jurisdictions/ORD/transfers", json={
        "from_account_id": mine["id"], "to_account_id": other, "amount_tco2e": 100, "serials": middle,
        "reference": "EX-1"}, headers=h("ord_operator"))
    assert moved.status_code == 201 and moved.json()["serials"] == [middle]
    left = [b["serial"] for b in client.get("/api/v1/ledger/accounts/mine", headers=h("ord_applicant")).json()[
        "items"][0]["blocks"]]
    assert left == [serial.replace("-001100", "-000100"), serial.replace("-000001-", "-000201-")]
    for serials, amount, code in ((middle, 100, "serial_not_held"), ("nonsense", 5, "serial_malformed"),
                                  (serial.replace("-000001-001100", "-000001-000050"), 60, "serial_size"),
                                  (serial.replace("-000001-001100", "-001050-001150"), 101, "serial_not_held")):
        r = client.post("/api/v1/jurisdictions/ORD/transfers", json={
            "from_account_id": mine["id"], "to_account_id": other, "amount_tco2e": amount, "serials": serials,
            "reference": "EX-2"}, headers=h("ord_operator"))
        assert r.status_code == 422 and r.json()["error"]["reasons"][0]["code"] == code, (serials, r.text)
    assert client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()["ok"] is True
    over = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": "ORD", "application": {
        "amount_tco2e": 5000, "purpose": "voluntary", "purpose_detail": "x"}}, headers=h("ord_applicant"))
    assert over.status_code == 422 and over.json()["error"]["reasons"][0]["code"] == "not_enough_held"
