"""Administrator scopes: every admin route, called by an administrator of another jurisdiction on
Shanghai's data, refuses (403/404) or answers with nothing of Shanghai.

The routes are collected from the application itself: every API route under `/api/v1/admin` or
`/api/v1/audit`, every web page under `/admin`, and any other route that asks for an administrator
(`AdminDep`, `NationalAdminDep`, `AdminHat`). `EXPECT` must name exactly those routes, so a new admin
route cannot be added without saying here what another jurisdiction's administrator gets from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import select

from services.accounts.identity import create_user, issue_token
from services.api import create_app
from services.api.deps import current_admin, current_national_admin
from services.demo import Driver, application, commitments
from services.engine import workdays
from services.engine.calendar import DayOverride
from services.engine.clock import clock
from services.orchestration import incidents
from services.orchestration.sweep import record_breaches
from services.queries import flow_runs as runs
from services.store.engine import Database
from services.store.tables import (
    CalendarOverride,
    CalendarYear,
    Case,
    Incident,
    LedgerEntry,
    Outbox,
    RoleGrant,
    SlaBreach,
    User,
    WebhookEndpoint,
)
from services.web.deps import wearing_admin
from states.spec import NATIONAL
from tests.conftest import at
from tests.web.conftest import Browser

pytestmark = pytest.mark.e2e

ADMIN_PREFIXES = ("/api/v1/admin", "/api/v1/audit", "/admin")
ADMIN_DEPENDENCIES = {current_admin, current_national_admin, wearing_admin}
OTHER = "bj_admin"  # an administrator of Beijing, looking at Shanghai
NATIONAL_HEADERS = {"Authorization": "Bearer demo-demo_admin"}
SH_SOURCE = "沪府办〔2027〕1号（测试：上海本地假日）"


def _asks_for_an_admin(dependant: Any) -> bool:
    return dependant.call in ADMIN_DEPENDENCIES or any(_asks_for_an_admin(d) for d in dependant.dependencies)


def admin_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every admin route; routers are included lazily, so ask FastAPI to walk them."""
    return {(method, rc.path) for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)
            and (rc.path.startswith(ADMIN_PREFIXES) or _asks_for_an_admin(rc.original_route.dependant))
            for method in rc.methods - {"HEAD"}}


# --- Shanghai's data ------------------------------------------------------------------------------


@dataclass
class Shanghai:
    case_id: int
    project_id: int
    breach_id: int
    dead_row: int  # the payload names Shanghai
    case_row: int  # no jurisdiction in the payload: Shanghai's through its case
    system_row: int  # no jurisdiction at all: the system's own, the national administrator's
    officer_id: int  # sh_case_officer
    incident_id: int = 0  # Shanghai's dead letters
    system_incident_id: int = 0  # the system's own dead letter: the national administrator's


def _dead(db: Database, key: str, payload: dict, case_id: int | None = None) -> int:
    with db.write() as s:
        row = Outbox(key=key, kind="notify", status="dead", attempts=5, last_error="ConnectError: receiver down",
                     case_id=case_id, payload=payload, created_at=clock.now(), available_at=clock.now())
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def shanghai(db: Database, driver: Driver, test_clock) -> Shanghai:
    test_clock.set(at("2026-12-28 09:00"))  # the completeness check falls due in 2027: a provisional deadline
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    with db.write() as s:
        workdays.import_year(s, year=2027, source=SH_SOURCE, actor_id=None, actor_role="admin", jurisdiction="SH",
                             days=[DayOverride(date(2027, 3, 5), False, "上海本地假日")])
        s.add(LedgerEntry(kind="issue", jurisdiction="SH", amount=100, at=clock.now()))
    test_clock.set(at("2027-01-20 09:00"))
    assert record_breaches(db, test_clock.now())["new"] == 1
    with db.read() as s:
        breach = s.exec(select(SlaBreach)).one()
        project_id = s.get(Case, cid).project_id
        officer = s.exec(select(User.id).where(User.username == "sh_case_officer")).one()
    sh = Shanghai(cid, project_id, breach.id, _dead(db, "sh:dead", {"jurisdiction": "SH"}),
                  _dead(db, "sh:case", {}, cid), _dead(db, "system:dead", {}), officer)
    incidents.detect(db, [], alerts=incidents.Alerts(webhook_url=None, email=None))
    with db.read() as s:
        found = {i.key: i.id for i in s.exec(select(Incident))}
    sh.incident_id, sh.system_incident_id = found["dead_letter:SH:notify"], found["dead_letter:-:notify"]
    return sh


RUNS = [{"id": "sh-run", "name": "dispatch (after submit)", "flow": "dispatch", "state": "COMPLETED",
         "tags": ["project_registration", "SH", "case:1"], "start": None, "duration_seconds": 1.0},
        {"id": "sweep-run", "name": "sweep (scheduled)", "flow": "sweep", "state": "COMPLETED", "tags": [],
         "start": None, "duration_seconds": 1.0},
        {"id": "bj-run", "name": "dispatch (after submit)", "flow": "dispatch", "state": "COMPLETED",
         "tags": ["project_registration", "BJ", "case:2"], "start": None, "duration_seconds": 1.0}]


@pytest.fixture
def prefect_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's answer to `FlowRunFilterTags(any_=…)` (tests/e2e/test_flows.py asks a real server)."""
    async def recent(limit: int = 50, jurisdictions: Any = None) -> dict:
        items = [r for r in RUNS if jurisdictions is None or set(r["tags"]) & set(jurisdictions)]
        return {"prefect_ui": "http://prefect.test", "items": [
            {**r, "link": f"http://prefect.test/runs/flow-run/{r['id']}"} for r in items]}

    monkeypatch.setattr(runs, "recent_runs", recent)


@dataclass
class Other:
    """The other jurisdiction's administrator, through the API and signed in to the pages."""

    db: Database
    api: TestClient
    web: Browser
    sh: Shanghai

    def call(self, method: str, path: str, **kw: Any) -> Any:
        return self.api.request(method, path, headers={"Authorization": f"Bearer demo-{OTHER}"}, **kw)

    def status_of(self, row_id: int) -> str:
        with self.db.read() as s:
            return s.get(Outbox, row_id).status

    def incident_statuses(self) -> list[str]:
        with self.db.read() as s:
            return [s.get(Incident, i).status for i in (self.sh.incident_id, self.sh.system_incident_id)]

    def sh_rows(self) -> list[tuple[date, str | None, str]]:
        with self.db.read() as s:
            return [(o.day, o.jurisdiction, o.name) for o in s.exec(select(CalendarOverride).where(
                CalendarOverride.year == 2027).order_by(CalendarOverride.day))]


@pytest.fixture
def other(db: Database, shanghai: Shanghai, prefect_runs: None) -> Iterator[Other]:
    app = create_app(db)
    web = Browser(app)
    assert web.sign_in(OTHER).status_code == 303
    yield Other(db, TestClient(app), web, shanghai)


# --- what the other jurisdiction's administrator gets, route by route --------------------------------

EXPECT: dict[tuple[str, str], Callable[[Other], None]] = {}


def expect(method: str, path: str) -> Callable[[Callable[[Other], None]], Callable[[Other], None]]:
    def register(check: Callable[[Other], None]) -> Callable[[Other], None]:
        EXPECT[(method, path)] = check
        return check
    return register


NOTICE = {"source": "国办发明电〔2027〕1号", "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}]}


@expect("GET", "/api/v1/audit/verify")
def _audit_verify(o: Other) -> None:
    body = o.call("GET", "/api/v1/audit/verify").json()
    # Beijing has no case: no chain is checked, neither Shanghai's case nor the system stream
    assert body["scope"] == {"national": False, "jurisdictions": ["BJ"]}
    assert (body["ok"], body["streams"], body["events_checked"]) == (True, 0, 0)


@expect("PUT", "/api/v1/admin/calendar/years/{year}")
def _national_notice(o: Other) -> None:
    before = o.sh_rows()
    assert o.call("PUT", "/api/v1/admin/calendar/years/2027", json=NOTICE).status_code == 403
    assert o.sh_rows() == before


@expect("PUT", "/api/v1/admin/calendar/years/{year}/jurisdictions/{jurisdiction}")
def _local_days(o: Other) -> None:
    before = o.sh_rows()
    assert o.call("PUT", "/api/v1/admin/calendar/years/2027/jurisdictions/SH", json=NOTICE).status_code == 403
    assert o.sh_rows() == before


@expect("GET", "/api/v1/admin/calendar/coverage")
def _coverage(o: Other) -> None:
    body = o.call("GET", "/api/v1/admin/calendar/coverage").json()
    assert body["local_loads"] == [] and body["provisional_open_tasks"] == 0  # Shanghai has one of each


@expect("POST", "/api/v1/admin/timers/run")
def _timers(o: Other) -> None:
    assert o.call("POST", "/api/v1/admin/timers/run").status_code == 403


@expect("GET", "/api/v1/admin/outbox")
def _outbox(o: Other) -> None:
    for status in ("dead", "pending", "done"):
        r = o.call("GET", "/api/v1/admin/outbox", params={"status": status})
        assert r.status_code == 200 and r.json()["items"] == []


@expect("POST", "/api/v1/admin/outbox/{outbox_id}/retry")
def _outbox_retry(o: Other) -> None:
    for row in (o.sh.dead_row, o.sh.case_row, o.sh.system_row):
        assert o.call("POST", f"/api/v1/admin/outbox/{row}/retry").status_code == 404
        assert o.status_of(row) == "dead"


@expect("GET", "/api/v1/admin/sla-breaches")
def _breaches(o: Other) -> None:
    body = o.call("GET", "/api/v1/admin/sla-breaches", params={"status": "all"}).json()
    assert body["items"] == [] and body["groups"]["jurisdiction"] == {}


@expect("GET", "/api/v1/admin/flow-runs")
def _flow_runs(o: Other) -> None:
    assert [r["id"] for r in o.call("GET", "/api/v1/admin/flow-runs").json()["items"]] == ["bj-run"]


@expect("GET", "/api/v1/admin/incidents")
def _incidents(o: Other) -> None:
    for status in ("active", "open", "acknowledged", "resolved", "all"):
        r = o.call("GET", "/api/v1/admin/incidents", params={"status": status})
        assert r.status_code == 200 and r.json()["items"] == []


@expect("POST", "/api/v1/admin/incidents/{incident_id}/{action}")
def _incident_action(o: Other) -> None:
    for incident in (o.sh.incident_id, o.sh.system_incident_id):
        for action in ("acknowledge", "resolve"):
            assert o.call("POST", f"/api/v1/admin/incidents/{incident}/{action}").status_code == 404
    assert o.incident_statuses() == ["open", "open"]


@expect("GET", "/admin/incidents")
def _incidents_page(o: Other) -> None:
    for status in ("active", "resolved", "all"):
        page = o.web.get(f"/admin/incidents?status={status}")
        assert page.status_code == 200 and 'id="incident-' not in page.text


@expect("POST", "/admin/incidents/{incident_id}/{action}")
def _incident_action_page(o: Other) -> None:
    for incident in (o.sh.incident_id, o.sh.system_incident_id):
        for action in ("acknowledge", "resolve"):
            r = o.web.post_form("/admin/incidents", f"/admin/incidents/{incident}/{action}", {})
            assert r.status_code == 404
    assert o.incident_statuses() == ["open", "open"]


@expect("POST", "/api/v1/admin/webhooks")
def _webhooks(o: Other) -> None:
    body = {"jurisdiction": "SH", "name": "x", "url": "https://attacker.example/h", "secret": "s" * 20}
    assert o.call("POST", "/api/v1/admin/webhooks", json=body).status_code == 403
    with o.db.read() as s:
        assert s.exec(select(WebhookEndpoint)).first() is None


@expect("GET", "/api/v1/admin/ledger/verify")
def _ledger_verify(o: Other) -> None:
    body = o.call("GET", "/api/v1/admin/ledger/verify").json()
    assert body["scope"]["jurisdictions"] == ["BJ"] and body["issued"] == 0 and body["ok"] is True


@expect("GET", "/admin")
def _dashboard(o: Other) -> None:
    for query in ("", "?scope=all", "?status=all"):
        page = o.web.get(f"/admin{query}")
        assert page.status_code == 200 and f'href="/cases/{o.sh.case_id}"' not in page.text


@expect("GET", "/admin/flows")
def _flows_page(o: Other) -> None:
    page = o.web.get("/admin/flows").text
    assert "flow-run/bj-run" in page and "flow-run/sh-run" not in page and "flow-run/sweep-run" not in page


@expect("GET", "/admin/outbox")
def _outbox_page(o: Other) -> None:
    for status in ("dead", "pending", "done"):
        page = o.web.get(f"/admin/outbox?status={status}")
        assert page.status_code == 200 and 'id="outbox-' not in page.text


@expect("POST", "/admin/outbox/{outbox_id}/retry")
def _outbox_retry_page(o: Other) -> None:
    for row in (o.sh.dead_row, o.sh.case_row, o.sh.system_row):
        assert o.web.post_form("/admin/outbox", f"/admin/outbox/{row}/retry", {}).status_code == 404
        assert o.status_of(row) == "dead"


@expect("GET", "/admin/calendar")
def _calendar_page(o: Other) -> None:
    page = o.web.get("/admin/calendar")
    assert page.status_code == 200 and SH_SOURCE not in page.text and 'id="local-loads"' not in page.text
    assert 'id="provisional-tasks">0<' in page.text


@expect("POST", "/admin/calendar")
def _calendar_import(o: Other) -> None:
    before = o.sh_rows()
    # Beijing's hat loads Beijing's own days; nothing national, nothing of Shanghai
    bj = '{"source": "京政办〔2027〕1号", "days": [{"date": "2027-03-05", "kind": "workday", "name": "x"}]}'
    r = o.web.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": bj})
    assert r.status_code == 303, re.findall(r"⚠ [^<]*", r.text)
    assert set(o.sh_rows()) == {*before, (date(2027, 3, 5), "BJ", "x")}
    sh = '{"source": "x", "days": [{"date": "2027-03-08", "kind": "holiday", "jurisdiction": "SH"}]}'
    r = o.web.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": sh})
    assert r.status_code == 422 and "2027-03-08" in r.text
    with o.db.read() as s:
        assert s.get(CalendarYear, (2027, "CN")) is None
        assert s.get(CalendarYear, (2027, "SH")).revision == 1


@expect("GET", "/admin/users")
def _users_page(o: Other) -> None:
    for query in ("", "?q=sh_", "?q=demo_admin", "?q=sh_case_officer"):
        page = o.web.get(f"/admin/users{query}")
        assert page.status_code == 200 and not re.search(r"· (SH|CN)\b", page.text), query
    assert "sh_case_officer" not in o.web.get("/admin/users?q=sh_").text  # found only by the exact username


@expect("POST", "/admin/users/grant")
def _grant(o: Other) -> None:
    for place in ("SH", "CN"):
        r = o.web.post_form("/admin/users", "/admin/users/grant",
                            {"username": "bj_applicant2", "role": "admin", "jurisdiction": place})
        assert r.status_code == 403
    with o.db.read() as s:
        granted = s.exec(select(RoleGrant.role, RoleGrant.jurisdiction).join(User, User.id == RoleGrant.user_id)
                         .where(User.username == "bj_applicant2")).all()
    assert granted == [("applicant", "BJ")]


@expect("POST", "/admin/users/{user_id}/revoke")
def _revoke(o: Other) -> None:
    r = o.web.post_form("/admin/users", f"/admin/users/{o.sh.officer_id}/revoke",
                        {"role": "case_officer", "jurisdiction": "SH"})
    assert r.status_code == 403
    with o.db.read() as s:
        assert s.exec(select(RoleGrant).where(RoleGrant.user_id == o.sh.officer_id)).one().jurisdiction == "SH"


@expect("GET", "/admin/profiles")
def _profiles(o: Other) -> None:
    # shared on purpose: a profile is the published rules of its seed (a public policy document), read-only
    assert o.web.get("/admin/profiles").status_code == 200
    assert "上海市" in o.web.get("/admin/profiles?code=SH").text


def test_every_admin_route_has_an_expectation() -> None:
    app = create_app(None)
    routes = admin_routes(app)
    assert routes >= {("GET", "/api/v1/admin/outbox"), ("GET", "/admin/users")}  # the collection finds them
    missing, stale = routes - EXPECT.keys(), EXPECT.keys() - routes
    assert not missing, f"admin routes without an expectation for another jurisdiction's administrator: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


@pytest.mark.parametrize("route", sorted(EXPECT), ids=lambda r: f"{r[0]} {r[1]}")
def test_another_jurisdictions_admin_gets_nothing_of_shanghai(other: Other, route: tuple[str, str]) -> None:
    EXPECT[route](other)


# --- the same data, seen by those whose it is ----------------------------------------------------


def test_shanghais_and_the_national_administrator_see_it(other: Other) -> None:
    """The other side of every check above: the data is there, for the administrators whose it is."""
    sh = other.sh
    api = other.api

    def ids(user: str) -> set[int]:
        got = api.get("/api/v1/admin/outbox", headers={"Authorization": f"Bearer demo-{user}"}).json()["items"]
        return {r["id"] for r in got}

    assert ids("sh_admin") == {sh.dead_row, sh.case_row}  # the system's own row is national
    assert ids("demo_admin") >= {sh.dead_row, sh.case_row, sh.system_row}
    assert api.post(f"/api/v1/admin/outbox/{sh.system_row}/retry",
                    headers={"Authorization": "Bearer demo-sh_admin"}).status_code == 404
    assert api.post(f"/api/v1/admin/outbox/{sh.system_row}/retry", headers=NATIONAL_HEADERS).json()["status"] == \
        "pending"
    breaches = api.get("/api/v1/admin/sla-breaches", headers={"Authorization": "Bearer demo-sh_admin"}).json()
    assert [b["id"] for b in breaches["items"]] == [sh.breach_id]
    coverage = api.get("/api/v1/admin/calendar/coverage", headers={"Authorization": "Bearer demo-sh_admin"}).json()
    assert [y["source"] for y in coverage["local_loads"]] == [SH_SOURCE] and coverage["provisional_open_tasks"] == 1
    audit = api.get("/api/v1/audit/verify", headers={"Authorization": "Bearer demo-sh_admin"}).json()
    assert audit["scope"]["jurisdictions"] == ["SH"] and audit["streams"] == 1 and audit["ok"] is True
    national = api.get("/api/v1/audit/verify", headers=NATIONAL_HEADERS).json()
    assert national["scope"]["national"] is True and national["streams"] > 1  # the system stream too
    flow_ids = {r["id"] for r in api.get("/api/v1/admin/flow-runs", headers=NATIONAL_HEADERS).json()["items"]}
    assert flow_ids == {"sh-run", "sweep-run", "bj-run"}
    assert api.get("/api/v1/admin/ledger/verify", headers={"Authorization": "Bearer demo-sh_admin"}).json()[
        "issued"] == 100
    seen = api.get("/api/v1/admin/incidents", headers={"Authorization": "Bearer demo-sh_admin"}).json()["items"]
    assert (sh.incident_id, 2) in [(i["id"], i["count"]) for i in seen]  # both of Shanghai's dead rows
    assert {i["jurisdiction"] for i in seen} == {"SH"}  # the system's own is national
    everyone = api.get("/api/v1/admin/incidents", headers=NATIONAL_HEADERS).json()["items"]
    assert {sh.incident_id, sh.system_incident_id} <= {i["id"] for i in everyone}


def test_an_admin_of_another_jurisdiction_does_not_read_shanghais_cases(other: Other) -> None:
    """Administrators are staff of their jurisdictions (`services.engine.cases.STAFF_ROLES`): the national grant
    alone makes one of every jurisdiction; a jurisdiction's administrator is one of its own only."""
    with other.db.write() as s:
        national = create_user(s, username="cn_only", display_name="全国", grants=[("admin", NATIONAL)])
        issue_token(s, national, "test", token="test-cn_only")
    only_national = {"Authorization": "Bearer test-cn_only"}
    sh = other.sh
    for path in (f"/api/v1/cases/{sh.case_id}", f"/api/v1/cases/{sh.case_id}/events",
                 f"/api/v1/projects/{sh.project_id}/evaluations"):
        assert other.call("GET", path).status_code == 404, path
        assert other.api.get(path, headers=only_national).status_code == 200, path
    assert other.call("GET", "/api/v1/cases", params={"jurisdiction": "SH"}).json()["items"] == []
    listed = other.api.get("/api/v1/cases", params={"jurisdiction": "SH"}, headers=only_national).json()
    assert [c["id"] for c in listed["items"]] == [sh.case_id]
    assert other.web.get(f"/cases/{sh.case_id}").status_code in (403, 404)
