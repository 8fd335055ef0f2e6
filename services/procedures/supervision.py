"""Supervision: tracking evaluations, rectification (suspension, resumption, revocation), and Beijing's
revenue-use audits; public reports are services.procedures.reports.

A rectification suspends its project in the same transaction as the notice (so no issuance case can
advance: `rules.project_not_suspended`), and the dispatcher then puts the project's issuance cases
on hold (`hold_project` outbox rows); resumption releases them the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from forms.registration import ObjectionUpheld
from forms.supervision import Feedback, RevenueAuditReport, Substantiation
from services.engine.actors import SYSTEM_ACTOR, Actor
from services.engine.calendar import end_of_day_utc, local_date
from services.engine.clock import clock
from services.engine.context import Ctx
from services.engine.errors import Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, once
from services.engine.opening import open_case
from services.engine.work import enqueue
from services.procedures import ledger, standing
from services.store.engine import Database
from services.store.records import CaseRecord
from services.store.tables import BlockClaim, Case, Evaluation, Notice, Organisation, Project, pk
from states import rectification, revenue_audit
from states.effects import (
    RecordAudit,
    RecordFeedback,
    RecordFindings,
    RecordNotice,
    RectifyObjection,
    RectifyReported,
    RectifyRevenue,
    ResumeProject,
    RevokeProject,
    Suspend,
)
from states.machine import procedure
from states.messages import reason, role_required, text
from states.profiles import Profile, get_profile
from states.rules import returned_share


def open_rectification(session: Session, project: Project, *, origin: dict[str, Any],
                       findings: list[dict[str, Any]], actor: Actor = SYSTEM_ACTOR) -> CaseRecord:
    if project.status != "registered":
        raise Invalid([reason("project_not_registered", field="project_id", status=project.status)])
    case, _ = open_case(session, procedure("rectification", project.jurisdiction), jurisdiction=project.jurisdiction,
                        actor=actor, applicant_org_id=project.owner_org_id, project_id=project.id,
                        application={"title": text("title.rectification", project=project.title).zh, "origin": origin,
                                     "findings": findings, "notices": []}, subject_kind=project.kind,
                        payload={"origin": origin, "findings": len(findings)})
    return case


def record_evaluation(db: Database, project_id: int, actor: Actor, summary: str,
                      findings: list[dict[str, Any]], idempotency_key: str | None = None) -> dict[str, Any]:
    """A tracking evaluation; a finding that needs action opens a rectification case."""
    def command(session: Session) -> tuple[int, dict[str, Any]]:
        now = clock.now()
        project = session.exec(select(Project).where(Project.id == project_id).with_for_update()).first()
        if project is None:
            raise NotFound.of("project")
        role = next((r for r in ("case_officer", "operator") if actor.holds(r, project.jurisdiction)), None)
        if role is None:
            raise Forbidden([role_required("case_officer", "operator")])
        evaluation = Evaluation(project_id=project_id, jurisdiction=project.jurisdiction, by_user=actor.user_id,
                                role=role, summary=summary, findings=findings, at=now)
        session.add(evaluation)
        session.flush()
        if any(f.get("needs_action") for f in findings):
            case = open_rectification(session, project, origin={"evaluation": evaluation.id},
                                      findings=[f for f in findings if f.get("needs_action")], actor=actor)
            evaluation.rectification_case_id = case.id
            session.add(evaluation)
        return 201, {"id": evaluation.id, "project_id": project_id,
                     "rectification_case_id": evaluation.rectification_case_id}

    request = {"evaluation": project_id, "summary": summary, "findings": findings}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


# --- effects ---------------------------------------------------------------------------------------


def record_notice(ctx: Ctx, effect: RecordNotice) -> None:
    assert ctx.form is not None
    form = ctx.form.model_dump(mode="json")
    notices = [*ctx.case.application.get("notices", []), {**form, "at": ctx.now.isoformat()}]
    ctx.case.application = {**ctx.case.application, "notices": notices}


def suspend(ctx: Ctx, effect: Suspend) -> None:
    """The project is suspended in the same transaction as the notice (no issuance case advances:
    `rules.project_not_suspended`), publicly noticed until the deadline, and its issuance cases are put
    on hold by the dispatcher. A second round (a rejected report) keeps the first notice."""
    project = ctx.session.get(Project, ctx.case.project_id)
    assert project is not None
    if project.suspended:
        return
    project.suspended = True
    ctx.session.add(project)
    due = ctx.due(rectification.DEADLINE)
    assert due is not None
    ctx.session.add(Notice(case_id=ctx.case.id, kind="suspension", jurisdiction=ctx.case.jurisdiction,
                           title=text("title.suspension_notice", project=project.title).zh, published_on=ctx.today,
                           first_day=ctx.today,
                           last_day=due.on, closes_at=end_of_day_utc(due.on), status="open"))
    enqueue(ctx, "hold_project", "system", {"project_id": project.id})


def resume_project(ctx: Ctx, effect: ResumeProject) -> None:
    project = ctx.session.get(Project, ctx.case.project_id)
    assert project is not None
    project.suspended = False
    ctx.session.add(project)
    _close_notices(ctx, "suspension")
    enqueue(ctx, "release_project", "system", {"project_id": project.id})
    # Ordos art. 17, Shanghai art. 14: the other claim withdrawn, the blocks its finding froze may move again
    for claim in ctx.session.exec(select(BlockClaim).where(col(BlockClaim.rectification_case_id) == ctx.case.id,
                                                           col(BlockClaim.freeze_entry_id).is_not(None),
                                                           col(BlockClaim.unfreeze_entry_id).is_(None))):
        claim.unfreeze_entry_id = ledger.freeze(ctx.session, claim, case_id=ctx.case.id, actor_id=ctx.actor.user_id,
                                                now=ctx.now, release=True).id
        ctx.session.add(claim)


def _close_notices(ctx: Ctx, kind: str) -> None:
    for n in ctx.session.exec(select(Notice).where(Notice.case_id == ctx.case.id, Notice.kind == kind,
                                                   Notice.status == "open")):
        n.status = "closed"
        ctx.session.add(n)


def revoke_project(ctx: Ctx, effect: RevokeProject) -> None:
    """The project exits the scheme and is published as such. Where the profile says so for false
    materials (Jiaxing art. 26) the party is disqualified and every reduction issued is clawed back; for
    anomalous data (Ordos art. 11) the reductions obtained from it are corrected, citing the finding."""
    project = ctx.session.get(Project, ctx.case.project_id)
    assert project is not None
    project.status, project.suspended = "revoked", False  # out of the scheme, not merely suspended
    ctx.session.add(project)
    _close_notices(ctx, "suspension")
    ctx.session.add(Notice(case_id=ctx.case.id, kind="revocation", jurisdiction=ctx.case.jurisdiction,
                           title=text("title.revocation_notice", project=project.title).zh, published_on=ctx.today,
                           first_day=ctx.today,
                           last_day=ctx.today, closes_at=end_of_day_utc(ctx.today), status="open"))
    findings = ctx.case.application.get("findings") or []
    rules = ctx.profile.rectification
    if rules.false_materials_clawback and any(f.get("category") == "false_materials" for f in findings):
        result = ledger.claw_back(ctx.session, project=project, case_id=ctx.case.id, actor_id=ctx.actor.user_id,
                                  now=ctx.now, reason_text=_cited(ctx.profile, "text.clawback_false_materials",
                                                                  "false_materials"))
        org = ctx.session.get(Organisation, project.owner_org_id)
        assert org is not None
        org.disqualified_at = ctx.now  # kept for the record; the standing that bars is per jurisdiction
        ctx.session.add(org)
        standing.disqualify(ctx.session, org_id=project.owner_org_id, jurisdiction=ctx.case.jurisdiction,
                            project_id=pk(project), case_id=ctx.case.id, reason=_revocation_reason(ctx),
                            basis=ctx.profile.basis.get("disqualification", ("", ""))[0], on=ctx.today, at=ctx.now)
        ctx.extra["clawback"] = result
    excess = sum(Decimal(str(f.get("excess_tco2e") or 0)) for f in findings if f.get("category") == "data_anomaly")
    if rules.anomalous_data_adjustment and excess > 0:
        ctx.extra["adjustment"] = ledger.adjust(ctx.session, project=project, amount=int(excess), case_id=ctx.case.id,
                                                actor_id=ctx.actor.user_id, now=ctx.now,
                                                reason_text=_cited(ctx.profile, "text.adjustment_anomalous_data",
                                                                   "anomalous_data"))
    enqueue(ctx, "publish_revocation", "public", {"project_id": project.id})


def _revocation_reason(ctx: Ctx) -> str:
    """The approver's reasons for revoking, or (the deadline passed unanswered) the article's own words."""
    given = getattr(ctx.form, "reasons", None)
    return given if isinstance(given, str) and given.strip() else text("text.disqualification_reason").zh


def _cited(profile: Profile, what: str, rule: str) -> str:
    """The ledger entry's reference (the catalogue's `what`) names the seed article the profile gives for the rule."""
    return text(what).zh + profile.cite(rule)["basis_zh"]


def record_findings(ctx: Ctx, effect: RecordFindings) -> None:
    form = ctx.form_as(Substantiation)
    ctx.case.application = {**ctx.case.application, "findings": form.model_dump(mode="json")["findings"],
                            "internal_notes": form.internal_notes}


def record_feedback(ctx: Ctx, effect: RecordFeedback) -> None:
    ctx.case.application = {**ctx.case.application, "feedback": ctx.form_as(Feedback).message}


def rectify_reported(ctx: Ctx, effect: RectifyReported) -> None:
    """A substantiated report about a registered project opens a rectification on it."""
    pid = ctx.case.application.get("project_id")
    findings = [f for f in ctx.case.application.get("findings") or [] if f.get("needs_action")]
    project = ctx.session.get(Project, pid) if pid else None
    if project is None or not findings or project.jurisdiction != ctx.case.jurisdiction:
        return
    if project.status == "registered":
        case = open_rectification(ctx.session, project, origin={"report": ctx.case.id}, findings=findings,
                                  actor=ctx.actor)
        ctx.extra["rectification_case_id"] = case.id


def _project(ctx: Ctx) -> Project:
    """The project a case is about, for the procedures whose cases always have one."""
    project = ctx.session.get(Project, ctx.case.project_id) if ctx.case.project_id else None
    if project is None:
        raise ValueError(f"{ctx.spec.name} case {ctx.case.id} has no project")
    return project


def rectify_objection(ctx: Ctx, effect: RectifyObjection) -> None:
    """An upheld objection about a registered project opens a rectification on it."""
    case = open_rectification(ctx.session, _project(ctx), origin={"objection_case": ctx.case.id},
                              findings=[{"severity": "high", "category": "other", "needs_action": True,
                                         "description": ctx.form_as(ObjectionUpheld).reasoning}], actor=ctx.actor)
    ctx.extra["rectification_case_id"] = case.id


def record_audit(ctx: Ctx, effect: RecordAudit) -> None:
    form = ctx.form_as(RevenueAuditReport)
    ctx.case.application = {**ctx.case.application, "audit": form.model_dump(mode="json"),
                            "returned_share": str(round(returned_share(form), 4))}


def rectify_revenue(ctx: Ctx, effect: RectifyRevenue) -> None:
    """Below 90% returned, or no report by the deadline: a rectification opens by itself."""
    project = _project(ctx)
    share = ctx.case.application.get("returned_share")
    description = (text("text.revenue_below_share", share=share) if share is not None
                   else text("text.revenue_report_missed", year=ctx.case.vintage)).zh
    if project.status == "registered":
        case = open_rectification(ctx.session, project, origin={"revenue_audit": ctx.case.id},
                                  findings=[{"severity": "high", "category": "revenue_use", "needs_action": True,
                                             "description": description}], actor=ctx.actor)
        ctx.extra["rectification_case_id"] = case.id


def request_revenue_audit(db: Database, project_id: int, actor: Actor, year: int, due_days: int | None = None,
                          note: str = "", idempotency_key: str | None = None) -> dict[str, Any]:
    """A year's revenue-use audit opened on demand (Beijing 编制说明 4(二)): by the project's developer
    whenever a year's audit is due, or at an officer's request, in any month and whether or not the
    scheduler runs; the rules are `states.revenue_audit.on_demand_reasons`."""
    def command(session: Session) -> tuple[int, dict[str, Any]]:
        project = session.exec(select(Project).where(Project.id == project_id).with_for_update()).first()
        if project is None:
            raise NotFound.of("project")
        profile = get_profile(project.jurisdiction)
        assert profile is not None
        if any(actor.holds(r, project.jurisdiction) for r in revenue_audit.OFFICERS):
            requester, role = "officer", next(r for r in revenue_audit.OFFICERS if actor.holds(r, project.jurisdiction))
        elif actor.holds("applicant", project.jurisdiction) and actor.org_id == project.owner_org_id:
            requester, role = "owner", "applicant"
        else:
            raise Forbidden([role_required("applicant", *revenue_audit.OFFICERS)])
        today = local_date(clock.now())
        existing = session.exec(select(Case.id).where(Case.procedure == "revenue_audit", Case.project_id == project_id,
                                                      Case.vintage == year)).first()
        refused = revenue_audit.on_demand_reasons(profile, requester=requester, year=year, today=today,
                                                  project_class=project.project_class, project_status=project.status,
                                                  existing_case=existing)
        if refused:
            raise Invalid(refused)
        days = revenue_audit.on_demand_days(profile, requester=requester, year=year, today=today, asked_days=due_days)
        application: dict[str, Any] = {"title": text("title.revenue_audit", project=project.title, year=year).zh,
                                       "on_demand": requester}
        if days is not None:
            application["due_days"] = days
        if note:
            application["request_note"] = note
        case, _ = open_case(session, procedure("revenue_audit", project.jurisdiction),
                            jurisdiction=project.jurisdiction, actor=actor, role=role,
                            applicant_org_id=project.owner_org_id, project_id=project_id, vintage=year,
                            application=application, subject_kind=project.kind,
                            payload={"year": year, "on_demand": requester, "due_days": days})
        # the developer hears of it as of any audit: entering `open` notifies the applicant (its task is due
        # on the date worked out from `due_days`, and the sweep reminds it)
        return 201, {"id": case.id, "project_id": project_id, "year": year, "requested_by": requester,
                     "due_days": days}

    request = {"revenue_audit": project_id, "year": year, "due_days": due_days, "note": note}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


def open_revenue_audits(db: Database, jurisdiction: str, year: int) -> dict[str, int]:
    """Each class-1 registered project owes a revenue audit for the year; idempotent like the campaign."""
    profile = get_profile(jurisdiction)
    if profile is None or not profile.revenue_audit.enabled:
        return {"opened": 0, "skipped": 0}
    return _open_yearly(db, jurisdiction, year, "revenue_audit", status="registered", project_class=1)


def open_operation_reports(db: Database, jurisdiction: str, year: int) -> dict[str, int]:
    """Beijing: each disclosed class-2 project owes the year's operation report (states/operation_report.py);
    idempotent like the campaign."""
    profile = get_profile(jurisdiction)
    if profile is None or not profile.operation_report.enabled:
        return {"opened": 0, "skipped": 0}
    return _open_yearly(db, jurisdiction, year, "operation_report", status="disclosed", project_class=2)


def _open_yearly(db: Database, jurisdiction: str, year: int, name: str, *, status: str, project_class: int
                 ) -> dict[str, int]:
    """One case of a yearly procedure per project of a status and class that has none for the year, each in
    its own transaction (a retry opens nothing twice)."""
    spec = procedure(name, jurisdiction)
    opened = skipped = 0
    with db.read() as session:
        ids = list(session.exec(select(Project.id).where(Project.jurisdiction == jurisdiction,
                                                         Project.status == status,
                                                         Project.project_class == project_class)))
    for pid in ids:
        with db.write() as session:
            project = session.exec(select(Project).where(Project.id == pid).with_for_update()).one()
            if session.exec(select(Case.id).where(Case.procedure == name, Case.project_id == pid,
                                                  Case.vintage == year)).first():
                skipped += 1
                continue
            open_case(session, spec, jurisdiction=jurisdiction, actor=SYSTEM_ACTOR, role="system",
                      applicant_org_id=project.owner_org_id, project_id=pid, vintage=year,
                      application={"title": text(f"title.{name}", project=project.title, year=year).zh,
                                   "year": year},
                      subject_kind=project.kind, payload={"year": year})
            opened += 1
    return {"opened": opened, "skipped": skipped}
