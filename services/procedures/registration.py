"""Registration's own behaviour: the application and its edits, the subject (project or scenario) it
describes, its registration number or Beijing's disclosure (states/project_registration.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from services.engine import counters
from services.engine.context import Ctx
from services.engine.errors import Invalid
from services.engine.forms_errors import reasons_from_validation
from services.engine.work import enqueue
from services.store.records import AnyCase
from services.store.tables import MethodologyVersion, Project
from states.effects import ApplyEdit, CreateSubject, DiscloseSubject, RecordSubmission, RegisterSubject
from states.spec import ProcedureSpec


def merged_application(application: dict[str, Any], form: BaseModel, spec: ProcedureSpec) -> dict[str, Any]:
    """The application as it would stand after an edit, or a resubmission with `changes`: checked whole
    (the preview the rules judge, and what `apply_edit` stores)."""
    edit_form = next(t.form for t in spec.transitions if t.trigger == "edit")
    raw = getattr(form, "changes", None)
    if isinstance(form, edit_form):
        changes, prefix = form.model_dump(mode="json", exclude_unset=True), None
    elif raw is None:
        return application
    else:
        prefix = "changes"
        try:
            changes = edit_form.model_validate(raw).model_dump(mode="json", exclude_unset=True)
        except ValidationError as exc:
            raise Invalid(reasons_from_validation(exc, prefix=prefix)) from exc
    try:
        return spec.application.model_validate({**application, **changes}).model_dump(mode="json")
    except ValidationError as exc:
        raise Invalid(reasons_from_validation(exc, prefix=prefix)) from exc


def sync_subject(session: Session, case: AnyCase) -> None:
    """The project row mirrors the application's headline fields."""
    project = session.get(Project, case.project_id) if case.project_id else None
    if project is None:
        return
    app = case.application
    project.title = app["title"]
    project.project_class = app.get("project_class")
    mv = session.exec(select(MethodologyVersion).where(
        MethodologyVersion.jurisdiction == case.jurisdiction, MethodologyVersion.code == app["methodology_code"],
        MethodologyVersion.version == app["methodology_version"])).first()
    project.methodology_version_id = mv.id if mv else None
    session.add(project)


def apply_edit(ctx: Ctx, effect: ApplyEdit) -> None:
    assert ctx.form is not None
    ctx.case.application = merged_application(dict(ctx.case.application), ctx.form, ctx.spec)
    sync_subject(ctx.session, ctx.case)


def record_submission(ctx: Ctx, effect: RecordSubmission) -> None:
    ctx.case.submitted_on = ctx.case.submitted_on or ctx.today


def create_subject(ctx: Ctx, effect: CreateSubject) -> None:
    """The project or scenario the application describes, a draft until registered."""
    app, case = ctx.case.application, ctx.case
    assert case.applicant_org_id is not None  # an applicant's organisation opens a registration
    project = Project(jurisdiction=case.jurisdiction, kind=app["kind"], title=app["title"],
                      owner_org_id=case.applicant_org_id, project_class=app.get("project_class"), status="draft",
                      created_at=ctx.now)
    ctx.session.add(project)
    ctx.session.flush()
    case.project_id = project.id
    sync_subject(ctx.session, case)


def register_subject(ctx: Ctx, effect: RegisterSubject) -> None:
    """Registration numbers are unique per jurisdiction, year and kind: `SH-2026-P00042`."""
    project = ctx.session.get(Project, ctx.case.project_id)
    kind = project.kind if project else ctx.case.subject_kind
    year = ctx.today.year
    last = counters.next_number(ctx.session, ctx.case.jurisdiction, year, kind)
    number = f"{ctx.case.jurisdiction}-{year}-{'S' if kind == 'scenario' else 'P'}{last:05d}"
    if project:
        project.registration_number, project.registered_at, project.status = number, ctx.now, "registered"
        ctx.session.add(project)
    ctx.extra["registration_number"] = number
    enqueue(ctx, "publish_registration", "public", {"registration_number": number})


def disclose_subject(ctx: Ctx, effect: DiscloseSubject) -> None:
    enqueue(ctx, "publish_disclosure", "public", {"title": ctx.case.application.get("title")})
