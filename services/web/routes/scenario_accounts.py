"""Scenario pages with no sign-in (issue 17): a scenario's public statistics (participants and reductions per
issued period, the allocation's root; no personal data, Shanghai art. 22), and an individual's account opened
with the lookup token their scenario enterprise handed them (Ordos arts. 12, 16): reductions per period,
carbon points (Shanghai art. 16), the inclusion proof of each allocation, and a transfer of points where the
profile allows it (Shandong 编制说明 二(二): not). The token travels in the form body, never in an address.

The pages call the services the API calls (services/procedures/scenarios/accounts.py) with the same forms."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from forms.scenarios import PointsTransfer
from services.api.deps import get_db
from services.engine.clock import clock
from services.engine.errors import CommandError
from services.engine.forms_errors import reasons_from_validation
from services.procedures.scenarios import accounts
from services.web.actions import posted_strings
from services.web.deps import CheckedForm, form_key, maybe_signed
from services.web.routes.public import page, private
from states.messages import Reason

router = APIRouter(include_in_schema=False, dependencies=[Depends(maybe_signed)])


@router.get("/public/scenarios/{scenario_id}")
def scenario_statistics(scenario_id: int, request: Request) -> Response:
    with get_db(request).read() as session:
        project = accounts.scenario(session, scenario_id)
        periods = accounts.statistics(session, project)
    return page(request, "public/scenario.html", p=project, periods=periods)


def _account(db: Any, token: str) -> dict[str, Any]:
    with db.read() as session:
        project, user = accounts.holder_of(session, token)
        view = accounts.account(session, project, user)
        view["proofs"] = {r["period"]: accounts.proof(session, project, user, r["period"]) for r in view["periods"]}
        return view


def _account_page(request: Request, status_code: int = 200, token: str = "", view: dict[str, Any] | None = None,
                  reasons: list[Reason] | None = None, done: dict[str, Any] | None = None) -> Response:
    return private(page(request, "public/my_reductions.html", status_code, token=token, view=view,
                        reasons=reasons or [], done=done))


@router.get("/my-reductions")
def account_form(request: Request) -> Response:
    return _account_page(request)


@router.post("/my-reductions")
async def account(request: Request, form: CheckedForm) -> Response:
    token = posted_strings(form).get("token", "").strip()
    try:
        view = await run_in_threadpool(_account, get_db(request), token)
    except CommandError as exc:
        return _account_page(request, exc.status, token="", reasons=[replace(r, field="token") for r in exc.reasons])
    return _account_page(request, token=token, view=view)


def _transfer(db: Any, token: str, body: PointsTransfer, key: str) -> dict[str, Any]:
    with db.write() as session:
        project, user = accounts.holder_of(session, token)
        return accounts.transfer_points(session, project, user, body.to_user_id, body.points, key, clock.now())


@router.post("/my-reductions/transfer")
async def transfer(request: Request, form: CheckedForm) -> Response:
    posted = posted_strings(form)
    token = posted.get("token", "").strip()
    db = get_db(request)
    reasons: list[Reason] = []
    done = None
    try:
        body = PointsTransfer.model_validate({"to_user_id": posted.get("to_user_id", ""),
                                              "points": posted.get("points", "")})
        # the page's form carries its own key (a resubmitted form answers the first transfer); without one,
        # the transfer is new
        key = form_key(form) or f"web:{secrets.token_hex(16)}"
        done = await run_in_threadpool(_transfer, db, token, body, key)
    except ValidationError as exc:
        reasons = reasons_from_validation(exc)
    except CommandError as exc:
        reasons = list(exc.reasons)
    try:
        view = await run_in_threadpool(_account, db, token)
    except CommandError as exc:
        return _account_page(request, exc.status, reasons=list(exc.reasons))
    return _account_page(request, 422 if reasons else 201, token=token, view=view, reasons=reasons, done=done)
