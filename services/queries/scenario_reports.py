"""Verification reports of scenarios (Ordos art. 15) as read models: who may read them (staff of the scenario's
jurisdiction, and its enterprise, which holds the reductions on its users' behalf, Ordos art. 16), the
report's JSON, and the labels its page and clients show next to the codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.engine.errors import NotFound
from services.engine.visibility import STAFF_ROLES
from services.queries.schemas import Bilingual, Instant, Public
from services.store.tables import Project, ScenarioReport
from states.messages import label
from states.scenario_verification import VERIFY_EXCLUSIONS
from states.spec import SYSTEM


class ScenarioReportPublic(Public):
    id: int
    project_id: int
    scenario: str
    jurisdiction: str
    period: str
    period_start: date
    period_end: date
    version: int  # 1 for the period's first report; a later one when the inputs changed
    latest: bool
    engine: str
    digest: str  # SHA-256 over inputs, parameters, quantification, figures and the per-user file
    users_sha256: str
    figures: dict[str, Any]  # counts, totals (grams), rejections and exclusions by reason, days, anomalies, inputs
    labels: dict[str, Bilingual]  # reason code -> its label, for every code the figures name
    created_at: Instant
    created_by: int | None


class ScenarioReportList(Public):
    project_id: int
    items: list[ScenarioReportPublic]


def readable_scenario(session: Session, actor: Actor, project_id: int) -> Project:
    """The scenario, when the actor is staff of its jurisdiction or its enterprise; 404 otherwise."""
    project = session.get(Project, project_id)
    if project is None or project.kind != "scenario" or not can_read(actor, project):
        raise NotFound.of("scenario")
    return project


def can_read(actor: Actor, project: Project) -> bool:
    if actor.kind == SYSTEM or any(actor.holds(r, project.jurisdiction) for r in STAFF_ROLES):
        return True
    return actor.holds("applicant", project.jurisdiction) and actor.org_id == project.owner_org_id


def _labels(figures: dict[str, Any]) -> dict[str, Bilingual]:
    codes = [*figures.get("rejections", {}), *figures.get("pii", {}), *VERIFY_EXCLUSIONS]
    return {code: Bilingual(**label(f"reason.scenario_{code}")) for code in dict.fromkeys(codes)}


def _public(report: ScenarioReport, project: Project, version: int, latest: bool) -> ScenarioReportPublic:
    assert report.id is not None
    created: datetime = report.created_at
    return ScenarioReportPublic(id=report.id, project_id=report.project_id, scenario=project.title,
                                jurisdiction=report.jurisdiction, period=report.period,
                                period_start=report.period_start, period_end=report.period_end, version=version,
                                latest=latest, engine=report.engine, digest=report.digest,
                                users_sha256=report.users_sha256, figures=report.figures,
                                labels=_labels(report.figures), created_at=created, created_by=report.created_by)


def _versions(session: Session, project_id: int, period: str) -> list[int]:
    return list(session.exec(select(ScenarioReport.id).where(ScenarioReport.project_id == project_id,
                                                             ScenarioReport.period == period)
                             # the ignore below: sqlmodel's select() overloads do not cover this column list
                             .order_by(col(ScenarioReport.id))))  # type: ignore[arg-type]


def public(session: Session, report: ScenarioReport, project: Project) -> ScenarioReportPublic:
    ids = _versions(session, report.project_id, report.period)
    return _public(report, project, ids.index(report.id or 0) + 1, ids[-1] == report.id)


def report(session: Session, actor: Actor, project_id: int, report_id: int) -> ScenarioReportPublic:
    project = readable_scenario(session, actor, project_id)
    found = session.get(ScenarioReport, report_id)
    if found is None or found.project_id != project_id:
        raise NotFound.of("scenario_report")
    return public(session, found, project)


def latest(session: Session, actor: Actor, project_id: int, period: str) -> ScenarioReportPublic:
    project = readable_scenario(session, actor, project_id)
    found = session.exec(select(ScenarioReport).where(ScenarioReport.project_id == project_id,
                                                      ScenarioReport.period == period)
                         .order_by(col(ScenarioReport.id).desc())).first()
    if found is None:
        raise NotFound.of("scenario_report")
    return public(session, found, project)


def reports(session: Session, actor: Actor, project_id: int) -> ScenarioReportList:
    """Every report of the scenario, newest first (earlier versions kept)."""
    project = readable_scenario(session, actor, project_id)
    rows = list(session.exec(select(ScenarioReport).where(ScenarioReport.project_id == project_id)
                             .order_by(col(ScenarioReport.id).desc())))
    seen: dict[str, list[int]] = {}
    for r in reversed(rows):
        seen.setdefault(r.period, []).append(r.id or 0)
    return ScenarioReportList(project_id=project_id, items=[
        _public(r, project, seen[r.period].index(r.id or 0) + 1, seen[r.period][-1] == r.id) for r in rows])
