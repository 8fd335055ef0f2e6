"""Confidentiality over HTTP: documents carry a visibility chosen at upload and only the declared
public ones and those the approver marks are published with a filed methodology; a report's
reporter is read only by the officers the approver assigned, each read audited; following a report
is throttled per address and per (receipt, address), so nobody else's guesses lock the reporter out,
and the receipt appears in no title, audit payload or queue."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.api import create_app
from services.demo import Driver
from services.orchestration.dispatch import Channels, drain
from services.store.engine import Database
from services.store.tables import AuditEvent, Case, Notification, Outbox, ReportIdentity, Task
from tests.e2e.http import act, h
from tests.e2e.test_methodology_http import PDF, open_filing, through_panel

pytestmark = pytest.mark.e2e


def upload(client: TestClient, user: str, cid: int, name: str, visibility: str | None = None,
           expect: int = 201) -> dict:
    r = client.post(f"/api/v1/cases/{cid}/documents", headers=h(user), files={"file": (name, PDF, "application/pdf")},
                    data={"visibility": visibility} if visibility else None)
    assert r.status_code == expect, r.text
    return r.json()


def names(items: list[dict]) -> set[str]:
    return {d["name"] for d in items}


# --- documents --------------------------------------------------------------------------------------


def test_filing_publishes_only_declared_public_and_marked_documents(client: TestClient, driver: Driver) -> None:
    cid = open_filing(client, "SD")
    text = upload(client, "sd_applicant", cid, "方法学文本.pdf", "public")
    licence = upload(client, "sd_applicant", cid, "营业执照.pdf")
    assert (text["visibility"], licence["visibility"]) == ("public", "case")  # the applicant's default: case
    refused = upload(client, "sd_applicant", cid, "x.pdf", "internal", expect=422)
    assert refused["error"]["reasons"][0]["field"] == "visibility"
    bogus = upload(client, "sd_applicant", cid, "x.pdf", "everyone", expect=422)
    assert bogus["error"]["reasons"][0]["code"] == "document_visibility"
    through_panel(client, driver, "SD", cid)
    assessment = upload(client, "sd_review_centre", cid, "技术评估意见.pdf")
    conclusion = upload(client, "sd_case_officer", cid, "专家论证结论.pdf")
    assert assessment["visibility"] == conclusion["visibility"] == "internal"  # staff's default
    assert upload(client, "sd_case_officer", cid, "x.pdf", "public", expect=422)["error"]["reasons"][0][
        "code"] == "document_visibility_not_yours"  # staff publish by the approver's mark, not by uploading

    # the applicant never sees review material: not listed, not downloadable, not in the timeline
    mine = client.get(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant")).json()["items"]
    assert names(mine) == {"方法学文本.pdf", "营业执照.pdf"}
    assert client.get(f"/api/v1/documents/{assessment['id']}", headers=h("sd_applicant")).status_code == 404
    assert client.get(f"/api/v1/documents/{licence['id']}", headers=h("sd_applicant")).content == PDF
    timeline = client.get(f"/api/v1/cases/{cid}/events", headers=h("sd_applicant")).text
    assert "技术评估意见" not in timeline and "方法学文本" in timeline
    detail = client.get(f"/api/v1/cases/{cid}", headers=h("sd_applicant")).json()
    assert names(detail["documents"]) == {"方法学文本.pdf", "营业执照.pdf"}
    # staff and the case's seated experts read everything
    for user in ("sd_case_officer", "sd_expert1"):
        listed = client.get(f"/api/v1/cases/{cid}/documents", headers=h(user)).json()["items"]
        assert len(listed) == 4, user

    # the approver's mark: only the approver, audited
    mark = f"/api/v1/cases/{cid}/documents/{conclusion['id']}/publication"
    assert client.post(mark, headers=h("sd_case_officer")).status_code == 403
    assert client.post(mark, headers=h("bj_approver")).status_code == 404
    marked = client.post(mark, headers=h("sd_approver"))
    assert marked.status_code == 200 and marked.json()["published_at"]
    assert client.delete(mark, headers=h("sd_approver")).json()["published_at"] is None  # taken back while open
    client.post(mark, headers=h("sd_approver"))
    events = client.get(f"/api/v1/cases/{cid}/events", headers=h("sd_case_officer")).json()["items"]
    assert [e["event"] for e in events if e["event"].startswith("document_")][-3:] == [
        "document_published", "document_unpublished", "document_published"]
    # once published the applicant may read it too
    assert "专家论证结论.pdf" in names(client.get(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant"))
                                       .json()["items"])

    assert act(client, "sd_approver", cid, "approve", {"comments": "同意备案"})["state"]["name"] == "filed"
    (entry,) = client.get("/api/v1/public/methodologies", params={"jurisdiction": "SD",
                                                                   "code": "SD-M-BIKE-001"}).json()["items"]
    public = client.get(f"/api/v1/public/methodologies/{entry['id']}").json()
    assert names(public["documents"]) == {"方法学文本.pdf", "专家论证结论.pdf"}
    base = f"/api/v1/public/methodologies/{entry['id']}/documents"
    assert client.get(f"{base}/{text['id']}").content == PDF
    for hidden in (licence, assessment):
        assert client.get(f"{base}/{hidden['id']}").status_code == 404
    # what was published stays published once the case is closed
    assert client.delete(mark, headers=h("sd_approver")).status_code == 409


# --- the reporter's identity --------------------------------------------------------------------


def lodge(client: TestClient, **extra: str) -> tuple[int, str, str]:
    r = client.post("/api/v1/public/reports", json={
        "jurisdiction": "SD", "subject": "某光伏项目", "name": "举报人甲", "contact": "13900002222",
        "content": "该项目实际装机容量远低于申报数据，存在虚报减排量的情况。", **extra})
    assert r.status_code == 201, r.text
    listed = client.get("/api/v1/cases", params={"procedure": "report"}, headers=h("sd_approver")).json()["items"]
    return listed[0]["id"], r.json()["receipt"], r.json()["secret"]


def test_the_reporter_is_read_only_by_assigned_handlers_and_every_read_is_audited(client: TestClient,
                                                                                  db: Database,
                                                                                  driver: Driver) -> None:
    case_id, receipt, _ = lodge(client)
    reveal = f"/api/v1/cases/{case_id}/reporter"
    # a self-claim grants nothing (it did: the claiming officer saw name and contact)
    triage = next(t for t in client.get("/api/v1/tasks", params={"view": "team"},
                                        headers=h("sd_case_officer")).json()["items"] if t["case_id"] == case_id)
    assert client.post(f"/api/v1/tasks/{triage['id']}/claim", headers=h("sd_case_officer")).status_code == 200
    claimed = client.get(f"/api/v1/cases/{case_id}", headers=h("sd_case_officer"))
    assert "举报人甲" not in claimed.text and "13900002222" not in claimed.text
    assert client.post(reveal, headers=h("sd_case_officer")).status_code == 403
    # the approver has a task to assign handlers, and assigns only case officers of the jurisdiction
    approver_tasks = client.get("/api/v1/tasks", params={"view": "team"}, headers=h("sd_approver")).json()["items"]
    assert any(t["case_id"] == case_id and t["kind"] == "handler_assignment" for t in approver_tasks)
    officer, reviewer = driver.user_id("sd_case_officer"), driver.user_id("sd_review_centre")
    bad = act(client, "sd_approver", case_id, "assign_handlers", {"officers": [reviewer]}, expect=422)
    assert bad["error"]["reasons"][0]["code"] == "handler_not_officer"
    act(client, "sd_case_officer", case_id, "assign_handlers", {"officers": [officer]}, expect=403)
    act(client, "sd_approver", case_id, "assign_handlers", {"officers": [officer]})
    assert client.post(reveal, headers=h("sd_approver")).status_code == 403  # assigning is not reading
    assert client.post(reveal, headers=h("bj_case_officer")).status_code == 404

    read = client.post(reveal, headers=h("sd_case_officer"))
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    assert (read.json()["name"], read.json()["contact"]) == ("举报人甲", "13900002222")
    # who read it and when, for every officer of the case: from the audit chain, never the identity
    seen = client.get(f"/api/v1/cases/{case_id}", headers=h("sd_approver"))
    access = seen.json()["reporter_access"]
    assert [x["user_id"] for x in access["handlers"]] == [officer] and access["may_read"] is False
    assert [x["user_id"] for x in access["reads"]] == [officer]
    assert "举报人甲" not in seen.text and "13900002222" not in seen.text
    events = client.get(f"/api/v1/cases/{case_id}/events", headers=h("sd_operator")).json()["items"]
    reads = [e for e in events if e["event"] == "reporter_identity_read"]
    assert len(reads) == 1 and reads[0]["actor_id"] == officer and reads[0]["payload"] == {}
    assert "举报人甲" not in json.dumps(events, ensure_ascii=False)
    assert client.get("/api/v1/audit/verify", headers=h("demo_admin")).json()["ok"] is True
    # the assigned officer was told
    drain(db, Channels(smtp_host=None))
    with db.read() as s:
        told = s.exec(select(Notification.user_id).where(Notification.case_id == case_id,
                                                          Notification.event == "report_handler_assigned")).all()
    assert told == [officer]
    # withdrawn: no more reads
    act(client, "sd_approver", case_id, "withdraw_handlers", {"officers": [officer]})
    assert client.post(reveal, headers=h("sd_case_officer")).status_code == 403
    again = act(client, "sd_approver", case_id, "withdraw_handlers", {"officers": [officer]}, expect=422)
    assert again["error"]["reasons"][0]["code"] == "handler_not_assigned"


# --- following a report -----------------------------------------------------------------------------


def test_wrong_guesses_from_one_address_do_not_lock_out_the_reporter(db: Database) -> None:
    app = create_app(db)
    attacker = TestClient(app, client=("192.0.2.10", 40000))
    reporter = TestClient(app, client=("198.51.100.7", 40000))
    case_id, receipt, secret = lodge(reporter)
    check = f"/api/v1/public/reports/{receipt}"
    codes = [attacker.get(check, headers={"X-Report-Secret": f"guess-{n}"}).status_code for n in range(10)]
    assert codes[:5] == [404] * 5 and set(codes[5:]) == {429}
    # the real reporter, elsewhere, with the right secret: answered
    ok = reporter.get(check, headers={"X-Report-Secret": secret})
    assert ok.status_code == 200 and ok.json()["state"]["name"] == "received"
    # the guessing address stays blocked for this receipt, even with the right secret, and is told how long
    blocked = attacker.get(check, headers={"X-Report-Secret": secret})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    reason = blocked.json()["error"]["reasons"][0]
    assert "15" in reason["zh"] and "15 minutes" in reason["en"]
    # a reporter's own typo does not stop them either: failures before a success are forgotten
    for _ in range(4):
        assert reporter.get(check, headers={"X-Report-Secret": "typo"}).status_code == 404
    assert reporter.get(check, headers={"X-Report-Secret": secret}).status_code == 200
    assert reporter.get(check, headers={"X-Report-Secret": "typo"}).status_code == 404
    assert reporter.get(check, headers={"X-Report-Secret": secret}).status_code == 200


def test_an_address_guessing_across_receipts_is_blocked(db: Database) -> None:
    app = create_app(db)
    attacker = TestClient(app, client=("192.0.2.11", 40000))
    reporter = TestClient(app, client=("198.51.100.8", 40000))
    _, receipt, secret = lodge(reporter)
    codes = [attacker.get(f"/api/v1/public/reports/RPT-20260302-{n:08X}", headers={"X-Report-Secret": "x"})
             .status_code for n in range(21)]
    assert codes[:20] == [404] * 20 and codes[20] == 429
    assert attacker.get(f"/api/v1/public/reports/{receipt}", headers={"X-Report-Secret": secret}).status_code == 429
    assert reporter.get(f"/api/v1/public/reports/{receipt}", headers={"X-Report-Secret": secret}).status_code == 200


def test_the_receipt_appears_in_no_title_payload_or_queue(client: TestClient, db: Database) -> None:
    case_id, receipt, secret = lodge(client)
    assert client.get(f"/api/v1/public/reports/{receipt.lower()}", headers={"X-Report-Secret": secret}).json()[
        "receipt"] == receipt  # typed in any case
    drain(db, Channels(smtp_host=None))
    with db.read() as s:
        case = s.get(Case, case_id)
        stored = [json.dumps(e.payload, ensure_ascii=False) for e in s.exec(select(AuditEvent))]
        stored += [json.dumps(o.payload, ensure_ascii=False) for o in s.exec(select(Outbox))]
        stored += [n.title_zh + n.title_en for n in s.exec(select(Notification))]
        identity = s.get(ReportIdentity, case_id)
        tasks = s.exec(select(Task).where(Task.case_id == case_id)).all()
    assert receipt not in json.dumps(case.application, ensure_ascii=False)
    assert case.application["title"] == "举报：某光伏项目"
    assert not [x for x in stored if receipt in x]
    assert receipt not in repr(identity) and receipt not in repr(tasks)
    for user in ("sd_case_officer", "sd_approver", "demo_admin"):
        for path in (f"/api/v1/cases/{case_id}", f"/api/v1/cases/{case_id}/events", "/api/v1/tasks?view=team",
                     "/api/v1/cases?procedure=report"):
            assert receipt not in client.get(path, headers=h(user)).text, (user, path)
