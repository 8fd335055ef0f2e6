"""Incidents: detected by the sweep (failed or crashed flow runs, dead letters, a late loop, stale outbox
rows, overdue timers), de-duplicated (the same condition adds to the count, never a second incident),
announced once to the on-call (a signed webhook and an e-mail through a real SMTP server on localhost),
listed for administrators in their scope, acknowledged and resolved."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlmodel import select

from services.api import create_app
from services.demo import Driver, application, commitments
from services.engine.clock import clock
from services.orchestration import dispatch, health, incidents
from services.orchestration.incidents import Alerts, Thresholds
from services.queries.flow_runs import FailedRun
from services.store.engine import Database
from services.store.tables import Delivery, Heartbeat, Incident, Outbox, Timer
from tests.conftest import at
from tests.web.conftest import Browser

pytestmark = pytest.mark.e2e
NATIONAL = {"Authorization": "Bearer demo-demo_admin"}
SH_ADMIN = {"Authorization": "Bearer demo-sh_admin"}
BJ_ADMIN = {"Authorization": "Bearer demo-bj_admin"}
QUIET = Alerts(webhook_url=None, email=None)  # detection alone: no channel configured


def _outbox(db: Database, key: str, status: str, payload: dict[str, Any], created_ago: timedelta = timedelta(0),
            case_id: int | None = None) -> int:
    with db.write() as s:
        row = Outbox(key=key, kind="notify", status=status, attempts=5 if status == "dead" else 0,
                     last_error="ConnectError: receiver down" if status == "dead" else None, case_id=case_id,
                     payload=payload, created_at=clock.now() - created_ago, available_at=clock.now())
        s.add(row)
        s.flush()
        return row.id


def _active(db: Database) -> dict[str, Incident]:
    with db.read() as s:
        return {i.key: i for i in s.exec(select(Incident).where(Incident.status != "resolved"))}


@pytest.fixture
def case_id(driver: Driver, test_clock: Any) -> int:
    test_clock.set(at("2027-03-01 09:00"))
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    return cid


def test_each_condition_opens_one_incident_and_seeing_it_again_only_counts(db: Database, case_id: int) -> None:
    now = clock.now()
    first = _outbox(db, "sh:1", "dead", {"jurisdiction": "SH"})
    _outbox(db, "sys:1", "dead", {})
    _outbox(db, "stale:1", "pending", {"jurisdiction": "SH"}, created_ago=timedelta(minutes=30))
    _outbox(db, "fresh:1", "pending", {"jurisdiction": "SH"})  # not old enough to be stale
    with db.write() as s:
        s.add(Timer(case_id=case_id, jurisdiction="SH", kind="publicity", trigger="publicity_ended",
                    state="publicity", fire_at=now - timedelta(minutes=10)))
        s.add(Heartbeat(name="dispatch", last_ok_at=now - timedelta(minutes=5)))
        s.add(Heartbeat(name="sweep", last_ok_at=now - timedelta(seconds=30)))  # on time
    crashed = FailedRun("run-1", "sweep (schedule)", "sweep", "CRASHED", (), now.isoformat())
    bj_failed = FailedRun("run-2", "dispatch (after submit)", "dispatch", "FAILED", ("project_registration", "BJ"),
                          now.isoformat())

    result = incidents.detect(db, [crashed, bj_failed], now, alerts=QUIET)
    found = _active(db)
    assert set(found) == {"dead_letter:SH:notify", "dead_letter:-:notify", "outbox_stale:SH", "timer_overdue:SH",
                          "loop_late:dispatch", "flow_run_failed:sweep:-", "flow_run_failed:dispatch:BJ"}
    assert result["opened"] == 7 and all(i.count == 1 and i.status == "open" for i in found.values())
    assert found["flow_run_failed:sweep:-"].flow_run_id == "run-1"
    assert found["flow_run_failed:dispatch:BJ"].jurisdiction == "BJ"
    assert found["dead_letter:-:notify"].jurisdiction is None  # the system's own row: national
    assert found["loop_late:dispatch"].detail["late_seconds"] == 300

    # seen again a minute later: nothing opens, last_seen moves, counts grow only by what is new
    later = now + timedelta(minutes=1)
    _outbox(db, "sh:2", "dead", {"jurisdiction": "SH"})
    again = FailedRun("run-3", "sweep (schedule)", "sweep", "FAILED", (), later.isoformat())
    result = incidents.detect(db, [crashed, again, bj_failed], later, alerts=QUIET)
    found = _active(db)
    assert result["opened"] == 0 and len(found) == 7
    with db.read() as s:
        assert len(s.exec(select(Incident)).all()) == 7
    assert found["dead_letter:SH:notify"].count == 2 and found["dead_letter:SH:notify"].last_seen == later
    assert found["dead_letter:SH:notify"].first_seen == now
    assert found["flow_run_failed:sweep:-"].count == 2 and found["flow_run_failed:sweep:-"].flow_run_id == "run-3"
    assert found["flow_run_failed:dispatch:BJ"].count == 1
    assert found["timer_overdue:SH"].count == 1

    # the dead letters retried and delivered: that incident resolves itself; a failed run waits for a person
    with db.write() as s:
        for row in s.exec(select(Outbox).where(Outbox.status == "dead", Outbox.id != first)):
            s.delete(row)
        s.get(Outbox, first).status = "done"
    incidents.detect(db, [crashed, again, bj_failed], later, alerts=QUIET)
    found = _active(db)
    assert "dead_letter:SH:notify" not in found and "flow_run_failed:sweep:-" in found
    with db.read() as s:
        gone = s.exec(select(Incident).where(Incident.key == "dead_letter:SH:notify")).one()
    assert gone.status == "resolved" and gone.resolved_by is None
    # /metrics counts the open ones by kind and jurisdiction
    assert health.snapshot(db, later).incidents[("flow_run_failed", "BJ")] == 1


def test_a_resolved_incident_stays_resolved_until_something_new_happens(db: Database, case_id: int) -> None:
    now = clock.now()
    run = FailedRun("run-1", "sweep (schedule)", "sweep", "CRASHED", (), now.isoformat())
    incidents.detect(db, [run], now, alerts=QUIET)
    incident = _active(db)["flow_run_failed:sweep:-"]
    incidents.act(db, incident.id, "resolve", None, _national())
    incidents.detect(db, [run], now + timedelta(minutes=1), alerts=QUIET)  # the same run, still in Prefect's list
    assert "flow_run_failed:sweep:-" not in _active(db)
    newer = FailedRun("run-9", "sweep (schedule)", "sweep", "FAILED", (), (now + timedelta(minutes=2)).isoformat())
    incidents.detect(db, [run, newer], now + timedelta(minutes=2), alerts=QUIET)
    reopened = _active(db)["flow_run_failed:sweep:-"]
    assert reopened.id != incident.id and reopened.count == 1 and reopened.flow_run_id == "run-9"


def _national() -> Any:
    from services.accounts.identity import AdminScope
    from states.profiles import all_profiles

    return AdminScope(True, frozenset(all_profiles()))


# --- telling the on-call ----------------------------------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list[bytes]]]:
    """A real SMTP server on localhost (aiosmtpd) that keeps what it receives."""
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def test_a_new_incident_is_sent_once_signed_and_by_mail_and_a_failed_send_is_retried(
        db: Database, case_id: int, smtp_sink: tuple[int, list[bytes]]) -> None:
    port, mails = smtp_sink
    posts: list[httpx.Request] = []
    receiver_up = {"ok": False}

    def receiver(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(200 if receiver_up["ok"] else 503)

    channels = dispatch.Channels(smtp_host="127.0.0.1", smtp_port=port,
                                 http=httpx.Client(transport=httpx.MockTransport(receiver)))
    alerts = Alerts(webhook_url="https://oncall.example/hook", webhook_secret="s3cret-oncall-key",
                    email="oncall@bureau.example", channels=channels)
    now = clock.now()
    _outbox(db, "sh:1", "dead", {"jurisdiction": "SH"})

    result = incidents.detect(db, [], now, alerts=alerts)
    assert result["opened"] == 1 and result["alerts_sent"] == 1  # the mail went out, the webhook failed
    assert len(mails) == 1 and len(posts) == 1
    mail = message_from_bytes(mails[0])
    assert mail["To"] == "oncall@bureau.example" and "dead_letter" in str(mail["Subject"])
    body = mail.get_payload(decode=True).decode()
    assert "运行事件" in body and "Incident" in body and "SH" in body

    receiver_up["ok"] = True
    _outbox(db, "sh:2", "dead", {"jurisdiction": "SH"})  # the same incident, seen again: no new announcement
    result = incidents.detect(db, [], now + timedelta(minutes=1), alerts=alerts)
    assert result["opened"] == 0 and result["alerts_sent"] == 1  # only the webhook that had failed
    assert len(mails) == 1 and len(posts) == 2
    sent = posts[-1]
    assert dispatch.verify_signature("s3cret-oncall-key", sent.content, sent.headers["X-Carbon-Signature"])
    assert not dispatch.verify_signature("another-secret", sent.content, sent.headers["X-Carbon-Signature"])
    payload = json.loads(sent.content)
    assert payload["kind"] == "incident_opened" and payload["incident"]["kind"] == "dead_letter"
    assert sent.headers["Idempotency-Key"] == f"incident:{payload['incident']['id']}"
    assert "X-Carbon-Signature-Ed25519" not in sent.headers  # this process holds no log key
    assert incidents.detect(db, [], now + timedelta(minutes=2), alerts=alerts)["alerts_sent"] == 0
    with db.read() as s:
        assert len(s.exec(select(Delivery).where(Delivery.outbox_key.startswith("incident:"))).all()) == 2


def _receiver_accepts(public_key_pem: str, body: bytes, header: str) -> bool:
    """What the README tells a receiver to do, with `cryptography` alone: the published key, the header's
    `sig` (base64) over the exact body bytes."""
    public = serialization.load_pem_public_key(public_key_pem.encode())
    assert isinstance(public, Ed25519PublicKey)
    fields = dict(part.split("=", 1) for part in header.split(","))
    try:
        public.verify(base64.b64decode(fields["sig"]), body)
    except InvalidSignature:
        return False
    return True


def test_the_webhook_is_also_signed_with_the_logs_key_and_verifies_with_the_published_public_key(
        db: Database, case_id: int, log_key: str) -> None:
    posts: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(200)

    alerts = Alerts(webhook_url="https://oncall.example/hook", webhook_secret="s3cret-oncall-key", email=None,
                    channels=dispatch.Channels(http=httpx.Client(transport=httpx.MockTransport(receiver))))
    _outbox(db, "sh:1", "dead", {"jurisdiction": "SH"})
    assert incidents.detect(db, [], clock.now(), alerts=alerts)["alerts_sent"] == 1
    sent = posts[0]
    published = TestClient(create_app(db)).get("/api/v1/public/log/key").json()
    header = sent.headers["X-Carbon-Signature-Ed25519"]
    assert header.startswith(f"keyid={published['key_id']},sig=")
    assert _receiver_accepts(published["public_key_pem"], sent.content, header)
    assert dispatch.verify_signature("s3cret-oncall-key", sent.content, sent.headers["X-Carbon-Signature"])

    tampered = sent.content.replace(b'"SH"', b'"BJ"')
    assert tampered != sent.content and not _receiver_accepts(published["public_key_pem"], tampered, header)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM,
                                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert not _receiver_accepts(other.decode(), sent.content, header)


# --- administrators ------------------------------------------------------------------------------------


@pytest.fixture
def api(db: Database) -> TestClient:
    return TestClient(create_app(db))


def _seed(db: Database) -> dict[str, int]:
    _outbox(db, "sh:1", "dead", {"jurisdiction": "SH"})
    _outbox(db, "sys:1", "dead", {})
    run = FailedRun("run-1", "sweep (schedule)", "sweep", "CRASHED", (), clock.now().isoformat())
    incidents.detect(db, [run], clock.now(), thresholds=Thresholds(), alerts=QUIET)
    return {k.split(":")[0] + (":" + (i.jurisdiction or "-")): i.id for k, i in _active(db).items()}


def test_administrators_list_acknowledge_and_resolve_in_their_scope(db: Database, api: TestClient,
                                                                    case_id: int) -> None:
    ids = _seed(db)
    national = api.get("/api/v1/admin/incidents", headers=NATIONAL).json()["items"]
    assert {i["id"] for i in national} == set(ids.values())
    run = next(i for i in national if i["kind"] == "flow_run_failed")
    assert run["link"].endswith("/runs/flow-run/run-1") and run["count"] == 1 and run["first_seen"]
    sh = api.get("/api/v1/admin/incidents", headers=SH_ADMIN).json()["items"]
    assert [i["id"] for i in sh] == [ids["dead_letter:SH"]]  # the system's own are national
    assert api.get("/api/v1/admin/incidents", headers=BJ_ADMIN).json()["items"] == []

    sh_id = ids["dead_letter:SH"]
    assert api.post(f"/api/v1/admin/incidents/{sh_id}/acknowledge", headers=BJ_ADMIN).status_code == 404
    assert api.post(f"/api/v1/admin/incidents/{ids['flow_run_failed:-']}/resolve",
                    headers=SH_ADMIN).status_code == 404
    acked = api.post(f"/api/v1/admin/incidents/{sh_id}/acknowledge", headers=SH_ADMIN).json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"]
    # seen again while acknowledged: still the one incident, still acknowledged
    _outbox(db, "sh:2", "dead", {"jurisdiction": "SH"})
    incidents.detect(db, [], clock.now() + timedelta(minutes=1), alerts=QUIET)
    again = api.get("/api/v1/admin/incidents", headers=SH_ADMIN).json()["items"]
    assert [(i["id"], i["status"], i["count"]) for i in again] == [(sh_id, "acknowledged", 2)]
    done = api.post(f"/api/v1/admin/incidents/{sh_id}/resolve", headers={**SH_ADMIN, "Idempotency-Key": "r1"})
    assert done.json()["status"] == "resolved"
    retried = api.post(f"/api/v1/admin/incidents/{sh_id}/resolve", headers={**SH_ADMIN, "Idempotency-Key": "r1"})
    assert retried.status_code == 200 and retried.json() == done.json()  # a retry answers the same
    twice = api.post(f"/api/v1/admin/incidents/{sh_id}/acknowledge", headers=SH_ADMIN)
    assert twice.status_code == 409 and {"zh", "en"} <= set(twice.json()["error"]["reasons"][0])
    assert api.get("/api/v1/admin/incidents", headers=SH_ADMIN).json()["items"] == []
    resolved = api.get("/api/v1/admin/incidents", params={"status": "resolved"}, headers=SH_ADMIN).json()["items"]
    assert [i["id"] for i in resolved] == [sh_id]
    bad = api.get("/api/v1/admin/incidents", params={"status": "nope"}, headers=SH_ADMIN)
    assert bad.status_code == 422
    assert api.get("/api/v1/admin/incidents", headers={"Authorization": "Bearer demo-sh_applicant"}).status_code == 403


def test_the_incidents_page_shows_and_resolves(db: Database, case_id: int) -> None:
    ids = _seed(db)
    web = Browser(create_app(db))
    assert web.sign_in("demo_admin").status_code == 303
    page = web.get("/admin/incidents").text
    assert f'id="incident-{ids["flow_run_failed:-"]}"' in page and "/runs/flow-run/run-1" in page
    assert "死信" in page and "流程运行失败或崩溃" in page
    r = web.post_form("/admin/incidents", f"/admin/incidents/{ids['flow_run_failed:-']}/resolve", {})
    assert r.status_code == 303
    assert f'id="incident-{ids["flow_run_failed:-"]}"' not in web.get("/admin/incidents").text
    assert f'id="incident-{ids["flow_run_failed:-"]}"' in web.get("/admin/incidents?status=resolved").text
