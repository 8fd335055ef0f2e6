"""Opening a case: the one way every case comes to be, whoever opens it (an applicant's draft, a campaign's
issuance case, a finding's rectification, a year's revenue audit, the public's report).

The case row, the procedure's opening effects (its subject created or linked), the initial state
entered (its tasks, timers, clock), and the `created` event on its new hash chain — in the caller's
transaction. An applicant's opening is judged by the procedure's opening rules first (`create`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from services.engine import audit, effects, facts, lifecycle
from services.engine.actors import Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.command import Outcome, Responder
from services.engine.context import Ctx, case_view
from services.engine.errors import Forbidden, Invalid
from services.engine.forms_errors import reasons_from_validation
from services.engine.idempotency import Idem, Reply, once
from services.store import records, unit_of_work
from services.store.engine import Database
from services.store.records import CaseRecord
from states.machine import PROCEDURES, ProcedureUnavailable, procedure
from states.messages import Reason, reason, role_required
from states.profiles import Profile, get_profile
from states.spec import ProcedureSpec, RuleInput


def open_case(session: Session, spec: ProcedureSpec, *, jurisdiction: str, actor: Actor,
              application: dict[str, Any], form: BaseModel | None = None, applicant_org_id: int | None = None,
              project_id: int | None = None, vintage: int | None = None, subject_kind: str | None = None,
              role: str | None = None, payload: dict[str, Any] | None = None, judged: bool = False
              ) -> tuple[CaseRecord, audit.Appended]:
    """`judged`: run the procedure's opening rules (an applicant's request; the system opens cases it has
    decided on). `subject_kind`: project | scenario | report (default: the application's `kind`).
    `payload`: what the `created` event records (default: the application)."""
    now = clock.now()
    profile = get_profile(jurisdiction)
    assert profile is not None  # the procedure was built for it
    # a record with no row yet (id 0): the opening effects set its subject up, the opening rules judge it
    case = CaseRecord(id=0, procedure=spec.name, jurisdiction=jurisdiction, state=spec.initial,
                      subject_kind=subject_kind or application.get("kind", "project"),
                      applicant_org_id=applicant_org_id, created_by=actor.user_id, application=application,
                      project_id=project_id, vintage=vintage, created_at=now, updated_at=now)
    ctx = Ctx(session=session, case=case, actor=actor, form=form, profile=profile, spec=spec, now=now, tasks=[])
    for effect in spec.opening:  # a refusal below rolls the subject back with the rest
        effects.apply(ctx, effect)
    if judged and form is not None:
        _judge(session, case, spec, profile, form, actor)
    session.flush()  # the subject the case refers to
    ctx.case = case = records.insert_case(session, case.values())  # its id: its tasks, timers and events refer to it
    lifecycle.enter(ctx, spec.state(spec.initial))
    event = audit.append_case(session, case, at=now, actor_id=actor.user_id, actor_role=role or actor.role_label,
                              event="created", to_state=case.state,
                              payload=payload if payload is not None else {"application": case.application})
    return case, event


def _judge(session: Session, case: CaseRecord, spec: ProcedureSpec, profile: Profile, form: BaseModel,
           actor: Actor) -> None:
    inp = RuleInput(case=case_view(case), form=form, facts=facts.facts(session, case, dict(case.application)),
                    profile=profile, actor_id=actor.user_id, today=local_date(clock.now()), actor_org_id=actor.org_id)
    refused = [r for rule in spec.opening_rules for r in rule(inp)]
    if refused:
        raise Invalid(refused)


def create(db: Database, *, actor: Actor, procedure_name: str, jurisdiction: str, application: dict[str, Any],
           respond: Responder, idempotency_key: str | None = None) -> Reply:
    """An applicant opens a case of a procedure applicants open, in a jurisdiction that runs it (Jiaxing
    files projects with their first reduction filing, arts. 14–17: it has no registration). Every reason
    at once; the opening rules run before anything is stored."""
    spec, form = _request(procedure_name, jurisdiction, application)
    if not actor.holds("applicant", jurisdiction):
        raise Forbidden([role_required("applicant")])
    if actor.org_id is None:
        raise Forbidden([reason("no_organisation")])

    def command(session: Session) -> Reply:
        case, event = open_case(session, spec, jurisdiction=jurisdiction, actor=actor,
                                application=form.model_dump(mode="json"), form=form,
                                applicant_org_id=actor.org_id, role="applicant", judged=True)
        unit_of_work.of(session).flush()  # the event's id, for the reply
        return respond(session, Outcome(case=case, event_id=event.id, moved=True, extra={}))

    idem = Idem(actor.key, idempotency_key, {"create": procedure_name, "j": jurisdiction, "app": application})
    return once(db, idem, command)


def _request(name: str, jurisdiction: str, application: dict[str, Any]) -> tuple[ProcedureSpec, BaseModel]:
    """The procedure and the validated application form, or every reason they are not."""
    profile = get_profile(jurisdiction)
    entry = PROCEDURES.get(name)
    reasons: list[Reason] = []
    if profile is None:
        reasons.append(reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction))
    if entry is None or entry.opened_by != "applicant":
        reasons.append(reason("procedure_not_creatable" if entry else "unknown_procedure", field="procedure",
                              name=name))
    spec = None
    if profile is not None and entry is not None and entry.opened_by == "applicant":
        try:
            spec = procedure(name, jurisdiction)
        except ProcedureUnavailable:
            reasons.append(reason("no_separate_registration", field="jurisdiction", jurisdiction_zh=profile.name_zh,
                                  jurisdiction_en=profile.name_en, **profile.cite("filing_with_first_issuance")))
    form = None
    if entry is not None and entry.opened_by == "applicant":
        try:
            form = entry.application.model_validate(application)
        except ValidationError as exc:
            reasons.extend(reasons_from_validation(exc, prefix="application"))
    if reasons or spec is None or form is None:
        raise Invalid(reasons)
    return spec, form
