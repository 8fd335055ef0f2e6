"""Digital verification of a scenario's period (Ordos art. 15): run it (an officer or the review centre) and
read its reports (staff of the jurisdiction and the scenario's enterprise)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from services.api.deps import ActorDep, DbDep, IdemKey
from services.api.responses import errors
from services.procedures.scenarios import verification
from services.queries import scenario_reports
from services.queries.scenario_reports import ScenarioReportList, ScenarioReportPublic

router = APIRouter(prefix="/api/v1/scenarios", tags=["scenarios"])
Period = Annotated[str, Path(max_length=10, description="2026-03 (monthly), 2026-Q1 (quarterly) or 2026 (annual), "
                                                        "as the jurisdiction issues")]
Engine = Annotated[str, Query(pattern="^(duckdb|dask)$", description="The analytical engine (same figures on each)")]


@router.post("/{project_id}/periods/{period}/verification", status_code=201, response_model=ScenarioReportPublic,
             summary="Verify a period digitally: a new report (201), or the existing one when nothing changed (200)",
             responses={200: {"model": ScenarioReportPublic, "description": "The inputs are unchanged: the report "
                                                                            "already made"},
                        **errors(401, 403, 404, 409, 422)})
def verify(project_id: int, period: Period, actor: ActorDep, db: DbDep, engine: Engine = "duckdb",
           idempotency_key: IdemKey = None) -> JSONResponse:
    status, body = verification.command(db, actor, project_id, period, engine, idempotency_key)
    with db.read() as session:
        found = scenario_reports.report(session, actor, project_id, int(body["report_id"]))
    return JSONResponse(found.model_dump(mode="json"), status_code=status)


@router.get("/{project_id}/periods/{period}/verification", summary="A period's latest verification report",
            responses=errors(401, 404, 422))
def latest(project_id: int, period: Period, actor: ActorDep, db: DbDep) -> ScenarioReportPublic:
    with db.read() as session:
        return scenario_reports.latest(session, actor, project_id, period)


@router.get("/{project_id}/reports", summary="Every verification report of the scenario, newest first",
            responses=errors(401, 404, 422))
def reports(project_id: int, actor: ActorDep, db: DbDep) -> ScenarioReportList:
    with db.read() as session:
        return scenario_reports.reports(session, actor, project_id)


@router.get("/{project_id}/reports/{report_id}", summary="One verification report (any version)",
            responses=errors(401, 404, 422))
def report(project_id: int, report_id: int, actor: ActorDep, db: DbDep) -> ScenarioReportPublic:
    with db.read() as session:
        return scenario_reports.report(session, actor, project_id, report_id)
