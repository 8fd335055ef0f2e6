"""A project's supervision page (`/projects/{id}`), for its developer and the staff of its jurisdiction:
Beijing's revenue-use audits (编制说明 4(二)) — the developer opens the audit of an ended year whenever it
is due, an officer asks for one — with each audit's state and deadline; the project's issued blocks, where
staff record one found claimed in another scheme (Ordos art. 17, Shanghai art. 14); the owner's
disqualification (Jiaxing art. 26).

Reads are `services.queries.supervision.project_oversight` (the API's `GET /projects/{id}/oversight`),
commands the API's service calls, so the page and the API cannot disagree.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from forms.issuance import DoubleClaimFinding
from forms.supervision import RevenueAuditRequest
from services.api.deps import get_db
from services.engine.errors import CommandError
from services.engine.forms_errors import reasons_from_validation
from services.procedures import double_claims, supervision
from services.queries import supervision as reads
from services.queries.cases import form_schema
from services.queries.schemas import plain
from services.web.deps import CheckedForm, SignedIn, form_dict, form_key
from services.web.pages import render
from services.web.schema_forms import fields
from states.messages import Reason

router = APIRouter(include_in_schema=False)


def _page(request: Request, signed: Any, project_id: int, status: int = 200,
          audit_values: dict[str, Any] | None = None, audit_reasons: list[Reason] | None = None,
          claim_values: dict[str, Any] | None = None, claim_reasons: list[Reason] | None = None) -> Response:
    with get_db(request).read() as session:
        p = plain(reads.project_oversight(session, signed.actor, project_id))
    audit_fields, audit_loose = fields(form_schema(RevenueAuditRequest), audit_values, audit_reasons)
    if not p["staff_roles"]:  # the developer's own motion: the working days are the rule's, not asked for
        audit_fields = [f for f in audit_fields if f.name != "due_days"]
    claim_fields, claim_loose = fields(form_schema(DoubleClaimFinding), claim_values, claim_reasons)
    return render(request, "project_oversight.html", status_code=status, p=p, audit_fields=audit_fields,
                  audit_loose=audit_loose, claim_fields=claim_fields, claim_loose=claim_loose)


@router.get("/projects/{project_id}")
def project_page(project_id: int, request: Request, signed: SignedIn) -> Response:
    return _page(request, signed, project_id)


@router.post("/projects/{project_id}/revenue-audits")
async def open_audit(project_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    posted = {k: v for k, v in form_dict(form).items() if isinstance(v, str) and v.strip()}
    try:
        body = RevenueAuditRequest.model_validate(posted)
        opened = await run_in_threadpool(partial(supervision.request_revenue_audit, get_db(request), project_id,
                                                 signed.actor, body.year, body.due_days, body.note, form_key(form)))
    except ValidationError as exc:
        return _page(request, signed, project_id, 422, posted, reasons_from_validation(exc))
    except CommandError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _page(request, signed, project_id, exc.status, posted, exc.reasons)
    return RedirectResponse(f"/cases/{opened['id']}", status_code=303)


@router.post("/projects/{project_id}/claimed-elsewhere")
async def claimed_elsewhere(project_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    """Ordos art. 17, Shanghai art. 14: a block of this project found claimed in another scheme."""
    posted = {k: v for k, v in form_dict(form).items() if isinstance(v, str) and v.strip()}
    with get_db(request).read() as session:
        jurisdiction = reads.project_oversight(session, signed.actor, project_id).jurisdiction
    try:
        body = DoubleClaimFinding.model_validate(posted)
        found = await run_in_threadpool(partial(double_claims.mark_claimed_elsewhere, get_db(request), jurisdiction,
                                                signed.actor, body, form_key(form)))
    except ValidationError as exc:
        return _page(request, signed, project_id, 422, claim_values=posted, claim_reasons=reasons_from_validation(exc))
    except CommandError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _page(request, signed, project_id, exc.status, claim_values=posted, claim_reasons=exc.reasons)
    target = f"/cases/{found['rectification_case_id']}" if found["rectification_case_id"] else f"/projects/{project_id}"
    return RedirectResponse(target, status_code=303)
