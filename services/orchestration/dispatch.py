"""Draining the outbox: at least once, idempotently, with retries and a dead-letter list.

A batch is claimed under a lease (PostgreSQL `FOR UPDATE SKIP LOCKED`, so several dispatchers share
the work), each row is handed to its kind's handler outside any transaction, then marked done — or
failed with backoff, and dead after `MAX_ATTEMPTS` or at once when the row itself is malformed.
Handlers are idempotent by the row's key: in-app notifications are unique per (key, user); each
channel an e-mail or webhook went out on is recorded in `deliveries`, so a retry resends only what
did not go out, and a crash between sending and recording resends with the same idempotency key
(receivers de-duplicate on it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.accounts.identity import AdminScope
from services.engine import audit
from services.engine.actors import SYSTEM_ACTOR
from services.engine.assignment import assign_least_loaded
from services.engine.clock import clock
from services.engine.command import Command, fire
from services.engine.errors import Conflict, Invalid, NotFound
from services.engine.idempotency import Idem, once
from services.procedures.issuance import hold_project
from services.procedures.scenarios.issuance import ISSUE_WORK, run_issue
from services.store import correlation
from services.store.engine import Database
from services.store.tables import (
    Case,
    Delivery,
    Notification,
    Outbox,
    RoleGrant,
    Task,
    User,
    WebhookEndpoint,
    pk,
)
from states.messages import Text, label, text

log = logging.getLogger("carbon.dispatch")

MAX_ATTEMPTS = 5
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
# A claimed row is the claimer's this long; a drain renews what it has not settled yet every RENEW, so a
# lost dispatcher's rows go back to the others within LEASE (it was 5 minutes: a killed worker's rows waited)
LEASE = timedelta(seconds=45)
RENEW = timedelta(seconds=15)


class Permanent(Exception):
    """The row can never succeed (malformed payload, unknown kind): dead-letter it now."""


@dataclass
class Channels:
    """Where notifications leave the system. SMTP is off unless SMTP_HOST is set."""

    smtp_host: str | None = field(default_factory=lambda: os.environ.get("SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: int(os.environ.get("SMTP_PORT", "25")))
    mail_from: str = field(default_factory=lambda: os.environ.get("SMTP_FROM", "noreply@carbon-inclusion.local"))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    def send_mail(self, to: str, subject: str, body: str, key: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.mail_from, to, subject
        message["Message-ID"] = f"<{hashlib.sha256(f'{key}:{to}'.encode()).hexdigest()[:32]}@carbon-inclusion>"
        message.set_content(body)
        with smtplib.SMTP(self.smtp_host or "localhost", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)

    def post_webhook(self, endpoint: WebhookEndpoint, key: str, kind: str, payload: dict[str, Any]) -> None:
        body = json.dumps({"key": key, "kind": kind, "payload": payload}, ensure_ascii=False,
                          sort_keys=True).encode()
        response = self.http.post(endpoint.url, content=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": key, "X-Carbon-Event": kind,
            "X-Carbon-Signature": signature(endpoint.secret, body)})
        response.raise_for_status()


def signature(secret: str, body: bytes) -> str:
    """`X-Carbon-Signature`: HMAC-SHA256 of the body under the receiver's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of `X-Carbon-Signature`."""
    return hmac.compare_digest(signature(secret, body), header or "")


# --- claiming and settling rows -------------------------------------------------------------


def claim(db: Database, limit: int = 100, now: datetime | None = None) -> list[Outbox]:
    now = now or clock.now()
    with db.write() as session:
        q = (select(Outbox).where(col(Outbox.status) == "pending", col(Outbox.available_at) <= now,
                                  sa.or_(col(Outbox.locked_until).is_(None), col(Outbox.locked_until) < now))
             .order_by(col(Outbox.id)).limit(limit))
        if not db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        rows = list(session.exec(q))
        for row in rows:
            row.locked_until = now + LEASE
            session.add(row)
        return rows


def _settle(db: Database, row_id: int, error: str | None, permanent: bool = False) -> str:
    now = clock.now()
    with db.write() as session:
        row = session.get(Outbox, row_id)
        if row is None:
            return "gone"
        row.locked_until = None
        if error is None:
            row.status, row.done_at, row.last_error = "done", now, None
        else:
            row.attempts += 1
            row.last_error = error[:2000]
            if permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = "dead"
            else:
                row.available_at = now + BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
        session.add(row)
        return row.status


def deliver(db: Database, row: Outbox, channels: Channels) -> str:
    """One row, under the request id of the command that wrote it (its logs and the rows it writes)."""
    with correlation.carrying(row.request_id or correlation.current()):
        outcome = _deliver(db, row, channels)
        log.info("outbox %s %s: %s", row.id, row.kind, outcome, extra={"outbox_id": row.id})
        return outcome


def _deliver(db: Database, row: Outbox, channels: Channels) -> str:
    handler = HANDLERS.get(row.kind)
    try:
        if handler is None:
            raise Permanent(f"no handler for outbox kind {row.kind!r}")
        handler(db, row, channels)
    except Permanent as exc:
        log.warning("outbox %s dead: %s", row.key, exc)
        return _settle(db, pk(row), str(exc), permanent=True)
    except (KeyError, TypeError, ValueError) as exc:  # a malformed payload does not heal by retrying
        log.warning("outbox %s dead (malformed)", row.key, exc_info=True)
        return _settle(db, pk(row), f"malformed payload: {exc!r}", permanent=True)
    except Exception as exc:
        log.info("outbox %s failed (will retry): %s", row.key, exc)
        return _settle(db, pk(row), f"{type(exc).__name__}: {exc}")
    return _settle(db, pk(row), None)


def drain(db: Database, channels: Channels | None = None, batch: int = 100, max_batches: int = 50
          ) -> dict[str, int]:
    """Deliver until nothing is due (or `max_batches` batches): what the `dispatch` flow runs, and tests.
    Counts rows by outcome, and the batches claimed."""
    channels = channels or Channels()
    counts = {"batches": 0, "claimed": 0, "done": 0, "pending": 0, "dead": 0}
    for _ in range(max_batches):
        rows = claim(db, batch)
        if not rows:
            break
        counts["batches"] += 1
        counts["claimed"] += len(rows)
        with _Lease(db) as lease:
            for k, row in enumerate(rows):
                lease.holding([pk(r) for r in rows[k:]])
                outcome = deliver(db, row, channels)
                counts[outcome] = counts.get(outcome, 0) + 1
    return counts


class _Lease:
    """Keeps the rows a drain still holds claimed while it works, renewed every RENEW from a thread of its
    own: one row's handler may take longer than LEASE (a scenario period minted to a million users takes
    about a minute), and a renewal between rows came too late to stop another dispatcher claiming the rest."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ids: list[int] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="outbox-lease", daemon=True)

    def holding(self, ids: list[int]) -> None:
        self.ids = ids

    def __enter__(self) -> _Lease:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.done.wait(RENEW.total_seconds()):
            try:
                _renew(self.db, self.ids)
            except Exception:  # the next beat tries again; the lease's end is the safety net
                log.warning("outbox lease renewal failed", exc_info=True)


def _renew(db: Database, ids: list[int]) -> None:
    """Keep the rows this drain still holds (a slow receiver must not hand them to another dispatcher). A row
    settled meanwhile has no lock any more (`_settle` clears it) and is not locked again."""
    if not ids:
        return
    with db.write() as session:
        session.execute(sa.update(Outbox).where(col(Outbox.id).in_(ids), col(Outbox.status) == "pending",
                                                col(Outbox.locked_until).is_not(None))
                        .values(locked_until=clock.now() + LEASE))


# Whose a row is: its payload's jurisdiction, else its case's; neither = the system's own.
_WHOSE = sa.func.coalesce(Outbox.payload["jurisdiction"].as_string(), Case.jurisdiction)


def whose_column() -> Any:
    """The jurisdiction an outbox row belongs to, as a column (needs Case outer-joined on the row's case)."""
    return _WHOSE


def _with_whose() -> Any:
    return select(Outbox, _WHOSE).outerjoin(Case, col(Case.id) == col(Outbox.case_id))


def listing(session: Session, scope: AdminScope, status: str, limit: int = 100) -> list[tuple[Outbox, str | None]]:
    """The rows an administrator may see, newest first, each with the jurisdiction it belongs to: a
    jurisdiction's administrator sees that jurisdiction's rows; the system's own rows are national."""
    rows = session.exec(_with_whose().where(col(Outbox.status) == status, scope.where(_WHOSE))
                        .order_by(col(Outbox.id).desc()).limit(limit))
    return [(row, whose) for row, whose in rows]


def retry(db: Database, row_id: int, actor_id: int | None, scope: AdminScope, caller: str = "system",
          idempotency_key: str | None = None) -> dict[str, Any] | None:
    """An administrator sends a dead (or stuck) row round again, with a fresh set of attempts. None when
    there is no such row in the administrator's scope (another jurisdiction's row is not theirs to see)."""
    def command(session: Session) -> tuple[int, dict[str, Any]]:
        found = session.exec(_with_whose().where(Outbox.id == row_id)).first()
        if found is None or not scope.covers(found[1]):
            raise NotFound.of("outbox_row")
        row = found[0]
        row.status, row.attempts, row.available_at, row.locked_until = "pending", 0, clock.now(), None
        session.add(row)
        audit.append(session, stream="system", at=clock.now(), actor_id=actor_id, actor_role="admin",
                     event="outbox_retried", payload={"outbox_id": row.id, "key": row.key})
        return 200, {"id": row.id, "status": row.status, "attempts": row.attempts}

    try:
        return once(db, Idem(caller, idempotency_key, {"retry_outbox": row_id}), command)[1]
    except NotFound:
        return None


# --- handlers ---------------------------------------------------------------------------------


def _delivered(db: Database, key: str, channel: str) -> bool:
    with db.read() as session:
        return session.exec(select(Delivery.id).where(Delivery.outbox_key == key,
                                                      Delivery.channel == channel)).first() is not None


def _record_delivery(db: Database, key: str, channel: str) -> None:
    with db.write() as session:
        if session.exec(select(Delivery.id).where(Delivery.outbox_key == key, Delivery.channel == channel)).first():
            return
        session.add(Delivery(outbox_key=key, channel=channel, delivered_at=clock.now()))


def _webhooks(db: Database, row: Outbox, channels: Channels) -> None:
    jurisdiction = row.payload.get("jurisdiction")
    with db.read() as session:
        endpoints = [e for e in session.exec(select(WebhookEndpoint).where(
            col(WebhookEndpoint.jurisdiction) == jurisdiction, col(WebhookEndpoint.active).is_(True)))
            if not e.events or row.kind in e.events]
    for endpoint in endpoints:
        channel = f"webhook:{endpoint.id}"
        if _delivered(db, row.key, channel):
            continue
        channels.post_webhook(endpoint, row.key, row.kind, row.payload)
        _record_delivery(db, row.key, channel)


def _recipients(session: Session, row: Outbox) -> list[User]:
    target = row.payload["target"]
    case = session.get(Case, row.payload["case_id"]) if row.payload.get("case_id") else None
    j = row.payload["jurisdiction"]
    if target == "applicant":
        if case is None or case.applicant_org_id is None:
            return []
        q = select(User).join(RoleGrant, col(RoleGrant.user_id) == col(User.id)).where(
            User.org_id == case.applicant_org_id, RoleGrant.role == "applicant", RoleGrant.jurisdiction == j)
    elif target == "queue":
        roles = row.payload.get("roles") or []
        if not roles:
            return []
        q = select(User).join(RoleGrant, col(RoleGrant.user_id) == col(User.id)).where(
            col(RoleGrant.role).in_(roles), col(RoleGrant.jurisdiction) == j)
    elif target == "assignee":
        q = select(User).join(Task, col(Task.assignee_id) == col(User.id)).where(Task.id == int(row.payload["task_id"]))
    elif target.startswith("user:"):
        q = select(User).where(User.id == int(target.split(":", 1)[1]))
    else:
        raise Permanent(f"unknown notification target {target!r}")
    return list({u.id: u for u in session.exec(q) if u.active}.values())


def _title(row: Outbox) -> Text:
    event = row.payload.get("event", row.kind)
    case_id = row.payload.get("case_id")
    if event.startswith("entered:"):
        state = label(f"state.{event.split(':', 1)[1]}")
        return text("title.case_entered", case=case_id, state_zh=state["zh"], state_en=state["en"])
    named = label(f"notification.{event}")
    return text("title.case_event", case=case_id, event_zh=named["zh"], event_en=named["en"])


def notify(db: Database, row: Outbox, channels: Channels) -> None:
    """In-app rows for every recipient, e-mail to those with an address, the jurisdiction's webhooks."""
    zh, en = _title(row)
    now = clock.now()
    with db.write() as session:
        users = _recipients(session, row)
        existing = set(session.exec(select(col(Notification.user_id)).where(col(Notification.outbox_key) == row.key)))
        for user in users:
            if user.id not in existing:
                session.add(Notification(user_id=pk(user), outbox_key=row.key, case_id=row.payload.get("case_id"),
                                         event=row.payload.get("event", row.kind), title_zh=zh, title_en=en,
                                         created_at=now))
        addresses = sorted({u.email for u in users if u.email})
    if channels.smtp_host:
        for address in addresses:
            channel = f"email:{address}"
            if not _delivered(db, row.key, channel):
                channels.send_mail(address, f"{zh} / {en}", f"{zh}\n{en}\n", row.key)
                _record_delivery(db, row.key, channel)
    _webhooks(db, row, channels)


def publish(db: Database, row: Outbox, channels: Channels) -> None:
    """Notices and registry changes: the public list reads the database; receivers get a webhook."""
    _webhooks(db, row, channels)


def convene_panel(db: Database, row: Outbox, channels: Channels) -> None:
    """Draw the panel through the command path as `system`. A case that moved on, or already has a
    panel, needs nothing; a pool too small is permanent (the officer names the panel by hand)."""

    try:
        fire(db, Command(int(row.payload["case_id"]), "draw_panel", SYSTEM_ACTOR), lambda s, o: (200, {}))
    except Conflict:
        return  # no longer in expert review
    except Invalid as exc:
        if any(r.code == "panel_already" for r in exc.reasons):
            return
        raise Permanent("; ".join(f"{r.zh} / {r.en}" for r in exc.reasons)) from exc


def assign(db: Database, row: Outbox, channels: Channels) -> None:

    assign_least_loaded(db, int(row.payload["case_id"]), row.payload["target"])


def hold_or_release(release: bool) -> Callable[[Database, Outbox, Channels], None]:
    def handle(db: Database, row: Outbox, channels: Channels) -> None:

        with db.write() as session:
            hold_project(session, int(row.payload["project_id"]), f"rectification case {row.payload['case_id']}",
                         release=release)
    return handle


def issue_scenario(db: Database, row: Outbox, channels: Channels) -> None:
    """An approved scenario period's minting and per-user allocation (services/procedures/scenarios/issuance
    .run_issue: done once, whatever the number of deliveries). A refusal (a data file no longer matching its
    SHA-256) does not heal by retrying: dead-lettered with its reasons, shown on the case."""
    try:
        run_issue(db, int(row.payload["case_id"]), row.payload.get("approver_id"))
    except Invalid as exc:
        raise Permanent("; ".join(f"{r.zh} / {r.en}" for r in exc.reasons)) from exc


HANDLERS: dict[str, Callable[[Database, Outbox, Channels], None]] = {
    ISSUE_WORK: issue_scenario,
    "hold_project": hold_or_release(False),
    "release_project": hold_or_release(True),
    "notify": notify,
    "convene_panel": convene_panel,
    "assign": assign,
    **dict.fromkeys(("open_publicity", "close_publicity", "open_consultation", "close_consultation",
                     "publish_registration", "publish_disclosure", "publish_methodology", "publish_dispositions",
                     "publish_revocation"), publish),
}
