"""`make scale-out-smoke`: the scaled-out topology of docker/compose.yaml run as processes (bench/topology.py:
fresh PostgreSQL databases, a Prefect server, the pool `carbon`, `prefect deploy --all`, the worker, the API
with two worker processes), driven over HTTP like an applicant and the bureau would, then torn down.

A Shanghai registration goes to expert review; the panel must be drawn by the hand-off (not by a person)
and each member notified; the panel passes it, the approver approves, and its publicity timer is brought
forward to fall due in a few seconds (the only thing done behind the API's back: a publicity lasts days).
The timer must fire exactly once and register the project, and the national administrator's flow-run
list must show the completed dispatch and sweep runs; the worker must have signed the transparency log's head
with the key only it holds, and the API (holding only the exported verifier keys) must verify that checkpoint.
Exit 0 when all holds; the logs are printed if not.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.topology import running
from services.demo import application, commitments
from tests.e2e.http import attach_required


def h(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{user}"}


ALIVE: list[Callable[[], None]] = []  # the topology's check that its services still run


def until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        for alive in ALIVE:
            alive()
        got = check()
        if got:
            print(f"  {what}: {time.monotonic() - started:.1f} s")
            return got
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class Client:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60)

    def call(self, method: str, user: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.http.request(method, path, headers=h(user), json=body, params=params or None)
        assert r.status_code in (200, 201), f"{method} {path} as {user}: {r.status_code} {r.text[:500]}"
        return r.json()

    def act(self, user: str, cid: int, action: str, form: dict[str, Any] | None = None) -> Any:
        return self.call("POST", user, f"/api/v1/cases/{cid}/actions/{action}", form or {})


def drive(api: Client, db_url: str) -> None:
    case = api.call("POST", "sh_applicant", "/api/v1/cases", {
        "procedure": "project_registration", "jurisdiction": "SH", "application": application("SH")})
    cid = case["id"]
    attach_required(api.http, "sh_applicant", cid)
    api.act("sh_applicant", cid, "submit", commitments("SH"))
    task = next(t for t in api.call("GET", "sh_case_officer", "/api/v1/tasks", view="team", jurisdiction="SH")["items"]
                if t["case_id"] == cid)
    api.call("POST", "sh_case_officer", f"/api/v1/tasks/{task['id']}/claim")
    api.call("POST", "sh_case_officer", f"/api/v1/tasks/{task['id']}/complete", {"action": "accept"})
    state = api.act("sh_review_centre", cid, "pass_review", {"opinion": "方法学适用，数据可核查"})["state"]["name"]
    assert state == "expert_review", state
    print(f"case {cid} in expert review")

    panel = until("panel drawn by the hand-off", lambda: api.call("GET", "sh_case_officer",
                                                                   f"/api/v1/cases/{cid}")["panel"])
    members = [seat["user_id"] for seat in panel]
    with psycopg.connect(db_url, autocommit=True) as conn:
        names = dict(conn.execute("SELECT id, username FROM users WHERE id = ANY(%s)", (members,)).fetchall())

        def notified() -> bool:
            got = {u for (u,) in conn.execute("SELECT DISTINCT user_id FROM notifications WHERE case_id = %s "
                                              "AND user_id = ANY(%s)", (cid, members)).fetchall()}
            return got == set(members)

        until(f"all {len(members)} panel members notified", notified)
        chair = next(names[s["user_id"]] for s in panel if s["chair"])
        for member in members:
            api.act(names[member], cid, "record_opinion", {"opinion": "agree", "score": 85})
        api.act(chair, cid, "panel_pass", {"conclusion": "同意"})
        case = api.act("sh_approver", cid, "approve", {"comments": "同意公示"})
        assert case["state"]["name"] == "publicity", case["state"]
        # a publicity lasts working days: bring its timer forward to a few seconds from now
        moved = conn.execute("UPDATE timers SET fire_at = now() + interval '3 seconds' WHERE case_id = %s "
                             "AND status = 'pending' AND state = 'publicity' RETURNING id", (cid,)).fetchall()
        assert len(moved) == 1, moved
        print(f"publicity timer {moved[0][0]} due in 3 s")
        until("publicity timer fired, project registered", lambda: api.call(
            "GET", "sh_applicant", f"/api/v1/cases/{cid}")["state"]["name"] == "registered", timeout=30)
        fired = conn.execute("SELECT status, fired_at IS NOT NULL FROM timers WHERE id = %s", (moved[0][0],)).fetchone()
        ends = conn.execute("SELECT count(*) FROM audit_events WHERE case_id = %s AND event = 'publicity_end'",
                            (cid,)).fetchone()
        assert fired == ("fired", True) and ends == (1,), (fired, ends)
        print("  timer fired once (one publicity_end event)")

    def completed() -> set[str]:
        runs = api.call("GET", "demo_admin", "/api/v1/admin/flow-runs", limit=100)["items"]
        return {r["flow"] for r in runs if r["state"] == "COMPLETED"} >= {"dispatch", "sweep"}

    until("admin flow-run list shows completed dispatch and sweep runs", completed, timeout=120)
    signed_log(api)


def signed_log(api: Client) -> None:
    """The worker's publish-log run signs the log's head with the key only it holds; the API, holding only
    the verifier keys keygen exported, serves that key and checks the checkpoint against today's log."""
    def published() -> str | None:
        r = api.http.get("/api/v1/public/log/checkpoint")
        return r.text if r.status_code == 200 else None

    text = until("a signed log head published by the worker", published, timeout=120)
    key = api.http.get("/api/v1/public/log/key").json()
    assert f"— {key['name']} " in text, (key, text)  # the signature line names the key the API serves
    checked = api.http.post("/api/v1/public/log/check", json={"checkpoint": text})
    assert checked.status_code == 200 and checked.json()["verdict"] == "extends", checked.text
    print(f"  checkpoint of {checked.json()['old']['tree_size']} leaves verified by the API with key {key['key_id']}")


def main() -> int:
    started = time.monotonic()
    with running() as topo:
        print(f"topology up in {time.monotonic() - started:.0f} s: api {topo.api}, prefect {topo.prefect_api}")
        ALIVE.append(topo.check_alive)
        drive(Client(topo.api), topo.database_url)
        stop_started = time.monotonic()
    print(f"torn down in {time.monotonic() - stop_started:.0f} s; smoke passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
