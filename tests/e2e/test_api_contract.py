"""The API's contract over HTTP: bad input gets every reason in zh/en and persists nothing; queues,
calendar, diagrams, tokens, offline docs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.api import create_app
from services.demo import Driver, application, commitments, drive_to
from services.store.engine import Database
from services.store.tables import AuditEvent, Case, Organisation, Project
from tests.conftest import at

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(db), raise_server_exceptions=False)


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{user}"}


def rows(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return len(list(s.exec(select(Case.id)))), len(list(s.exec(select(Project.id))))


def reasons(response) -> list[dict]:
    body = response.json()
    assert set(body) == {"error"}, body
    for r in body["error"]["reasons"]:
        assert r["zh"] and r["en"], r
    return body["error"]["reasons"]


NEW = "/api/v1/cases"


@pytest.mark.parametrize("payload,status,fields", [
    ({"procedure": "project_registration", "jurisdiction": "XX", "application": application("SH")}, 422,
     {"jurisdiction"}),
    ({"procedure": "teleportation", "jurisdiction": "SH", "application": application("SH")}, 422, {"procedure"}),
    ({"procedure": "project_registration", "jurisdiction": "SH",
      "application": {**application("SH"), "expected_annual_reduction_tco2e": "-1", "title": "长" * 201,
                      "start_date": "2025-06-01", "end_date": "2025-01-01"}}, 422,
     {"application.expected_annual_reduction_tco2e", "application.title"}),
    ({"procedure": "project_registration", "jurisdiction": "SH", "application": {}}, 422,
     {"application.kind", "application.title", "application.location"}),
    ({"jurisdiction": "SH"}, 422, {"procedure", "application"}),
])
def test_bad_case_creation_is_422_with_every_reason_and_persists_nothing(
        client: TestClient, db: Database, payload: dict, status: int, fields: set[str]) -> None:
    before = rows(db)
    r = client.post(NEW, json=payload, headers=auth("sh_applicant"))
    assert r.status_code == status, r.text
    assert fields <= {x.get("field") for x in reasons(r)}
    assert rows(db) == before


def test_reversed_dates_alone(client: TestClient) -> None:
    app = {**application("SH"), "start_date": "2025-06-01", "end_date": "2025-01-01"}
    r = client.post(NEW, json={"procedure": "project_registration", "jurisdiction": "SH", "application": app},
                    headers=auth("sh_applicant"))
    assert r.status_code == 422 and "早于开始日期" in reasons(r)[0]["zh"]


def test_malformed_json_and_non_object_bodies(client: TestClient, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    h = {**auth("sh_applicant"), "Content-Type": "application/json"}
    r = client.post(f"{NEW}/{cid}/actions/submit", content=b'{"commitments": ', headers=h)
    assert r.status_code == 422 and reasons(r)[0]["code"] == "json_invalid"
    r = client.post(f"{NEW}/{cid}/actions/submit", content=b"[1,2]", headers=h)
    assert r.status_code == 422
    r = client.post(NEW, content=b"{not json", headers=h)
    assert r.status_code == 422 and reasons(r)
    r = client.post(f"{NEW}/{cid}/actions/submit", content=b"x" * 1_000_001, headers=h)
    assert r.status_code == 413 and reasons(r)


def test_unknown_and_illegal_actions(client: TestClient, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    r = client.post(f"{NEW}/{cid}/actions/fly", json={}, headers=auth("sh_applicant"))
    assert r.status_code == 422 and r.json()["error"]["allowed_actions"] == ["edit", "submit", "withdraw"]
    r = client.post(f"{NEW}/{cid}/actions/approve", json={}, headers=auth("sh_applicant"))
    assert r.status_code == 409 and "allowed_actions" in r.json()["error"]
    assert "草稿" in reasons(r)[0]["zh"]
    assert client.get(f"{NEW}/999999", headers=auth("sh_applicant")).status_code == 404


def test_if_match_and_idempotency_over_http(client: TestClient, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    read = client.get(f"{NEW}/{cid}", headers=auth("sh_applicant"))
    etag = read.headers["ETag"]
    h = {**auth("sh_applicant"), "If-Match": etag, "Idempotency-Key": "submit-1"}
    first = client.post(f"{NEW}/{cid}/actions/submit", json=commitments("SH"), headers=h)
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    replay = client.post(f"{NEW}/{cid}/actions/submit", json=commitments("SH"), headers=h)
    assert replay.status_code == 200 and replay.json() == first.json()
    stale = client.post(f"{NEW}/{cid}/actions/withdraw", json={}, headers={**auth("sh_applicant"), "If-Match": etag})
    assert stale.status_code == 409 and stale.json()["error"]["current_version"] == 2


def test_tokens_are_required_outside_public_and_calendar(client: TestClient) -> None:
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/calendar/add-working-days?start=2026-01-05&days=1").status_code == 200
    assert client.get("/api/v1/public/publicity").status_code == 200
    me = client.get("/api/v1/me", headers=auth("bj_approver")).json()
    assert me["grants"] == [{"role": "approver", "jurisdiction": "BJ"}]


def test_organisation_registration_checks_the_credit_code(client: TestClient, db: Database) -> None:
    from services.accounts.identity import create_user, issue_token

    with db.write() as s:
        u = create_user(s, username="newcomer", display_name="新用户", grants=[("applicant", "SD")])
        token = issue_token(s, u)
    h = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/organisations", json={"uscc": "91350100M000100Y44", "name": "某公司"}, headers=h)
    assert r.status_code == 422 and "校验位" in reasons(r)[0]["zh"]
    with db.read() as s:
        assert s.exec(select(Organisation).where(Organisation.uscc == "91350100M000100Y44")).first() is None
    r = client.post("/api/v1/organisations", json={"uscc": "91350100M000100Y43", "name": "某公司"}, headers=h)
    assert r.status_code == 201
    r = client.post(NEW, json={"procedure": "project_registration", "jurisdiction": "SD",
                               "application": application("SD")}, headers=h)
    assert r.status_code == 201


def test_work_queue_views_filters_and_keyset_pages(client: TestClient, db: Database, driver: Driver,
                                                   test_clock) -> None:
    ids = []
    for i in range(7):
        cid = driver.open("sh_applicant", "SH", application("SH", title=f"项目{i}"))
        driver.act("sh_applicant", cid, "submit", commitments("SH"))
        ids.append(cid)
        test_clock.advance(timedelta(days=1))
    seen, cursor = [], None
    while True:
        params = {"view": "team", "jurisdiction": "SH", "kind": "completeness_check", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/tasks", params=params, headers=auth("sh_case_officer")).json()
        seen += [t["case_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids  # ordered by due time, no duplicates, nothing missed
    dues = [t["due_at"] for t in client.get("/api/v1/tasks", params={"view": "team"},
                                             headers=auth("sh_case_officer")).json()["items"]]
    assert dues == sorted(dues)
    first = client.get("/api/v1/tasks", params={"view": "unassigned"}, headers=auth("sh_case_officer")).json()
    tid = first["items"][0]["id"]
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("sh_case_officer")).status_code == 200
    mine = client.get("/api/v1/tasks", params={"view": "mine"}, headers=auth("sh_case_officer")).json()["items"]
    assert [t["id"] for t in mine] == [tid] and mine[0]["assignee"] == "sh_case_officer"
    unassigned = client.get("/api/v1/tasks", params={"view": "unassigned"}, headers=auth("sh_case_officer")).json()
    assert tid not in [t["id"] for t in unassigned["items"]]
    # other jurisdictions' officers and other roles see none of it
    assert client.get("/api/v1/tasks", params={"view": "team"}, headers=auth("bj_case_officer")).json()["items"] == []
    assert client.get("/api/v1/tasks", params={"view": "team"}, headers=auth("sh_approver")).json()["items"] == []
    test_clock.set(at("2026-04-30 09:00"))
    overdue = client.get("/api/v1/tasks", params={"view": "overdue"}, headers=auth("sh_case_officer")).json()
    assert len(overdue["items"]) == 7 and all(t["overdue"] for t in overdue["items"])
    bad = client.get("/api/v1/tasks", params={"view": "everything"}, headers=auth("sh_case_officer"))
    assert bad.status_code == 422 and reasons(bad)
    assert client.get("/api/v1/tasks", params={"cursor": "%%%"}, headers=auth("sh_case_officer")).status_code == 422


def test_case_read_shows_actions_with_schemas_tasks_timers_and_clock(client: TestClient, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "submitted")
    driver.act("sh_case_officer", cid, "request_supplement", {"items": ["补充监测数据"]})
    case = client.get(f"{NEW}/{cid}", headers=auth("sh_applicant")).json()
    assert case["state"] == {"name": "supplement_requested", "zh": "待补正材料", "en": "Supplement requested",
                             "terminal": False}
    actions = {a["action"]: a for a in case["allowed_actions"]}
    assert set(actions) == {"edit", "resubmit", "withdraw"}
    assert "response" in actions["resubmit"]["form_schema"]["properties"]
    assert [t["kind"] for t in case["open_tasks"]] == ["supplement"]
    assert case["timers"][0]["kind"] == "supplement_deadline"
    assert case["clock"]["status"] == "paused"
    officer_view = client.get(f"{NEW}/{cid}", headers=auth("sh_case_officer")).json()
    assert officer_view["allowed_actions"] == []  # waiting for the applicant


def test_calendar_endpoints(client: TestClient) -> None:
    r = client.get("/api/v1/calendar/add-working-days", params={"start": "2024-09-30", "days": 1, "jurisdiction": "SH"})
    assert r.json() == {"start": "2024-09-30", "days": 1, "end": "2024-10-08", "provisional": False}
    r = client.get("/api/v1/calendar/add-working-days", params={"start": "2026-12-25", "days": 10})
    assert r.json()["provisional"] is True
    r = client.get("/api/v1/calendar/working-days-between", params={"start": "2025-01-24", "end": "2025-02-10"})
    # 2025 Spring Festival: Jan 28–Feb 4 off, Sun Jan 26 and Sat Feb 8 worked:
    # Jan 26, 27, Feb 5, 6, 7, 8, 10
    assert r.json()["days"] == 7
    r = client.get("/api/v1/calendar/publicity", params={"published": "2026-09-30", "days": 5, "jurisdiction": "SH"})
    # National Day 2026: Oct 1–7 off, Sat Oct 10 worked -> Oct 8, 9, 10, 12, 13
    assert r.json() == {"published": "2026-09-30", "days": 5, "first_day": "2026-10-08", "last_day": "2026-10-13",
                        "closes_at": "2026-10-14T00:00:00+08:00", "provisional": False}
    for params in ({"start": "2026-01-01", "days": 0}, {"start": "2026-13-01", "days": 1},
                   {"start": "2026-01-01", "days": 1, "jurisdiction": "XX"}):
        bad = client.get("/api/v1/calendar/add-working-days", params=params)
        assert bad.status_code == 422 and reasons(bad)
    bad = client.get("/api/v1/calendar/working-days-between", params={"start": "2026-02-01", "end": "2026-01-01"})
    assert bad.status_code == 422 and reasons(bad)


def test_loading_a_year_recomputes_provisional_deadlines(client: TestClient, db: Database, driver: Driver,
                                                         test_clock) -> None:
    test_clock.set(at("2026-12-21 09:00"))
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    driver.act("sh_case_officer", cid, "accept", {})
    task = client.get(f"{NEW}/{cid}", headers=auth("sh_case_officer")).json()["open_tasks"][0]
    assert task["kind"] == "technical_review" and task["provisional"] is True
    coverage = client.get("/api/v1/admin/calendar/coverage", headers=auth("demo_admin")).json()
    assert 2027 in coverage["provisional_years_ahead"] and coverage["provisional_open_tasks"] >= 1
    due = task["due_on"]
    notice = {"source": "国务院办公厅关于2027年部分节假日安排的通知（测试）",
              "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
                       {"date": due, "kind": "holiday", "name": "测试假日"}]}
    assert client.put("/api/v1/admin/calendar/years/2027", json=notice,
                      headers=auth("sh_case_officer")).status_code == 403
    loaded = client.put("/api/v1/admin/calendar/years/2027", json=notice, headers=auth("demo_admin"))
    assert loaded.status_code == 200 and loaded.json()["tasks_recomputed"] >= 1
    task = client.get(f"{NEW}/{cid}", headers=auth("sh_case_officer")).json()["open_tasks"][0]
    assert due == "2027-01-19"
    assert task["provisional"] is False and task["due_on"] == "2027-01-20"  # the new holiday pushes it a day
    wrong_year = {"source": "x", "days": [{"date": "2028-01-03", "kind": "holiday"}]}
    r = client.put("/api/v1/admin/calendar/years/2027", json=wrong_year, headers=auth("demo_admin"))
    assert r.status_code == 422 and reasons(r)


def test_a_national_notice_leaves_each_jurisdictions_own_days(client: TestClient) -> None:
    def next_working_day(code: str) -> str:
        return client.get("/api/v1/calendar/add-working-days",
                          params={"start": "2027-03-04", "days": 1, "jurisdiction": code}).json()["end"]

    local = {"source": "沪府办〔2027〕2号", "days": [{"date": "2027-03-05", "kind": "holiday", "name": "本地假日"}]}
    national = {"source": "国办发明电〔2027〕1号", "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}]}
    years = "/api/v1/admin/calendar/years/2027"
    r = client.put(f"{years}/jurisdictions/SH", json=local, headers=auth("sh_admin"))
    assert r.status_code == 200 and r.json()["jurisdiction"] == "SH"
    assert client.put(f"{years}/jurisdictions/BJ", json=local, headers=auth("sh_admin")).status_code == 403
    assert client.put(years, json=national, headers=auth("sh_admin")).status_code == 403  # national scope only
    assert (next_working_day("SH"), next_working_day("BJ")) == ("2027-03-08", "2027-03-05")
    coverage = client.get("/api/v1/admin/calendar/coverage", headers=auth("demo_admin")).json()
    assert 2027 in coverage["provisional_years_ahead"]  # a jurisdiction's own days are not the State Council's
    for _ in range(2):  # loading the notice, and loading it again, leaves Shanghai's own day in force
        assert client.put(years, json=national, headers=auth("demo_admin")).status_code == 200
        assert (next_working_day("SH"), next_working_day("BJ")) == ("2027-03-08", "2027-03-05")
    coverage = client.get("/api/v1/admin/calendar/coverage", headers=auth("demo_admin")).json()
    assert 2027 not in coverage["provisional_years_ahead"]
    assert [(y["year"], y["jurisdiction"]) for y in coverage["local_loads"]] == [(2027, "SH")]
    r = client.put(f"{years}/jurisdictions/CN", json=local, headers=auth("demo_admin"))
    assert r.status_code == 422 and reasons(r)[0]["code"] == "unknown_jurisdiction"


def test_diagram_and_procedure_description(client: TestClient) -> None:
    assert client.get("/api/v1/procedures").status_code == 401
    client.headers.update(auth("sh_case_officer"))
    r = client.get("/api/v1/procedures/project_registration/diagram", params={"jurisdiction": "SH",
                                                                             "state": "publicity"})
    assert r.status_code == 200 and "stateDiagram-v2" in r.text and "Class publicity s_active" in r.text
    r = client.get("/api/v1/procedures/project_registration/diagram", params={"jurisdiction": "JX"})
    assert r.status_code == 422 and reasons(r)[0]["code"] == "no_separate_registration"
    r = client.get("/api/v1/procedures/nothing/diagram", params={"jurisdiction": "ZZ"})
    assert r.status_code == 422 and len(reasons(r)) == 2
    listing = client.get("/api/v1/procedures").json()["items"][0]
    assert listing["name"] == "project_registration" and "JX" not in listing["jurisdictions"]


def test_docs_work_offline(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "/static/api/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/static/api/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"].startswith("碳普惠")


def test_audit_verify_is_for_administrators(client: TestClient) -> None:
    assert client.get("/api/v1/audit/verify", headers=auth("sh_case_officer")).status_code == 403
    body = client.get("/api/v1/audit/verify", headers=auth("demo_admin")).json()
    assert body["ok"] is True and body["events_checked"] > 0
    assert body["scope"] == {"national": True, "jurisdictions": ["BJ", "JX", "ORD", "SD", "SH"]}


def test_a_jurisdictions_audit_verify_checks_its_own_cases_chains(client: TestClient, db: Database,
                                                                  driver: Driver) -> None:
    sh = driver.open("sh_applicant", "SH", application("SH"))
    driver.open("bj_applicant", "BJ", application("BJ"))
    with db.write() as s:  # someone edits an event of Shanghai's case
        event = s.exec(select(AuditEvent).where(AuditEvent.case_id == sh)).first()
        event.payload = {**event.payload, "edited": True}
        s.add(event)
    mine = client.get("/api/v1/audit/verify", headers=auth("sh_admin")).json()
    assert mine["ok"] is False and mine["first_broken"]["stream"] == f"case:{sh}"
    assert mine["scope"] == {"national": False, "jurisdictions": ["SH"]} and mine["streams"] == 1
    beijing = client.get("/api/v1/audit/verify", headers=auth("bj_admin")).json()
    assert beijing["ok"] is True and beijing["streams"] == 1  # its own case's chain, and nothing else
    assert client.get("/api/v1/audit/verify", headers=auth("demo_admin")).json()["ok"] is False


def test_bad_objection_is_422_and_nothing_is_lodged(client: TestClient, db: Database, driver: Driver) -> None:
    from services.store.tables import Objection

    cid = driver.open("sd_applicant", "SD", application("SD"))
    drive_to(driver, "SD", cid, "publicity")
    r = client.post(f"/api/v1/public/publicity/{cid}/objections", json={"name": "", "text": "短", "x": 1})
    assert r.status_code == 422
    assert {x["field"] for x in reasons(r)} >= {"name", "contact", "text", "x"}
    with db.read() as s:
        assert list(s.exec(select(Objection).where(Objection.case_id == cid))) == []
    # a case that is not in publicity has nothing to object to
    draft = driver.open("sd_applicant", "SD", application("SD"))
    r = client.post(f"/api/v1/public/publicity/{draft}/objections",
                    json={"name": "张三", "contact": "1", "text": "这是一条足够长的异议内容"})
    assert r.status_code == 404 and reasons(r)
