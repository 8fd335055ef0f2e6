"""Public reports (举报, Jiaxing art. 27; Ordos art. 26): anyone may report without an account and follow
the report with a receipt and a secret; the reporter's identity is kept apart and read only by the
officers the approver assigned, each read audited."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from forms.supervision import ReportHandlers
from services.engine import audit, throttle
from services.engine.actors import PUBLIC_ACTOR, Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.command import lock_case
from services.engine.context import Ctx
from services.engine.errors import Forbidden, NotFound
from services.engine.idempotency import Idem, once
from services.engine.opening import open_case
from services.engine.throttle import Limit
from services.engine.work import enqueue
from services.store.engine import Database
from services.store.records import AnyCase
from services.store.tables import AuditEvent, Case, ReportHandler, ReportIdentity, User
from states.effects import AssignHandlers, WithdrawHandlers
from states.machine import procedure
from states.messages import label, reason, text

# Following a report (Jiaxing art. 27: reply to the reporter). The secret is 144 random bits: guessing
# it is hopeless, so a limit on a receipt alone would add no security and would let anyone who learns
# a receipt lock its reporter out. Failures count against the client's address and against the
# (receipt, address) pair: a third party's wrong guesses exhaust only their own address.
CHECK_BY_ADDRESS = Limit("report-check:address", 20, timedelta(minutes=15))
CHECK_BY_RECEIPT_AT_ADDRESS = Limit("report-check:receipt@address", 5, timedelta(minutes=15))


def receipt_digest(receipt: str) -> str:
    """Receipts are kept as digests (the reporter holds the receipt); typed in any case."""
    return hashlib.sha256(receipt.strip().upper().encode()).hexdigest()


def lodge_report(db: Database, jurisdiction: str, form: Any, caller: Actor = PUBLIC_ACTOR,
                 idempotency_key: str | None = None) -> dict[str, Any]:
    """Anyone may report without an account; they get a receipt number and a secret to follow it.
    Neither is stored with the report in the clear, and the receipt appears in no title, audit payload
    or queue. A retry with the same Idempotency-Key gets the same receipt and secret: the stored reply
    holds them (a database reader could follow the report's status, which such a reader sees anyway;
    the reporter's identity stays apart)."""
    spec = procedure("report", jurisdiction)
    data = form.model_dump(mode="json")
    public_part = {k: v for k, v in data.items() if k not in ("name", "contact")}

    def command(session: Session) -> tuple[int, dict[str, Any]]:
        secret = secrets.token_urlsafe(18)
        receipt = f"RPT-{local_date(clock.now()):%Y%m%d}-{secrets.token_hex(4).upper()}"
        case, _ = open_case(session, spec, jurisdiction=jurisdiction, actor=PUBLIC_ACTOR, form=form, role="public",
                            application={**public_part, "title": text("title.report", subject=data["subject"]).zh},
                            subject_kind="report",
                            payload={"subject": data["subject"]})
        session.add(ReportIdentity(case_id=case.id, receipt_sha256=receipt_digest(receipt),
                                   secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                                   name=data["name"], contact=data["contact"]))
        return 201, {"receipt": receipt, "secret": secret, "case_jurisdiction": jurisdiction}

    return once(db, Idem(caller.key, idempotency_key, {"report": jurisdiction, **data}), command)[1]


def check_report(db: Database, receipt: str, secret: str, client: str) -> dict[str, Any]:
    """Status and feedback only. A wrong secret and an unknown receipt look the same. A correct
    secret from an address that is not blocked always answers; failures are throttled per address
    and per (receipt, address), never per receipt alone."""
    now = clock.now()
    receipt = receipt.strip().upper()
    subjects = ((CHECK_BY_ADDRESS, client), (CHECK_BY_RECEIPT_AT_ADDRESS, f"{receipt}\x00{client}"))
    given = hashlib.sha256(secret.encode()).hexdigest()
    with db.write() as session:  # the failure count must commit, so the 404 is raised after it
        throttle.refuse_if_blocked(session, now, *subjects)
        identity = session.exec(select(ReportIdentity).where(
            ReportIdentity.receipt_sha256 == receipt_digest(receipt))).first()
        # compared even for an unknown receipt, so that both take the same time
        ok = secrets.compare_digest(identity.secret_sha256 if identity else "0" * 64, given)
        if ok and identity is not None:
            # forget this receipt's failures here; the address's stay (a valid check of one's own
            # report must not reset the count of guesses at others')
            throttle.clear(session, CHECK_BY_RECEIPT_AT_ADDRESS, subjects[1][1])
            case = session.get_one(Case, identity.case_id)
            return {"receipt": receipt, "state": {"name": case.state, **label(f"state.{case.state}")},
                    "received_at": case.created_at.isoformat(), "feedback": case.application.get("feedback")}
        throttle.count_failure(session, now, *subjects)
    raise NotFound([reason("report_secret")])


# --- who may know the reporter (Jiaxing art. 27: 为举报人保密) -----------------------------------------
# Visibility follows the approver's explicit assignment of handlers (states/report.py), never a task
# claim; each read is an audit event on the case's chain that names the reader, never the identity.


READ_EVENT = "reporter_identity_read"


def assign_handlers(ctx: Ctx, effect: AssignHandlers) -> None:
    standing = set(ctx.session.exec(select(col(ReportHandler.user_id)).where(
        col(ReportHandler.case_id) == ctx.case.id, col(ReportHandler.withdrawn_at).is_(None))))
    for user_id in dict.fromkeys(ctx.form_as(ReportHandlers).officers):
        if user_id not in standing:
            ctx.session.add(ReportHandler(case_id=ctx.case.id, user_id=user_id, assigned_by=ctx.actor.user_id,
                                          assigned_at=ctx.now))
            enqueue(ctx, "notify", f"user:{user_id}", {"event": "report_handler_assigned"})


def withdraw_handlers(ctx: Ctx, effect: WithdrawHandlers) -> None:
    for row in ctx.session.exec(select(ReportHandler).where(
            col(ReportHandler.case_id) == ctx.case.id, col(ReportHandler.withdrawn_at).is_(None),
            col(ReportHandler.user_id).in_(ctx.form_as(ReportHandlers).officers))):
        row.withdrawn_at, row.withdrawn_by = ctx.now, ctx.actor.user_id
        ctx.session.add(row)


def _may_read(session: Session, case: AnyCase, actor: Actor) -> bool:
    """A case officer of the jurisdiction with a standing assignment to this report."""
    return actor.user_id is not None and actor.holds("case_officer", case.jurisdiction) and session.exec(
        select(ReportHandler.id).where(ReportHandler.case_id == case.id, col(ReportHandler.user_id) == actor.user_id,
                                       col(ReportHandler.withdrawn_at).is_(None))).first() is not None


def reporter_access(session: Session, case: AnyCase, actor: Actor) -> dict[str, Any] | None:
    """Who handles a report and who has read its reporter's identity, and when (never the identity)."""
    if case.procedure != "report":
        return None
    handlers = list(session.exec(select(ReportHandler).where(col(ReportHandler.case_id) == case.id)
                                 .order_by(col(ReportHandler.id))))
    reads = list(session.exec(select(AuditEvent)
                              .where(col(AuditEvent.stream) == f"case:{case.id}", col(AuditEvent.event) == READ_EVENT)
                              .order_by(col(AuditEvent.seq))))
    ids = {h.user_id for h in handlers} | {h.assigned_by for h in handlers if h.assigned_by} | {
        e.actor_id for e in reads if e.actor_id}
    names = {u.id: u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    return {
        "handlers": [{"user_id": h.user_id, "name": names.get(h.user_id, ""), "assigned_at": h.assigned_at.isoformat(),
                      "assigned_by": h.assigned_by, "assigned_by_name": names.get(h.assigned_by or 0, ""),
                      "withdrawn_at": h.withdrawn_at.isoformat() if h.withdrawn_at else None} for h in handlers],
        "reads": [{"user_id": e.actor_id, "name": names.get(e.actor_id or 0, ""), "at": e.at.isoformat()}
                  for e in reads],
        "may_read": _may_read(session, case, actor),
        "href": f"/api/v1/cases/{case.id}/reporter",
    }


def read_reporter(db: Database, case_id: int, actor: Actor) -> dict[str, str]:
    """The reporter's name and contact, for an assigned handler; the read is recorded first, in the
    same transaction (no read without its audit event)."""
    now = clock.now()
    with db.write() as session:
        case = lock_case(session, case_id, actor)
        if case.procedure != "report":
            raise NotFound.of("case")
        if not _may_read(session, case, actor):
            raise Forbidden([reason("reporter_not_handler")])
        identity = session.get(ReportIdentity, case.id)
        if identity is None:
            raise NotFound.of("reporter")
        audit.append_case(session, case, at=now, actor_id=actor.user_id, actor_role="case_officer",
                          event=READ_EVENT, payload={})
        return {"name": identity.name, "contact": identity.contact, "read_at": now.isoformat()}
