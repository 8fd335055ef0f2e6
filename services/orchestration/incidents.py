"""Incidents: what operators must look at (Camunda Operate's incidents are the anchor).

The sweep detects them on every run (`detect`, called by `flows/sweep.py`), in whichever process runs
the sweep: no process of its own. A condition is one `key` (a flow's failed runs, a jurisdiction's
dead letters of one kind, a late loop, a jurisdiction's stale outbox rows or overdue timers). Seen
again while open or acknowledged, its incident's `last_seen` moves and `count` grows by the new
occurrences (run ids, row ids, timer ids) — it never opens a second one (a partial unique index on
`key`, migration 0016, holds that even for two detectors at once). When it opens, the on-call is told:
a webhook signed like the jurisdictions' (`X-Carbon-Signature: sha256=<HMAC>`, ONCALL_WEBHOOK_URL and
ONCALL_WEBHOOK_SECRET) and, where the process holds the transparency log's key, with it too
(`X-Carbon-Signature-Ed25519`, checked with the published public key), and an e-mail to ONCALL_EMAIL
(over SMTP_HOST); each channel is recorded in `deliveries` under `incident:<id>`, so one that failed is
retried by the next sweep, and one that went out is never sent again. Conditions of the database
resolve themselves when they are gone (the dead letters retried, the loop back on time); failed flow
runs wait for a person to resolve them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.accounts.identity import AdminScope
from services.engine import audit
from services.engine.clock import clock
from services.engine.errors import Conflict, NotFound
from services.engine.idempotency import Idem, once
from services.orchestration import dispatch
from services.queries.flow_runs import FailedRun, ui_url
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import Case, Delivery, Heartbeat, Incident, Outbox, Timer
from services.transparency import keys
from states.messages import reason

log = logging.getLogger("carbon.incidents")

# occurrence ids an incident remembers, to count each once: a group's newest (ids ascend), so a row older
# than the window never comes back into it; the group's true size is in the detail
SEEN_KEPT = 1000
ACTIVE = ("open", "acknowledged")
# the conditions the detector resolves when they are gone (a failed run stays until a person resolves it)
SELF_RESOLVING = ("dead_letter", "loop_late", "outbox_stale", "timer_overdue")


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(name, default)))


@dataclass(frozen=True)
class Thresholds:
    """When a condition becomes an incident (the environment may override each, in seconds)."""

    outbox_stale: timedelta = field(default_factory=lambda: _seconds("INCIDENT_OUTBOX_STALE_SECONDS", 600))
    timer_overdue: timedelta = field(default_factory=lambda: _seconds("INCIDENT_TIMER_OVERDUE_SECONDS", 300))
    # a loop that has not finished well within its interval and as much again (sweep 60 s, dispatch 15 s)
    loop_late: dict[str, timedelta] = field(default_factory=lambda: {
        "sweep": _seconds("INCIDENT_SWEEP_LATE_SECONDS", 120),
        "dispatch": _seconds("INCIDENT_DISPATCH_LATE_SECONDS", 120)})


@dataclass(frozen=True)
class Finding:
    """One condition seen now: `occurrences` name what was seen (each counted once per incident)."""

    key: str
    kind: str
    jurisdiction: str | None
    occurrences: tuple[str, ...]
    detail: dict[str, Any]
    flow_run_id: str | None = None


# --- what the database shows ---------------------------------------------------------------------------


def _grouped(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[tuple[Any, ...]]]:
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[:-2]), []).append(row[-2:])
    return groups


def _ids(found: list[tuple[Any, ...]]) -> tuple[str, ...]:
    return tuple(str(i) for i, _ in found[-SEEN_KEPT:])


def _dead_letters(session: Session) -> list[Finding]:
    whose = dispatch.whose_column()
    rows = session.exec(select(whose, Outbox.kind, Outbox.id, Outbox.last_error)
                        .outerjoin(Case, col(Case.id) == col(Outbox.case_id))
                        .where(col(Outbox.status) == "dead").order_by(col(Outbox.id)))
    return [Finding(f"dead_letter:{j or '-'}:{kind}", "dead_letter", j, _ids(found),
                    {"outbox_kind": kind, "rows": len(found), "last_error": found[-1][1]})
            for (j, kind), found in _grouped(rows).items()]


def _stale_outbox(session: Session, now: datetime, limit: timedelta) -> list[Finding]:
    whose = dispatch.whose_column()
    rows = session.exec(select(whose, Outbox.id, Outbox.created_at)
                        .outerjoin(Case, col(Case.id) == col(Outbox.case_id))
                        .where(col(Outbox.status) == "pending", col(Outbox.created_at) < now - limit)
                        .order_by(col(Outbox.id)))
    return [Finding(f"outbox_stale:{j or '-'}", "outbox_stale", j, _ids(found),
                    {"rows": len(found), "oldest": min(at for _, at in found).isoformat(),
                     "threshold_seconds": limit.total_seconds()})
            for (j,), found in _grouped(rows).items()]


def _overdue_timers(session: Session, now: datetime, limit: timedelta) -> list[Finding]:
    rows = session.exec(select(Timer.jurisdiction, Timer.id, Timer.fire_at)
                        .where(col(Timer.status) == "pending", col(Timer.fire_at) < now - limit)
                        .order_by(col(Timer.id)))
    return [Finding(f"timer_overdue:{j}", "timer_overdue", j, _ids(found),
                    {"timers": len(found), "oldest_due": min(at for _, at in found).isoformat(),
                     "threshold_seconds": limit.total_seconds()})
            for (j,), found in _grouped(rows).items()]


def _late_loops(session: Session, now: datetime, limits: dict[str, timedelta]) -> list[Finding]:
    """A loop whose last good finish is older than its limit. The sweep checks its own previous finish
    (this run is not finished yet): a gap found when it resumes is recorded, with how long it was."""
    out = []
    for beat in session.exec(select(Heartbeat).where(col(Heartbeat.name).in_(sorted(limits)))):
        last = beat.last_ok_at
        if last is None or now - last <= limits[beat.name]:
            continue
        out.append(Finding(f"loop_late:{beat.name}", "loop_late", None, (last.isoformat(),),
                           {"loop": beat.name, "last_ok_at": last.isoformat(), "late_seconds":
                            round((now - last).total_seconds()), "last_error": beat.last_error},
                           beat.run_id))
    return out


def _failed_runs(runs: Iterable[FailedRun], jurisdictions: Iterable[str]) -> list[Finding]:
    """Grouped by flow and the jurisdiction its tags name (none: the system's own run)."""
    known = set(jurisdictions)
    groups: dict[tuple[str, str | None], list[FailedRun]] = {}
    for run in runs:
        j = next((t for t in run.tags if t in known), None)
        groups.setdefault((run.flow, j), []).append(run)
    findings = []
    for (flow, j), found in groups.items():
        newest = max(found, key=lambda r: r.at or "")
        findings.append(Finding(f"flow_run_failed:{flow}:{j or '-'}", "flow_run_failed", j,
                                tuple(r.id for r in found),
                                {"flow": flow, "state": newest.state, "run_name": newest.name, "at": newest.at},
                                newest.id))
    return findings


def findings(session: Session, now: datetime, runs: Iterable[FailedRun] = (),
             thresholds: Thresholds | None = None) -> list[Finding]:
    from states.profiles import all_profiles

    limits = thresholds or Thresholds()
    return [*_failed_runs(runs, all_profiles()), *_dead_letters(session),
            *_stale_outbox(session, now, limits.outbox_stale), *_overdue_timers(session, now, limits.timer_overdue),
            *_late_loops(session, now, limits.loop_late)]


# --- recording them --------------------------------------------------------------------------------


def _unseen(session: Session, finding: Finding) -> list[str]:
    """The occurrences the last resolved incident of this key had not seen: resolving says "these are
    dealt with", so the same run or row does not open a new incident; a new one does."""
    last = session.exec(select(Incident.detail).where(col(Incident.key) == finding.key,
                                                      col(Incident.status) == "resolved")
                        .order_by(col(Incident.id).desc()).limit(1)).first()
    seen = set((last or {}).get("seen", []))
    return [o for o in finding.occurrences if o not in seen]


def _active(session: Session, key: str) -> Incident | None:
    return session.exec(select(Incident).where(col(Incident.key) == key, col(Incident.status).in_(ACTIVE))
                        .with_for_update()).first()


def _record(session: Session, finding: Finding, now: datetime) -> Incident | None:
    """The finding's active incident updated (None), or a new one opened (returned, to be announced)."""
    incident = _active(session, finding.key)
    if incident is None:
        fresh = _unseen(session, finding)
        if not fresh:
            return None
        values = {"key": finding.key, "kind": finding.kind, "status": "open", "jurisdiction": finding.jurisdiction,
                  "detail": {**finding.detail, "seen": fresh[-SEEN_KEPT:]}, "flow_run_id": finding.flow_run_id,
                  "first_seen": now, "last_seen": now, "count": len(fresh)}
        if insert_ignore(session, Incident, values):
            return _active(session, finding.key)
        incident = _active(session, finding.key)  # another detector opened it a moment ago
        if incident is None:
            return None
    seen = list(incident.detail.get("seen", []))
    known = set(seen)
    new = [o for o in finding.occurrences if o not in known]
    incident.count += len(new)
    incident.last_seen = now
    incident.detail = {**finding.detail, "seen": [*seen, *new][-SEEN_KEPT:]}
    incident.flow_run_id = finding.flow_run_id or incident.flow_run_id
    session.add(incident)
    return None


def _resolve_gone(session: Session, present: set[str], now: datetime) -> int:
    gone = session.exec(select(Incident).where(col(Incident.status).in_(ACTIVE),
                                               col(Incident.kind).in_(SELF_RESOLVING))).all()
    count = 0
    for incident in gone:
        if incident.key not in present:
            incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, None
            session.add(incident)
            count += 1
    return count


def detect(db: Database, runs: Iterable[FailedRun] = (), now: datetime | None = None,
           thresholds: Thresholds | None = None, alerts: Alerts | None = None) -> dict[str, Any]:
    """One detection pass: record what is wrong now, resolve what went away, tell the on-call of what
    opened (and of what an earlier pass could not tell). What the sweep runs, and tests."""
    now = now or clock.now()
    with db.write() as session:
        found = findings(session, now, runs, thresholds)
        opened = [i for f in found if (i := _record(session, f, now)) is not None]
        resolved = _resolve_gone(session, {f.key for f in found}, now)
        opened_ids = [i.id for i in opened]
    for incident_id in opened_ids:
        log.warning("incident %s opened", incident_id, extra={"incident_id": incident_id})
    told = (alerts or Alerts()).announce_pending(db, now)
    return {"seen": len(found), "opened": len(opened_ids), "resolved": resolved, "alerts_sent": told}


# --- telling the on-call ---------------------------------------------------------------------------


@dataclass
class Alerts:
    """Where the on-call hears of a new incident: a signed webhook and e-mail, each when configured."""

    webhook_url: str | None = field(default_factory=lambda: os.environ.get("ONCALL_WEBHOOK_URL"))
    webhook_secret: str = field(default_factory=lambda: os.environ.get("ONCALL_WEBHOOK_SECRET", ""))
    email: str | None = field(default_factory=lambda: os.environ.get("ONCALL_EMAIL"))
    channels: dispatch.Channels = field(default_factory=dispatch.Channels)
    window: timedelta = timedelta(days=1)  # an incident older than this is no longer announced

    def wanted(self) -> list[str]:
        out = []
        if self.webhook_url:
            out.append(f"webhook:{self.webhook_url}")
        if self.email and self.channels.smtp_host:
            out.append(f"email:{self.email}")
        return out

    def announce_pending(self, db: Database, now: datetime) -> int:
        """Every open incident of the last day not yet announced on a configured channel, announced."""
        channels = self.wanted()
        if not channels:
            return 0
        with db.read() as session:
            recent = session.exec(select(Incident).where(col(Incident.status) == "open",
                                                         col(Incident.first_seen) >= now - self.window)
                                  .order_by(col(Incident.id))).all()
            done = set(session.exec(select(Delivery.outbox_key, Delivery.channel).where(
                col(Delivery.outbox_key).in_([f"incident:{i.id}" for i in recent])
            )).all()) if recent else set()
        sent = 0
        for incident in recent:
            for channel in channels:
                key = f"incident:{incident.id}"
                if (key, channel) in done:
                    continue
                try:
                    self._send(channel, incident, key)
                except Exception as exc:
                    log.warning("incident %s not announced on %s: %s", incident.id, channel, exc)
                    continue
                with db.write() as session:
                    insert_ignore(session, Delivery, {"outbox_key": key, "channel": channel, "delivered_at": now})
                sent += 1
        return sent

    def _send(self, channel: str, incident: Incident, key: str) -> None:
        summary = as_dict(incident)
        if channel.startswith("webhook:"):
            body = json.dumps({"key": key, "kind": "incident_opened", "incident": summary}, ensure_ascii=False,
                              sort_keys=True, default=str).encode()
            headers = {"Content-Type": "application/json", "Idempotency-Key": key, "X-Carbon-Event": "incident_opened",
                       "X-Carbon-Signature": dispatch.signature(self.webhook_secret, body)}
            signed = keys.sign_detached(body)  # the log's key: verified with the published public key
            if signed is not None:
                headers["X-Carbon-Signature-Ed25519"] = signed
            response = self.channels.http.post(self.webhook_url or "", content=body, headers=headers)
            response.raise_for_status()
        else:
            subject, text_body = mail_text(summary)
            self.channels.send_mail(self.email or "", subject, text_body, key)


def mail_text(incident: dict[str, Any]) -> tuple[str, str]:
    from states.messages import text

    said = text("incident.mail", id=incident["id"], kind=incident["kind"],
                jurisdiction=incident["jurisdiction"] or "-", count=incident["count"],
                first_seen=incident["first_seen"], link=incident["link"] or "-",
                detail=json.dumps(incident["detail"], ensure_ascii=False, default=str))
    subject = text("incident.mail_subject", id=incident["id"], kind=incident["kind"],
                   jurisdiction=incident["jurisdiction"] or "-")
    return f"{subject.zh} / {subject.en}", f"{said.zh}\n\n{said.en}\n"


def run_link(flow_run_id: str | None) -> str | None:
    return f"{ui_url()}/runs/flow-run/{flow_run_id}" if flow_run_id else None


def as_dict(incident: Incident) -> dict[str, Any]:
    detail = {k: v for k, v in incident.detail.items() if k != "seen"}
    return {"id": incident.id, "key": incident.key, "kind": incident.kind, "status": incident.status,
            "jurisdiction": incident.jurisdiction, "detail": detail, "flow_run_id": incident.flow_run_id,
            "link": run_link(incident.flow_run_id), "first_seen": incident.first_seen,
            "last_seen": incident.last_seen, "count": incident.count,
            "acknowledged_at": incident.acknowledged_at, "acknowledged_by": incident.acknowledged_by,
            "resolved_at": incident.resolved_at, "resolved_by": incident.resolved_by}


# --- what administrators see and do --------------------------------------------------------------------

STATUSES = {"active": ACTIVE, "open": ("open",), "acknowledged": ("acknowledged",), "resolved": ("resolved",),
            "all": ("open", "acknowledged", "resolved")}


def listing(session: Session, scope: AdminScope, status: str = "active", limit: int = 200) -> list[Incident]:
    """Incidents in the administrator's scope (the system's own are national), latest seen first."""
    return list(session.exec(select(Incident).where(col(Incident.status).in_(STATUSES[status]),
                                                    scope.where(col(Incident.jurisdiction)))
                             .order_by(col(Incident.last_seen).desc(), col(Incident.id).desc()).limit(limit)))


def act(db: Database, incident_id: int, action: str, actor_id: int | None, scope: AdminScope,
        caller: str = "system", idempotency_key: str | None = None) -> dict[str, Any]:
    """`acknowledge` (someone is on it) or `resolve` (it is over), by an administrator whose scope covers
    it: NotFound outside the scope, Conflict when already resolved (or acknowledging twice is a no-op)."""
    def command(session: Session) -> tuple[int, dict[str, Any]]:
        incident = session.exec(select(Incident).where(col(Incident.id) == incident_id).with_for_update()).first()
        if incident is None or not scope.covers(incident.jurisdiction):
            raise NotFound.of("incident")
        if incident.status == "resolved":
            raise Conflict([reason("incident_resolved", id=incident_id)])
        now = clock.now()
        if action == "resolve":
            incident.status, incident.resolved_at, incident.resolved_by = "resolved", now, actor_id
        elif incident.status == "open":
            incident.status, incident.acknowledged_at, incident.acknowledged_by = "acknowledged", now, actor_id
        session.add(incident)
        audit.append(session, stream="system", at=now, actor_id=actor_id, actor_role="admin",
                     event=f"incident_{action}d", payload={"incident_id": incident.id, "key": incident.key})
        # the reply is kept for a retry with the same key: JSON, instants as ISO 8601
        return 200, json.loads(json.dumps(as_dict(incident), default=lambda v: v.isoformat()))

    return once(db, Idem(caller, idempotency_key, {f"incident_{action}": incident_id}), command)[1]

