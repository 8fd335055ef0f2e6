"""Cases: open one, fire a trigger on it. One command = one transaction (DESIGN §2).

`fire` is the single path every change takes — people through the API and the system through
timers: lock the case, replay an idempotent request, check the version, the actor's role and task,
the form and every rule, move the machine, apply the effects, append the audit event, commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from forms.issuance import IssuanceApplication, RetirementRequest
from forms.methodology import MethodologyApplication
from forms.registration import ProjectApplication
from services.accounts.identity import Actor
from services.engine import audit, effects, preload
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.forms_errors import reasons_from_validation
from services.engine.idempotency import Idem, Reply, once
from services.procedures.issuance import OPENERS
from services.store import writes
from services.store.engine import Database
from services.store.tables import (
    Case,
    Comment,
    Document,
    MethodologyVersion,
    Objection,
    Organisation,
    PanelMember,
    Project,
    ReportHandler,
    RoleGrant,
    Task,
    User,
    Verifier,
)
from states.machine import ProcedureUnavailable, procedure, runner
from states.messages import label, reason
from states.profiles import get_profile
from states.spec import (
    PUBLIC,
    SYSTEM,
    CommentFacts,
    MethodologyFacts,
    PanelFacts,
    ProcedureSpec,
    ProjectFacts,
    RuleInput,
    TransitionSpec,
    VerifierFacts,
)

STAFF_ROLES = ("case_officer", "approver", "review_centre", "operator", "admin")

# Every command runs these: built once, so each run skips building the statement and its cache key.
LOCK_CASE = select(Case).where(Case.id == sa.bindparam("case_id")).with_for_update()
OPEN_TASKS = select(Task).where(Task.case_id == sa.bindparam("case_id"), Task.status == "open")
PANEL_SEAT = select(PanelMember.id).where(PanelMember.case_id == sa.bindparam("case_id"),
                                          PanelMember.status == "active",
                                          PanelMember.user_id == sa.bindparam("user_id"))
OPEN_OBJECTIONS = select(Objection.id).where(Objection.case_id == sa.bindparam("case_id"), Objection.status == "open")


@dataclass
class Command:
    case_id: int
    trigger: str
    actor: Actor
    form: dict[str, Any] = field(default_factory=dict)
    if_match: int | None = None
    idempotency_key: str | None = None
    task_id: int | None = None


@dataclass
class Outcome:
    case: Case
    event_id: int | None
    moved: bool
    extra: dict[str, Any]
    replayed: dict[str, Any] | None = None  # the stored first response, on an idempotent replay


Responder = Callable[[Session, Outcome], tuple[int, dict[str, Any]]]


class CaseFacts:
    """Answers the rules' questions about a case from the database, lazily and once each."""

    def __init__(self, session: Session, case: Case, application: dict[str, Any]) -> None:
        self.session, self.case, self.application = session, case, application
        self._memo: dict[str, Any] = {}

    def _once(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def open_objections(self) -> int:
        def count() -> int:
            preloaded = preload.get(self.session, "objections", self.case.id)
            if preloaded is not None:
                return len(preloaded)
            return len(list(self.session.exec(OPEN_OBJECTIONS, params={"case_id": self.case.id})))
        return self._once("objections", count)

    def panel(self) -> PanelFacts | None:
        def load() -> PanelFacts | None:
            rows = list(self.session.exec(effects.ACTIVE_PANEL, params={"case_id": self.case.id}))
            if not rows:
                return None
            return PanelFacts(members=tuple(m.user_id for m in rows), chair=next(m.user_id for m in rows if m.chair),
                              opinions={m.user_id: m.opinion for m in rows if m.opinion})
        return self._once("panel", load)

    def _version(self, jurisdiction: str | None, code: str, version: str) -> MethodologyFacts | None:
        q = select(MethodologyVersion).where(MethodologyVersion.code == code, MethodologyVersion.version == version)
        if jurisdiction:
            q = q.where(MethodologyVersion.jurisdiction == jurisdiction)
        m = self.session.exec(q).first()
        return None if m is None else _methodology_facts(m)

    def methodology(self) -> MethodologyFacts | None:
        """The methodology a registration cites: of this jurisdiction, else anywhere (to say so)."""
        app = self.application
        code, version = app.get("methodology_code", ""), app.get("methodology_version", "")
        return self._once("methodology", lambda: self._version(self.case.jurisdiction, code, version)
                          or self._version(None, code, version))

    def methodology_version(self, code: str, version: str) -> MethodologyFacts | None:
        return self._version(self.case.jurisdiction, code, version)

    def open_filings(self, code: str, version: str) -> int:
        """Other open filing cases of the same code and version in this jurisdiction."""
        rows = self.session.exec(select(Case.id, Case.application, Case.state).where(
            Case.procedure == "methodology_filing", Case.jurisdiction == self.case.jurisdiction,
            Case.closed_at.is_(None)))  # type: ignore[union-attr]
        return sum(1 for cid, app, _ in rows
                   if cid != self.case.id and app.get("code") == code and app.get("version") == version)

    def covering_standards(self, scope: str, tiers: tuple[str, ...]) -> list[MethodologyFacts]:
        rows = self.session.exec(select(MethodologyVersion).where(
            MethodologyVersion.jurisdiction == self.case.jurisdiction, MethodologyVersion.scope == scope,
            MethodologyVersion.status == "filed", MethodologyVersion.tier.in_(tiers)))  # type: ignore[union-attr]
        return [_methodology_facts(m) for m in rows]

    def project(self) -> ProjectFacts | None:
        def load() -> ProjectFacts | None:
            pid = self.application.get("project_id") or self.case.project_id
            p = self.session.get(Project, pid) if pid else None
            if p is None:
                return None
            reg = self.session.exec(select(Case.application).where(
                Case.procedure == "project_registration", Case.project_id == p.id)).first() or {}
            mv = self.session.get(MethodologyVersion, p.methodology_version_id) if p.methodology_version_id else None
            rectification = self.session.exec(select(Case.id).where(
                Case.procedure == "rectification", Case.project_id == p.id,
                Case.closed_at.is_(None)).order_by(Case.id.desc())).first() if p.suspended else None  # type: ignore[union-attr]
            return ProjectFacts(id=p.id, jurisdiction=p.jurisdiction, kind=p.kind, status=p.status,
                                suspended=p.suspended, project_class=p.project_class,
                                methodology_code=mv.code if mv else None,
                                other_schemes=tuple(o["scheme"] for o in reg.get("other_schemes") or []),
                                rectification_case=rectification)
        return self._once("project", load)

    def overlapping_periods(self, start: date, end: date) -> list[tuple[int, date, date]]:
        from services.procedures.issuance import overlapping_periods

        return overlapping_periods(self.session, self.case, start, end)

    def open_issuances(self, project_id: int, vintage: int) -> int:
        return len(list(self.session.exec(select(Case.id).where(
            Case.procedure == "issuance", Case.project_id == project_id, Case.vintage == vintage,
            Case.id != (self.case.id or 0), Case.state.notin_(("rejected", "withdrawn", "lapsed", "expired"))))))  # type: ignore[attr-defined]

    def verifier(self, verifier_id: int) -> VerifierFacts | None:
        v = self.session.get(Verifier, verifier_id)
        if v is None:
            return None
        org = self.session.get(Organisation, v.org_id)
        return VerifierFacts(id=v.id, jurisdiction=v.jurisdiction, uscc=org.uscc if org else "", org_id=v.org_id,
                             scopes=tuple(v.scopes), valid_from=v.valid_from, valid_until=v.valid_until)

    def document_hashes(self) -> set[str]:
        return set(self.session.exec(select(Document.sha256).where(Document.case_id == self.case.id)))

    def holding(self, org_id: int | None, project_id: int | None, vintage: int | None) -> int:
        from services.procedures.issuance import holding

        return holding(self.session, self.case.jurisdiction, org_id, project_id, vintage)

    def comments(self) -> CommentFacts:
        def load() -> CommentFacts:
            rows = list(self.session.exec(select(Comment.id, Comment.answer).where(Comment.case_id == self.case.id)))
            return CommentFacts(received=tuple(i for i, _ in rows), answered=tuple(i for i, a in rows if a))
        return self._once("comments", load)

    def not_experts(self, user_ids: list[int]) -> list[int]:
        experts = set(self.session.exec(select(RoleGrant.user_id).where(
            RoleGrant.role == "expert", RoleGrant.jurisdiction == self.case.jurisdiction,
            RoleGrant.user_id.in_(user_ids))))  # type: ignore[attr-defined]
        return [u for u in dict.fromkeys(user_ids) if u not in experts]

    def lacking_role(self, role: str, user_ids: list[int]) -> list[int]:
        """Of these users, those who do not hold `role` in the case's jurisdiction."""
        holders = set(self.session.exec(select(RoleGrant.user_id).join(User, User.id == RoleGrant.user_id).where(
            RoleGrant.role == role, RoleGrant.jurisdiction == self.case.jurisdiction, User.active == True,  # noqa: E712
            RoleGrant.user_id.in_(user_ids))))  # type: ignore[attr-defined]
        return [u for u in dict.fromkeys(user_ids) if u not in holders]

    def report_handlers(self) -> tuple[int, ...]:
        """The officers currently assigned to handle this report."""
        return tuple(self.session.exec(select(ReportHandler.user_id).where(
            ReportHandler.case_id == self.case.id, ReportHandler.withdrawn_at.is_(None)).order_by(  # type: ignore[union-attr]
            ReportHandler.id)))


def _methodology_facts(m: MethodologyVersion) -> MethodologyFacts:
    return MethodologyFacts(code=m.code, version=m.version, jurisdiction=m.jurisdiction, kind=m.kind, tier=m.tier,
                            status=m.status, scope=m.scope, grace_until=m.grace_until,
                            current_version=m.superseded_by)


# --- who may see and act ---------------------------------------------------------------------


def is_owner(actor: Actor, case: Case) -> bool:
    return actor.org_id is not None and actor.org_id == case.applicant_org_id


def can_see(session: Session, actor: Actor, case: Case) -> bool:
    j = case.jurisdiction
    if actor.kind == SYSTEM:
        return True
    if any(actor.holds(r, j) for r in STAFF_ROLES):
        return True
    if actor.holds("applicant", j) and is_owner(actor, case):
        return True
    if actor.holds("verifier", j) and actor.org_id is not None:
        report = case.application.get("report") or {}
        v = session.get(Verifier, report["verifier_id"]) if report.get("verifier_id") else None
        if v is not None and v.org_id == actor.org_id:
            return True
    if actor.holds("expert", j):
        return session.exec(PANEL_SEAT, params={"case_id": case.id, "user_id": actor.user_id}).first() is not None
    return False


def may_fire(actor: Actor, case: Case, arrow: TransitionSpec) -> bool:
    if not any(actor.holds(r, case.jurisdiction) for r in arrow.roles):
        return False
    if arrow.roles == ("applicant",):
        return is_owner(actor, case)
    return True


def allowed_actions(actor: Actor, case: Case, spec: ProcedureSpec) -> list[str]:
    return list(dict.fromkeys(a.trigger for a in spec.available(case.state) if may_fire(actor, case, a)))


def _all_actions(case: Case, spec: ProcedureSpec) -> list[str]:
    return list(dict.fromkeys(a.trigger for a in spec.available(case.state)))


# --- the command -----------------------------------------------------------------------------


def lock_case(session: Session, case_id: int) -> Case:
    case = session.exec(LOCK_CASE, params={"case_id": case_id}).first()
    if case is None:
        raise NotFound.of("案件", "Case")
    return case


def _idem(cmd: Command) -> Idem:
    return Idem(cmd.actor.key, cmd.idempotency_key,
                {"case": cmd.case_id, "trigger": cmd.trigger, "form": cmd.form, "task": cmd.task_id})


def _holder_name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return f"{user.display_name} ({user.username})" if user else f"user {user_id}"


def _pick_task(session: Session, case: Case, cmd: Command, open_tasks: list[Task]) -> Task | None:
    """The open task this trigger completes for this actor, or None when no task stands for it."""
    actor = cmd.actor
    tasks = [t for t in open_tasks if cmd.trigger in t.triggers]
    if cmd.task_id is not None:
        named = session.get(Task, cmd.task_id)
        if named is None or named.case_id != case.id:
            raise NotFound.of("任务", "Task")
        if named.status != "open":
            raise Conflict([reason("task_not_open")])
        if cmd.trigger not in named.triggers:
            raise Invalid([reason("trigger_not_of_task", allowed=", ".join(named.triggers))])
        tasks = [named]
    if not tasks:
        return None

    def addressed(t: Task) -> bool:
        return (actor.holds(t.role, case.jurisdiction) and t.candidate_user_id in (None, actor.user_id)
                and t.candidate_org_id in (None, actor.org_id))

    mine = [t for t in tasks if addressed(t) and t.assignee_id == actor.user_id]
    free = [t for t in tasks if addressed(t) and t.assignee_id is None]
    if mine or free:
        return (mine or free)[0]
    held = [t for t in tasks if addressed(t) and t.assignee_id is not None]
    if held:
        name = _holder_name(session, held[0].assignee_id)  # type: ignore[arg-type]
        raise Forbidden([reason("task_held", holder=name)], holder=name)
    t = label(f"trigger.{cmd.trigger}")
    raise Forbidden([reason("no_task_for_you", trigger_zh=t["zh"], trigger_en=t["en"])])


def _validate(arrow: TransitionSpec, data: dict[str, Any]) -> BaseModel:
    try:
        return arrow.form.model_validate(data)
    except ValidationError as exc:
        raise Invalid(reasons_from_validation(exc)) from exc


def _audit_payload(form: BaseModel) -> dict[str, Any]:
    # The public's contact details stay in their own row, not in the (widely read) audit trail.
    return form.model_dump(mode="json", exclude={"name", "contact"} & set(type(form).model_fields))


def fire(db: Database, cmd: Command, respond: Responder) -> tuple[int, dict[str, Any]]:
    def command(session: Session) -> Reply:
        case = lock_case(session, cmd.case_id)
        if cmd.actor.kind not in (PUBLIC, SYSTEM) and not can_see(session, cmd.actor, case):
            raise NotFound.of("案件", "Case")
        return respond(session, fire_locked(session, case, cmd))

    return once(db, _idem(cmd), command)


def fire_locked(session: Session, case: Case, cmd: Command, open_tasks: list[Task] | None = None,
                insert_rows: bool = True) -> Outcome:
    """`open_tasks`: the case's open tasks when the caller read them already (a sweep reads a batch's
    in one query); the command keeps the list current. `insert_rows=False` leaves everything the
    command wrote (the session's changes, and `services.store.writes`' rows and blind updates) to the
    caller's flush, so a batch sends them together; the outcome's `event_id` is then None."""
    # Autoflush off: the command knows what it wrote, and flushes once at the end (fewer round trips).
    with session.no_autoflush:
        return _fire(session, case, cmd, open_tasks, insert_rows)


def _refuse_illegal(case: Case, cmd: Command, spec: ProcedureSpec) -> None:
    allowed = allowed_actions(cmd.actor, case, spec)
    if cmd.trigger not in spec.triggers:
        raise Invalid([reason("unknown_trigger", trigger=cmd.trigger)], allowed_actions=allowed)
    t, s = label(f"trigger.{cmd.trigger}"), label(f"state.{case.state}")
    raise Conflict([reason("illegal_transition", state_zh=s["zh"], state_en=s["en"], trigger_zh=t["zh"],
                           trigger_en=t["en"])], state=case.state, allowed_actions=allowed,
                   all_actions=_all_actions(case, spec))


def _fire(session: Session, case: Case, cmd: Command, open_tasks: list[Task] | None = None,
          insert_rows: bool = True) -> Outcome:
    actor, now = cmd.actor, clock.now()
    if cmd.if_match is not None and cmd.if_match != case.version:
        raise Conflict([reason("stale_version", current=case.version, given=cmd.if_match)],
                       current_version=case.version)
    spec = procedure(case.procedure, case.jurisdiction)
    profile = get_profile(case.jurisdiction)
    arrows = spec.arrows(cmd.trigger, case.state)
    if not arrows:
        _refuse_illegal(case, cmd, spec)
    if not any(actor.holds(r, case.jurisdiction) for r in arrows[0].roles):
        roles = arrows[0].roles
        raise Forbidden([reason("role_required", roles_zh="、".join(label(f"role.{r}")["zh"] for r in roles),
                                roles_en=", ".join(roles))])
    if arrows[0].roles == ("applicant",) and not is_owner(actor, case):
        raise Forbidden([reason("not_owner")])
    if open_tasks is None:
        open_tasks = list(session.exec(OPEN_TASKS, params={"case_id": case.id}))
    task = _pick_task(session, case, cmd, open_tasks)
    form = _validate(arrows[0], cmd.form)

    application = dict(case.application)
    for name in arrows[0].effects:
        if name in effects.PREVIEWS:
            application = effects.PREVIEWS[name](application, form, spec)
    view = effects.case_view(case, application)
    inp = RuleInput(case=view, form=form, facts=CaseFacts(session, case, application), profile=profile,
                    actor_id=actor.user_id, today=local_date(now), actor_org_id=actor.org_id)
    arrow = next(a for a in arrows if a.when is None or a.when(inp))
    reasons = [r for rule in arrow.rules for r in rule(inp)]
    if reasons:
        raise Invalid(reasons)

    ctx = effects.Ctx(session=session, case=case, actor=actor, form=form, profile=profile, spec=spec, now=now,
                      tasks=open_tasks, arrow=arrow)
    for name in arrow.effects:
        effects.EFFECTS[name](ctx)
    joined = False
    if task is not None:
        effects.close_task(ctx, task, "completed", cmd.trigger)
        if task.join and cmd.trigger == task.triggers[0]:
            # AND-join (Shanghai art. 13): a joint task's first trigger (pass) moves the case only when
            # it is the last joint task open; its other triggers (fail) end the review at once.
            joined = any(t.join and t.kind == task.kind for t in ctx.tasks)
    source = case.state
    moved = arrow.dest is not None and not joined
    if moved:
        dest = runner(case.procedure, case.jurisdiction).move(source, arrow)
        effects.move(ctx, spec.state(source), spec.state(dest))
    case.version += 1
    case.updated_at = now
    event = audit.append_case(
        session, case, at=now, actor_id=actor.user_id, actor_role=_acting_role(actor, arrow, case),
        event=cmd.trigger, from_state=source, to_state=case.state,
        payload={"form": _audit_payload(form), "task_id": task.id if task else None,
                 "awaiting_joint_review": joined, **ctx.extra},
    )
    if insert_rows:
        writes.flush(session)
    return Outcome(case=case, event_id=event.id, moved=moved, extra=ctx.extra)


def _acting_role(actor: Actor, arrow: TransitionSpec, case: Case) -> str:
    return next((r for r in arrow.roles if actor.holds(r, case.jurisdiction)), actor.kind)


# --- opening a case ---------------------------------------------------------------------------

CREATABLE = ("project_registration", "methodology_filing", "issuance", "retirement")
# the form that opens each procedure, to validate it even where the procedure is unavailable
BUILDERS_APPLICATION = {"project_registration": ProjectApplication, "methodology_filing": MethodologyApplication,
                        "issuance": IssuanceApplication, "retirement": RetirementRequest}
LATER = ("rectification", "report")


def create(db: Database, *, actor: Actor, procedure_name: str, jurisdiction: str,
           application: dict[str, Any], respond: Responder, idempotency_key: str | None = None
           ) -> tuple[int, dict[str, Any]]:
    """An applicant opens a draft. Jiaxing refuses registration: its projects are filed with their
    first reduction filing (Jiaxing arts. 14–17). The opening rules run before anything is stored."""
    profile = get_profile(jurisdiction)
    reasons = []
    if profile is None:
        reasons.append(reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction))
    if procedure_name not in CREATABLE:
        reasons.append(reason("procedure_not_creatable" if procedure_name in LATER else "unknown_procedure",
                              field="procedure", name=procedure_name))
    spec = None
    if profile is not None and procedure_name in CREATABLE:
        try:
            spec = procedure(procedure_name, jurisdiction)
        except ProcedureUnavailable:
            reasons.append(reason("no_separate_registration", field="jurisdiction", jurisdiction_zh=profile.name_zh,
                                  jurisdiction_en=profile.name_en, **profile.cite("filing_with_first_issuance")))
    form = None
    if procedure_name in CREATABLE:
        app_form = (spec.application if spec else BUILDERS_APPLICATION[procedure_name])
        try:
            form = app_form.model_validate(application)
        except ValidationError as exc:
            reasons.extend(reasons_from_validation(exc, prefix="application"))
    if reasons or form is None or spec is None or profile is None:
        raise Invalid(reasons)
    if not actor.holds("applicant", jurisdiction):
        raise Forbidden([reason("role_required", roles_zh="申请主体", roles_en="applicant")])
    if actor.org_id is None:
        raise Forbidden([reason("no_organisation")])

    idem = Idem(actor.key, idempotency_key, {"create": procedure_name, "j": jurisdiction, "app": application})

    def command(session: Session) -> Reply:
        now = clock.now()
        app = form.model_dump(mode="json")
        case = Case(procedure=procedure_name, jurisdiction=jurisdiction, state=spec.initial,
                    subject_kind=app.get("kind", "project"), applicant_org_id=actor.org_id, created_by=actor.user_id,
                    application=app, created_at=now, updated_at=now)
        if procedure_name == "retirement":
            app["holder_org_id"] = actor.org_id
        if procedure_name == "issuance" and app.get("project_id"):
            owner = session.exec(select(Project.owner_org_id).where(Project.id == app["project_id"])).first()
            if owner is not None and owner != actor.org_id:
                raise NotFound.of("项目", "Project")
        view = effects.case_view(case, app)
        inp = RuleInput(case=view, form=form, facts=CaseFacts(session, case, app), profile=profile,
                        actor_id=actor.user_id, today=local_date(now), actor_org_id=actor.org_id)
        refused = [r for rule in spec.opening_rules for r in rule(inp)]
        if refused:
            raise Invalid(refused)
        if procedure_name in OPENERS:
            OPENERS[procedure_name](session, case, app, now)
        if procedure_name == "project_registration":
            project = Project(jurisdiction=jurisdiction, kind=app["kind"], title=app["title"],
                              owner_org_id=actor.org_id, project_class=app.get("project_class"), status="draft",
                              created_at=now)
            session.add(project)
            session.flush()
            case.project_id = project.id
        session.add(case)
        session.flush()
        if spec.tracks_subject:
            effects.sync_subject(session, case)
        ctx = effects.Ctx(session=session, case=case, actor=actor, form=form, profile=profile, spec=spec, now=now,
                          tasks=[])
        initial = spec.state(spec.initial)
        if initial.tasks or initial.on_enter or initial.clock != "stop":
            effects.enter(ctx, initial)  # an initial state with work to open (issuance, retirement)
        event = audit.append_case(session, case, at=now, actor_id=actor.user_id, actor_role="applicant",
                                  event="created", to_state=case.state, payload={"application": case.application})
        writes.flush(session)
        return respond(session, Outcome(case=case, event_id=event.id, moved=True, extra={}))

    return once(db, idem, command)
