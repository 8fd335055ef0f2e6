"""Supervision: tracking evaluations, rectification (suspension, resumption, revocation), reports.

A rectification suspends its project in the same transaction as the notice (so no issuance case can
advance: `rules.project_not_suspended`), and the dispatcher then puts the project's issuance cases
on hold (`hold_project` outbox rows); resumption releases them the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from services.accounts.identity import PUBLIC_ACTOR, SYSTEM_ACTOR, Actor
from services.engine import audit, throttle
from services.engine.calendar import end_of_day_utc, local_date
from services.engine.clock import clock
from services.engine.errors import Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, once
from services.engine.throttle import Limit
from services.procedures import ledger
from services.store.engine import Database
from services.store.tables import (
    AuditEvent,
    Case,
    Evaluation,
    Notice,
    Organisation,
    Project,
    ReportHandler,
    ReportIdentity,
    Timer,
    User,
)
from states.messages import reason
from states.profiles import get_profile


def open_rectification(session: Session, project: Project, *, origin: dict[str, Any],
                       findings: list[dict[str, Any]], now: datetime, actor: Actor = SYSTEM_ACTOR) -> Case:
    from services.engine import effects
    from states.machine import procedure

    if project.status != "registered":
        raise Invalid([reason("project_not_registered", field="project_id", status=project.status)])
    spec = procedure("rectification", project.jurisdiction)
    case = Case(procedure="rectification", jurisdiction=project.jurisdiction, state=spec.initial,
                subject_kind=project.kind, project_id=project.id, applicant_org_id=project.owner_org_id,
                application={"title": f"{project.title} 整改", "origin": origin, "findings": findings, "notices": []},
                created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    ctx = effects.Ctx(session=session, case=case, actor=actor, form=None, profile=get_profile(project.jurisdiction),
                      spec=spec, now=now, tasks=[])
    effects.enter(ctx, spec.state(spec.initial))
    audit.append_case(session, case, at=now, actor_id=actor.user_id, actor_role=actor.role_label, event="created",
                      to_state=case.state, payload={"origin": origin, "findings": len(findings)})
    return case


def record_evaluation(db: Database, project_id: int, actor: Actor, summary: str,
                      findings: list[dict[str, Any]], idempotency_key: str | None = None) -> dict[str, Any]:
    """A tracking evaluation; a finding that needs action opens a rectification case."""
    def command(session: Session) -> tuple[int, dict[str, Any]]:
        now = clock.now()
        project = session.exec(select(Project).where(Project.id == project_id).with_for_update()).first()
        if project is None:
            raise NotFound.of("项目", "Project")
        role = next((r for r in ("case_officer", "operator") if actor.holds(r, project.jurisdiction)), None)
        if role is None:
            raise Forbidden([reason("role_required", roles_zh="主管部门经办人或运营管理机构",
                                    roles_en="case_officer or operator")])
        evaluation = Evaluation(project_id=project_id, jurisdiction=project.jurisdiction, by_user=actor.user_id,
                                role=role, summary=summary, findings=findings, at=now)
        session.add(evaluation)
        session.flush()
        if any(f.get("needs_action") for f in findings):
            case = open_rectification(session, project, origin={"evaluation": evaluation.id},
                                      findings=[f for f in findings if f.get("needs_action")], now=now, actor=actor)
            evaluation.rectification_case_id = case.id
            session.add(evaluation)
        return 201, {"id": evaluation.id, "project_id": project_id,
                     "rectification_case_id": evaluation.rectification_case_id}

    request = {"evaluation": project_id, "summary": summary, "findings": findings}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


# --- effects ---------------------------------------------------------------------------------------


def record_notice(ctx: Any) -> None:  # noqa: ANN401
    form = ctx.form.model_dump(mode="json")
    notices = [*ctx.case.application.get("notices", []), {**form, "at": ctx.now.isoformat()}]
    ctx.case.application = {**ctx.case.application, "notices": notices}


def start_rectifying(ctx: Any) -> None:  # noqa: ANN401
    """The project is suspended (shown publicly); the deadline runs from the notice."""
    from services.engine import effects

    notice = (ctx.case.application.get("notices") or [{}])[-1]
    days = notice.get("deadline_days") or ctx.profile.rectification.deadline_days
    due = ctx.cal.add_working_days(ctx.today, days, ctx.case.jurisdiction)
    project = ctx.session.get(Project, ctx.case.project_id)
    first = not project.suspended
    project.suspended = True
    ctx.session.add(project)
    ctx.session.add(Timer(case_id=ctx.case.id, jurisdiction=ctx.case.jurisdiction, kind="rectification_deadline",
                          trigger="deadline_passed", state="rectifying", fire_at=end_of_day_utc(due.end),
                          base_on=ctx.today, days=days, provisional=due.provisional))
    for task in ctx.tasks:
        if task.kind == "rectification_report":
            task.due_on, task.due_at, task.due_provisional = due.end, end_of_day_utc(due.end), due.provisional
            ctx.session.add(task)
    if first:
        ctx.session.add(Notice(case_id=ctx.case.id, kind="suspension", jurisdiction=ctx.case.jurisdiction,
                               title=f"{project.title}：暂停并整改", published_on=ctx.today, first_day=ctx.today,
                               last_day=due.end, closes_at=end_of_day_utc(due.end), status="open"))
        effects.enqueue(ctx, "hold_project", "system", {"project_id": project.id})


def resume_project(ctx: Any) -> None:  # noqa: ANN401
    from services.engine import effects

    project = ctx.session.get(Project, ctx.case.project_id)
    project.suspended = False
    ctx.session.add(project)
    _close_notices(ctx, "suspension")
    effects.enqueue(ctx, "release_project", "system", {"project_id": project.id})


def _close_notices(ctx: Any, kind: str) -> None:  # noqa: ANN401
    for n in ctx.session.exec(select(Notice).where(Notice.case_id == ctx.case.id, Notice.kind == kind,
                                                   Notice.status == "open")):
        n.status = "closed"
        ctx.session.add(n)


def revoke_project(ctx: Any) -> None:  # noqa: ANN401
    """The project exits the scheme and is published as such. Jiaxing art. 26 (false materials):
    the party is disqualified and every reduction issued is clawed back. Ordos art. 11: reductions
    obtained from anomalous data are corrected by an entry that cites the finding."""
    from services.engine import effects

    project = ctx.session.get(Project, ctx.case.project_id)
    project.status, project.suspended = "revoked", False  # out of the scheme, not merely suspended
    ctx.session.add(project)
    _close_notices(ctx, "suspension")
    ctx.session.add(Notice(case_id=ctx.case.id, kind="revocation", jurisdiction=ctx.case.jurisdiction,
                           title=f"{project.title}：撤销（退出碳普惠）", published_on=ctx.today, first_day=ctx.today,
                           last_day=ctx.today, closes_at=end_of_day_utc(ctx.today), status="open"))
    findings = ctx.case.application.get("findings") or []
    rules = ctx.profile.rectification
    if rules.false_materials_clawback and any(f.get("category") == "false_materials" for f in findings):
        result = ledger.claw_back(ctx.session, project=project, case_id=ctx.case.id, actor_id=ctx.actor.user_id,
                                  now=ctx.now, reason_text=_cited(ctx.profile, "提供虚假材料", "false_materials"))
        org = ctx.session.get(Organisation, project.owner_org_id)
        org.disqualified_at = ctx.now
        ctx.session.add(org)
        ctx.extra["clawback"] = result
    excess = sum(Decimal(str(f.get("excess_tco2e") or 0)) for f in findings if f.get("category") == "data_anomaly")
    if rules.anomalous_data_adjustment and excess > 0:
        ctx.extra["adjustment"] = ledger.adjust(ctx.session, project=project, amount=int(excess), case_id=ctx.case.id,
                                                actor_id=ctx.actor.user_id, now=ctx.now,
                                                reason_text=_cited(ctx.profile, "依据异常数据获得的减排量修正",
                                                                   "anomalous_data"))
    effects.enqueue(ctx, "publish_revocation", "public", {"project_id": project.id})


def _cited(profile: Any, what: str, rule: str) -> str:  # noqa: ANN401
    """The ledger entry's reference names the seed article the profile gives for the rule."""
    return what + profile.cite(rule)["basis_zh"]


def record_findings(ctx: Any) -> None:  # noqa: ANN401
    ctx.case.application = {**ctx.case.application, "findings": ctx.form.model_dump(mode="json")["findings"],
                            "internal_notes": ctx.form.internal_notes}


def record_feedback(ctx: Any) -> None:  # noqa: ANN401
    ctx.case.application = {**ctx.case.application, "feedback": ctx.form.message}


def rectify_reported(ctx: Any) -> None:  # noqa: ANN401
    """A substantiated report about a registered project opens a rectification on it."""
    pid = ctx.case.application.get("project_id")
    findings = [f for f in ctx.case.application.get("findings") or [] if f.get("needs_action")]
    project = ctx.session.get(Project, pid) if pid else None
    if project is None or not findings or project.jurisdiction != ctx.case.jurisdiction:
        return
    if project.status == "registered":
        case = open_rectification(ctx.session, project, origin={"report": ctx.case.id}, findings=findings,
                                  now=ctx.now, actor=ctx.actor)
        ctx.extra["rectification_case_id"] = case.id


def rectify_objection(ctx: Any) -> None:  # noqa: ANN401
    """An upheld objection about a registered project opens a rectification on it."""
    project = ctx.session.get(Project, ctx.case.project_id)
    case = open_rectification(ctx.session, project, origin={"objection_case": ctx.case.id},
                              findings=[{"severity": "high", "category": "other", "needs_action": True,
                                         "description": ctx.form.reasoning}], now=ctx.now, actor=ctx.actor)
    ctx.extra["rectification_case_id"] = case.id


def arm_audit_deadline(ctx: Any) -> None:  # noqa: ANN401
    """The year's audit report is due on the profile's day of the following year."""
    year = ctx.case.vintage
    month, day = map(int, ctx.profile.revenue_audit.due.split("-"))
    due = date(year + 1, month, day)
    ctx.session.add(Timer(case_id=ctx.case.id, jurisdiction=ctx.case.jurisdiction, kind="audit_deadline",
                          trigger="audit_deadline", state="open", fire_at=end_of_day_utc(due)))
    for task in ctx.tasks:
        if task.kind == "revenue_report":
            task.due_on, task.due_at = due, end_of_day_utc(due)
            ctx.session.add(task)


def record_audit(ctx: Any) -> None:  # noqa: ANN401
    from states.rules import returned_share

    ctx.case.application = {**ctx.case.application, "audit": ctx.form.model_dump(mode="json"),
                            "returned_share": str(round(returned_share(ctx.form), 4))}


def rectify_revenue(ctx: Any) -> None:  # noqa: ANN401
    """Below 90% returned, or no report by the deadline: a rectification opens by itself."""
    project = ctx.session.get(Project, ctx.case.project_id)
    share = ctx.case.application.get("returned_share")
    description = (f"收益返还比例 {share} 低于 90%" if share is not None else f"{ctx.case.vintage}年度收益使用审计报告逾期未提交")
    if project.status == "registered":
        case = open_rectification(ctx.session, project, origin={"revenue_audit": ctx.case.id}, now=ctx.now,
                                  findings=[{"severity": "high", "category": "revenue_use", "needs_action": True,
                                             "description": description}], actor=ctx.actor)
        ctx.extra["rectification_case_id"] = case.id


def open_revenue_audits(db: Database, jurisdiction: str, year: int, now: datetime | None = None) -> dict[str, int]:
    """Each class-1 registered project owes a revenue audit for the year; idempotent like the campaign."""
    from services.engine import effects
    from states.machine import procedure

    now = now or clock.now()
    profile = get_profile(jurisdiction)
    if profile is None or not profile.revenue_audit.enabled:
        return {"opened": 0, "skipped": 0}
    spec = procedure("revenue_audit", jurisdiction)
    opened = skipped = 0
    with db.read() as session:
        ids = list(session.exec(select(Project.id).where(Project.jurisdiction == jurisdiction,
                                                         Project.status == "registered", Project.project_class == 1)))
    for pid in ids:
        with db.write() as session:
            project = session.exec(select(Project).where(Project.id == pid).with_for_update()).one()
            if session.exec(select(Case.id).where(Case.procedure == "revenue_audit", Case.project_id == pid,
                                                  Case.vintage == year)).first():
                skipped += 1
                continue
            case = Case(procedure="revenue_audit", jurisdiction=jurisdiction, state=spec.initial,
                        subject_kind=project.kind, project_id=pid, applicant_org_id=project.owner_org_id,
                        vintage=year, application={"title": f"{project.title} {year}年度收益使用审计"},
                        created_at=now, updated_at=now)
            session.add(case)
            session.flush()
            ctx = effects.Ctx(session=session, case=case, actor=SYSTEM_ACTOR, form=None, profile=profile, spec=spec,
                              now=now, tasks=[])
            effects.enter(ctx, spec.state(spec.initial))
            audit.append_case(session, case, at=now, actor_id=None, actor_role="system", event="created",
                              to_state=case.state, payload={"year": year})
            opened += 1
    return {"opened": opened, "skipped": skipped}


EFFECTS = {"record_notice": record_notice, "rectify_objection": rectify_objection,
           "arm_audit_deadline": arm_audit_deadline, "record_audit": record_audit,
           "rectify_revenue": rectify_revenue, "start_rectifying": start_rectifying, "resume_project": resume_project,
           "revoke_project": revoke_project, "record_findings": record_findings, "record_feedback": record_feedback,
           "rectify_reported": rectify_reported}


# --- public reports ----------------------------------------------------------------------------------

# Following a report (Jiaxing art. 27: reply to the reporter). The secret is 144 random bits: guessing
# it is hopeless, so a limit on a receipt alone would add no security and would let anyone who learns
# a receipt lock its reporter out. Failures count against the client's address and against the
# (receipt, address) pair: a third party's wrong guesses exhaust only their own address.
CHECK_BY_ADDRESS = Limit("report-check:address", 20, timedelta(minutes=15))
CHECK_BY_RECEIPT_AT_ADDRESS = Limit("report-check:receipt@address", 5, timedelta(minutes=15))


def receipt_digest(receipt: str) -> str:
    """Receipts are kept as digests (the reporter holds the receipt); typed in any case."""
    return hashlib.sha256(receipt.strip().upper().encode()).hexdigest()


def lodge_report(db: Database, jurisdiction: str, form: Any, caller: Actor = PUBLIC_ACTOR,  # noqa: ANN401
                 idempotency_key: str | None = None) -> dict[str, Any]:
    """Anyone may report without an account; they get a receipt number and a secret to follow it.
    Neither is stored with the report in the clear, and the receipt appears in no title, audit payload
    or queue. A retry with the same Idempotency-Key gets the same receipt and secret: the stored reply
    holds them (a database reader could follow the report's status, which such a reader sees anyway;
    the reporter's identity stays apart)."""
    from services.engine import effects
    from states.machine import procedure

    spec = procedure("report", jurisdiction)
    data = form.model_dump(mode="json")
    public_part = {k: v for k, v in data.items() if k not in ("name", "contact")}

    def command(session: Session) -> tuple[int, dict[str, Any]]:
        now = clock.now()
        secret = secrets.token_urlsafe(18)
        receipt = f"RPT-{local_date(now):%Y%m%d}-{secrets.token_hex(4).upper()}"
        case = Case(procedure="report", jurisdiction=jurisdiction, state=spec.initial, subject_kind="report",
                    application={**public_part, "title": f"举报：{data['subject']}"}, created_at=now, updated_at=now)
        session.add(case)
        session.flush()
        session.add(ReportIdentity(case_id=case.id, receipt_sha256=receipt_digest(receipt),
                                   secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                                   name=data["name"], contact=data["contact"]))
        ctx = effects.Ctx(session=session, case=case, actor=PUBLIC_ACTOR, form=form,
                          profile=get_profile(jurisdiction), spec=spec, now=now, tasks=[])
        effects.enter(ctx, spec.state(spec.initial))
        audit.append_case(session, case, at=now, actor_id=None, actor_role="public", event="created",
                          to_state=case.state, payload={"subject": data["subject"]})
        return 201, {"receipt": receipt, "secret": secret, "case_jurisdiction": jurisdiction}

    return once(db, Idem(caller.key, idempotency_key, {"report": jurisdiction, **data}), command)[1]


def check_report(db: Database, receipt: str, secret: str, client: str) -> dict[str, Any]:
    """Status and feedback only. A wrong secret and an unknown receipt look the same. A correct
    secret from an address that is not blocked always answers; failures are throttled per address
    and per (receipt, address), never per receipt alone."""
    from states.messages import label

    now = clock.now()
    receipt = receipt.strip().upper()
    subjects = ((CHECK_BY_ADDRESS, client), (CHECK_BY_RECEIPT_AT_ADDRESS, f"{receipt}\x00{client}"))
    given = hashlib.sha256(secret.encode()).hexdigest()
    with db.write() as session:  # the failure count must commit, so the 404 is raised after it
        throttle.refuse_if_blocked(session, now, *subjects)
        identity = session.exec(select(ReportIdentity).where(
            ReportIdentity.receipt_sha256 == receipt_digest(receipt))).first()
        # compared even for an unknown receipt, so that both take the same time
        ok = secrets.compare_digest(identity.secret_sha256 if identity else "0" * 64, given) and identity is not None
        if ok:
            # forget this receipt's failures here; the address's stay (a valid check of one's own
            # report must not reset the count of guesses at others')
            throttle.clear(session, CHECK_BY_RECEIPT_AT_ADDRESS, subjects[1][1])
            case = session.get(Case, identity.case_id)
            return {"receipt": receipt, "state": {"name": case.state, **label(f"state.{case.state}")},
                    "received_at": case.created_at.isoformat(), "feedback": case.application.get("feedback")}
        throttle.count_failure(session, now, *subjects)
    raise NotFound([reason("report_secret")])


# --- who may know the reporter (Jiaxing art. 27: 为举报人保密) -----------------------------------------
# Visibility follows the approver's explicit assignment of handlers (states/report.py), never a task
# claim; each read is an audit event on the case's chain that names the reader, never the identity.


READ_EVENT = "reporter_identity_read"


def assign_handlers(ctx: Any) -> None:  # noqa: ANN401
    from services.engine import effects

    standing = set(ctx.session.exec(select(ReportHandler.user_id).where(
        ReportHandler.case_id == ctx.case.id, ReportHandler.withdrawn_at.is_(None))))  # type: ignore[union-attr]
    for user_id in dict.fromkeys(ctx.form.officers):
        if user_id not in standing:
            ctx.session.add(ReportHandler(case_id=ctx.case.id, user_id=user_id, assigned_by=ctx.actor.user_id,
                                          assigned_at=ctx.now))
            effects.enqueue(ctx, "notify", f"user:{user_id}", {"event": "report_handler_assigned"})


def withdraw_handlers(ctx: Any) -> None:  # noqa: ANN401
    for row in ctx.session.exec(select(ReportHandler).where(
            ReportHandler.case_id == ctx.case.id, ReportHandler.withdrawn_at.is_(None),  # type: ignore[union-attr]
            ReportHandler.user_id.in_(ctx.form.officers))):  # type: ignore[attr-defined]
        row.withdrawn_at, row.withdrawn_by = ctx.now, ctx.actor.user_id
        ctx.session.add(row)


EFFECTS.update({"assign_handlers": assign_handlers, "withdraw_handlers": withdraw_handlers})


def _may_read(session: Session, case: Case, actor: Actor) -> bool:
    """A case officer of the jurisdiction with a standing assignment to this report."""
    return actor.user_id is not None and actor.holds("case_officer", case.jurisdiction) and session.exec(
        select(ReportHandler.id).where(ReportHandler.case_id == case.id, ReportHandler.user_id == actor.user_id,
                                       ReportHandler.withdrawn_at.is_(None))).first() is not None  # type: ignore[union-attr]


def reporter_access(session: Session, case: Case, actor: Actor) -> dict[str, Any] | None:
    """Who handles a report and who has read its reporter's identity, and when (never the identity)."""
    if case.procedure != "report":
        return None
    handlers = list(session.exec(select(ReportHandler).where(ReportHandler.case_id == case.id)
                                 .order_by(ReportHandler.id)))
    reads = list(session.exec(select(AuditEvent).where(AuditEvent.stream == f"case:{case.id}",
                                                       AuditEvent.event == READ_EVENT).order_by(AuditEvent.seq)))
    ids = {h.user_id for h in handlers} | {h.assigned_by for h in handlers if h.assigned_by} | {
        e.actor_id for e in reads if e.actor_id}
    names = {u.id: u.display_name for u in session.exec(select(User).where(User.id.in_(ids)))} if ids else {}  # type: ignore[union-attr,attr-defined]
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
    from services.engine.cases import can_see, lock_case

    now = clock.now()
    with db.write() as session:
        case = lock_case(session, case_id)
        if not can_see(session, actor, case) or case.procedure != "report":
            raise NotFound.of("案件", "Case")
        if not _may_read(session, case, actor):
            raise Forbidden([reason("reporter_not_handler")])
        identity = session.get(ReportIdentity, case.id)
        if identity is None:
            raise NotFound.of("举报人", "Reporter")
        audit.append_case(session, case, at=now, actor_id=actor.user_id, actor_role="case_officer",
                          event=READ_EVENT, payload={})
        return {"name": identity.name, "contact": identity.contact, "read_at": now.isoformat()}
