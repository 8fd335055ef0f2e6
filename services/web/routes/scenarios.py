"""The scenario enterprise's pages (issue 17; Ordos arts. 13–14): its registered scenarios, each with the
data credential (issued or rotated here, shown once), the daily batches and the consent feed with their
status, refusals counted by reason, and each batch's refused rows as CSV; and the periods issued to it on its
users' behalf (Ordos arts. 12, 16), with how its users open their accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session, col, select

from services.api.deps import get_db
from services.engine.actors import Actor
from services.engine.errors import NotFound
from services.procedures.scenarios import accounts, batches, feeds
from services.store.tables import Project, pk
from services.web.deps import CheckedForm, SignedIn, wearing
from services.web.pages import lang_of, render

router = APIRouter(include_in_schema=False)


def _mine(session: Session, actor: Actor, jurisdiction: str) -> list[Project]:
    if actor.org_id is None:
        return []
    return list(session.exec(select(Project).where(
        col(Project.owner_org_id) == actor.org_id, col(Project.jurisdiction) == jurisdiction,
        col(Project.kind) == "scenario").order_by(col(Project.id))).all())


def _owned(session: Session, actor: Actor, project_id: int) -> Project:
    project = feeds.scenario(session, project_id)
    if not feeds.owns(actor, project):
        raise NotFound.of("scenario")
    return project


@router.get("/applicant/scenarios")
def scenario_list(request: Request, signed: SignedIn) -> Response:
    jurisdiction = wearing(signed, "applicant")
    with get_db(request).read() as session:
        rows = []
        for p in _mine(session, signed.actor, jurisdiction):
            records = batches.listing(session, pk(p), "records")
            rows.append({"project": p, "batches": len(records), "latest": records[0] if records else None,
                         **feeds.status(session, pk(p))})
    return render(request, "applicant_scenarios.html", scenarios=rows)


def _page(request: Request, signed: Any, project_id: int, token: dict[str, Any] | None = None) -> Response:
    wearing(signed, "applicant")
    with get_db(request).read() as session:
        project = _owned(session, signed.actor, project_id)
        context = {"project": project, "records": batches.listing(session, project_id, "records"),
                   "consents": batches.listing(session, project_id, "consents"),
                   "issued": accounts.statistics(session, project), **feeds.status(session, project_id)}
    return render(request, "applicant_scenario.html", token=token, **context)


@router.get("/applicant/scenarios/{project_id}")
def scenario_page(project_id: int, request: Request, signed: SignedIn) -> Response:
    return _page(request, signed, project_id)


@router.post("/applicant/scenarios/{project_id}/credential")
async def issue_credential(project_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    """The new token is on this page only (not a redirect: it is never stored to be shown again)."""
    wearing(signed, "applicant")
    issued = await run_in_threadpool(feeds.issue, get_db(request), signed.actor, project_id)
    return _page(request, signed, project_id, token=issued)


@router.get("/applicant/scenarios/{project_id}/{kind}/{batch_id}/rejected.csv")
def rejected_rows(project_id: int, kind: str, batch_id: str, request: Request, signed: SignedIn) -> Response:
    wearing(signed, "applicant")
    if kind not in batches.KINDS:
        raise NotFound.of("scenario_batch")
    with get_db(request).read() as session:
        _owned(session, signed.actor, project_id)
        batch = batches.one(session, project_id, kind, batch_id)
    return Response(batches.rejected_csv(batch, lang_of(request)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{kind}-{batch_id}-rejected.csv"'})
