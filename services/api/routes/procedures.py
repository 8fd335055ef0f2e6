"""Procedures as data: their states and the diagram drawn from the live machine."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from services.api.deps import current_actor
from services.engine.errors import Invalid
from states.machine import PROCEDURES, ProcedureUnavailable, mermaid, procedure
from states.messages import Reason, label, reason
from states.profiles import all_profiles, get_profile

# Signed-in users only: everything outside /api/v1/public and /api/v1/calendar needs a token.
router = APIRouter(prefix="/api/v1/procedures", tags=["procedures"], dependencies=[Depends(current_actor)])


def _spec(name: str, jurisdiction: str):  # noqa: ANN202
    reasons = []
    if name not in PROCEDURES:
        reasons.append(reason("unknown_procedure", field="name", name=name))
    if get_profile(jurisdiction) is None:
        reasons.append(reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction))
    if reasons:
        raise Invalid(reasons)
    try:
        return procedure(name, jurisdiction)
    except ProcedureUnavailable as exc:
        p = get_profile(jurisdiction)
        raise Invalid([reason("no_separate_registration", field="jurisdiction", jurisdiction_zh=p.name_zh,
                              jurisdiction_en=p.name_en, **p.cite("filing_with_first_issuance"))] if p else [
            Reason("unavailable", "该辖区无此程序", "Not available in this jurisdiction")]) from exc


@router.get("", summary="Procedures and where each runs")
def list_procedures() -> dict[str, Any]:
    out = []
    for name in PROCEDURES:
        runs = []
        for code in all_profiles():
            try:
                procedure(name, code)
                runs.append(code)
            except ProcedureUnavailable:
                pass
        out.append({"name": name, **label(f"procedure.{name}"), "jurisdictions": runs})
    return {"items": out}


@router.get("/{name}", summary="A procedure's states and actions in one jurisdiction")
def describe(name: str, jurisdiction: str) -> dict[str, Any]:
    spec = _spec(name, jurisdiction)
    return {
        "name": name, "jurisdiction": jurisdiction, "initial": spec.initial,
        "states": [{"name": s.name, **label(f"state.{s.name}"), "terminal": s.terminal, "clock": s.clock,
                    "tasks": [{"kind": t.kind, "role": t.role, "sla": t.sla} for t in s.tasks]} for s in spec.states],
        "actions": [{"action": t.trigger, **label(f"trigger.{t.trigger}"), "from": list(t.sources),
                     "to": t.dest, "roles": list(t.roles)} for t in spec.transitions],
    }


@router.get("/{name}/diagram", response_class=PlainTextResponse, summary="Mermaid diagram of the live machine")
def diagram(name: str, jurisdiction: str, state: str | None = None) -> str:
    spec = _spec(name, jurisdiction)
    if state is not None and state not in {s.name for s in spec.states}:
        raise Invalid([Reason("unknown_state", f"未知状态：{state}", f"Unknown state: {state}", "state")])
    return mermaid(name, jurisdiction, state)
