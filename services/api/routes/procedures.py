"""Procedures as data: their states and the diagram drawn from the live machine."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from services.api.deps import current_actor
from services.api.responses import errors
from services.engine.errors import Invalid
from services.queries import procedures
from services.queries.procedures import ProcedureDescription, ProcedureList
from states.machine import mermaid
from states.messages import reason

# Signed-in users only: everything outside /api/v1/public and /api/v1/calendar needs a token.
router = APIRouter(prefix="/api/v1/procedures", tags=["procedures"], dependencies=[Depends(current_actor)],
                   responses=errors(401, 422))


@router.get("", summary="Procedures and where each runs")
def list_procedures() -> ProcedureList:
    return procedures.procedures()


@router.get("/{name}", summary="A procedure's states and actions in one jurisdiction")
def describe(name: str, jurisdiction: str) -> ProcedureDescription:
    return procedures.describe(name, jurisdiction)


@router.get("/{name}/diagram", response_class=PlainTextResponse, summary="Mermaid diagram of the live machine",
            responses={200: {"description": "The Mermaid source (`stateDiagram-v2`)"}, **errors(401, 422, text=True)})
def diagram(name: str, jurisdiction: str, state: str | None = None) -> str:
    spec = procedures.spec(name, jurisdiction)
    if state is not None and state not in {s.name for s in spec.states}:
        raise Invalid([reason("unknown_state", field="state", state=state)])
    return mermaid(name, jurisdiction, state)
