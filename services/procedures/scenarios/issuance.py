"""Periodic issuance of scenario reductions on the users' behalf (Ordos arts. 12, 15, 16; Shanghai arts.
13, 15): the campaign opens one `scenario_issuance` case per registered scenario and closed period with
its verification report attached; `issued` mints the block into the enterprise's holding account through
the ledger's one minting path and records the per-user allocation, its Merkle root on the ledger entry
(so in the signed transparency log) and each user's carry into the next period.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from forms.scenarios import VerifierChoice
from services.engine.actors import SYSTEM_ACTOR
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.context import Ctx
from services.engine.errors import Invalid
from services.engine.opening import open_case
from services.procedures import ledger
from services.procedures.scenarios import allocation as files_of
from services.procedures.scenarios import verification
from services.procedures.scenarios.files import sha256_file
from services.store.engine import Database
from services.store.tables import (
    Case,
    Project,
    ScenarioAllocation,
    ScenarioBatch,
    ScenarioCarry,
    ScenarioReport,
    pk,
)
from states import scenario_issuance
from states.effects import CommissionVerifier, IssueToUsers
from states.machine import procedure
from states.messages import reason, text
from states.profiles import get_profile
from states.scenarios import Period, allocate, closed_periods, parse_period, period_vintage

NAME = scenario_issuance.NAME
log = logging.getLogger("carbon.scenarios")


def lock_scenario(session: Session, project_id: int) -> Project:
    """Issuance and correction of one scenario one at a time (its carry is read, then replaced)."""
    return session.exec(select(Project).where(col(Project.id) == project_id).with_for_update()).one()


def current_carry(session: Session, project_id: int) -> dict[str, int]:
    row = session.get(ScenarioCarry, project_id)
    if row is None:
        return {}
    if sha256_file(Path(row.path)) != row.sha256:
        raise Invalid([reason("scenario_file_changed", what="carry")])
    return files_of.read_pairs(row.path, "carry_g")


def replace_carry(session: Session, project: Project, name: str, carry: dict[str, int], now: Any) -> None:
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    path, sha = files_of.write_carry(project.jurisdiction, project.id, name, carry)  # type: ignore[arg-type]
    row = session.get(ScenarioCarry, project.id) or ScenarioCarry(project_id=pk(project), path="", sha256="",
                                                                  total_g=0, updated_at=now)
    row.path, row.sha256, row.total_g, row.updated_at = str(path), sha, sum(carry.values()), now
    session.add(row)


def report_users(report: ScenarioReport) -> dict[str, int]:
    """The report's eligible reductions per user; refused if its file is not the one the report digested."""
    if sha256_file(Path(report.users_path)) != report.users_sha256:
        raise Invalid([reason("scenario_file_changed", what="report")])
    return files_of.read_pairs(report.users_path, "reduction_g")


# --- effects -----------------------------------------------------------------------------------------


def commission_verifier(ctx: Ctx, effect: CommissionVerifier) -> None:
    """The verifier the centre chose sees the case and gets the verification task (AddressVerifier)."""
    chosen = ctx.form_as(VerifierChoice)
    app = ctx.case.application
    ctx.case.application = {**app, "report": {**app["report"], "verifier_id": chosen.verifier_id}}


def issue_to_users(ctx: Ctx, effect: IssueToUsers) -> None:
    """Allocate what users are eligible for (their carry plus the period's reductions; states/scenarios.allocate),
    mint the whole tonnes to the enterprise's holding account on their behalf and record the allocation:
    its files, its Merkle root (on the ledger entry too), and the new carry."""
    app = ctx.case.application
    project = lock_scenario(ctx.session, int(app["project_id"]))
    report = ctx.session.get(ScenarioReport, int(app["report"]["id"]))
    assert report is not None  # the campaign attached it
    reductions = report_users(report)
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    carry = current_carry(ctx.session, project.id)  # type: ignore[arg-type]
    eligible = {u: reductions.get(u, 0) + carry.get(u, 0) for u in {*reductions, *carry}}
    eligible = {u: g for u, g in eligible.items() if g > 0}
    block, allocated = allocate(eligible)
    rows = {u: {"reduction_g": reductions.get(u, 0), "carry_in_g": carry.get(u, 0), "allocated_g": allocated[u],
                "carry_out_g": eligible[u] - allocated[u], "reversed_g": 0} for u in eligible}
    period = app["period"]
    name = f"{period}-case{ctx.case.id}"
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    written = files_of.write(project.jurisdiction, project.id, period, name, rows)  # type: ignore[arg-type]
    replace_carry(ctx.session, project, name, {u: r["carry_out_g"] for u, r in rows.items()}, ctx.now)
    entry_id = None
    if block:
        entry, minted = ledger.mint(ctx.session, project=project, vintage=int(app["vintage"]), amount=block,
                                    owner_org_id=project.owner_org_id, case_id=ctx.case.id,
                                    actor_id=ctx.actor.user_id, now=ctx.now)
        entry.reference = allocation_reference(period, written.root)
        ctx.session.add(entry)
        entry_id = entry.id
        ctx.extra["serials"] = [minted.serial]
        ctx.extra["ledger_entry_id"] = entry_id
    ctx.session.add(ScenarioAllocation(
        project_id=pk(project), jurisdiction=project.jurisdiction, period=period, case_id=ctx.case.id,
        report_id=pk(report), vintage=int(app["vintage"]), block_t=block, users=written.users,
        reduction_g=sum(reductions.values()), allocated_g=sum(allocated.values()),
        carry_g=sum(r["carry_out_g"] for r in rows.values()), root=written.root, path=str(written.path),
        sha256=written.sha256, levels_path=str(written.levels_path), ledger_entry_id=entry_id,
        created_at=ctx.now, updated_at=ctx.now))
    ctx.extra["allocation"] = {"block_t": block, "users": written.users, "root": written.root}


def allocation_reference(period: str, root: str) -> str:
    """The ledger entry's reference: the allocation's root, so the signed log commits to it."""
    return f"scenario allocation {period} merkle-root {root}"


# --- the periodic campaign ---------------------------------------------------------------------------


def _report_summary(report: ScenarioReport) -> dict[str, Any]:
    """What the case carries of its report: identity, hashes and the scalar figures (the charts stay in it)."""
    scalars = {k: v for k, v in (report.figures or {}).items() if isinstance(v, int | float | str | bool)}
    return {"id": report.id, "digest": report.digest, "users_sha256": report.users_sha256, "engine": report.engine,
            "figures": scalars, "verifier_id": None}


def _verified(db: Database, project_id: int, period: str) -> int:
    """The period's verification report (Ordos art. 15), computed under the scenario's lock: the same inputs
    and parameters give the same report back (services/procedures/scenarios/verification.py)."""
    return pk(verification.run(db, project_id, period, engine="duckdb"))


def _has_case(session: Session, project_id: int, period: str) -> bool:
    return session.exec(select(col(Case.id)).where(
        col(Case.procedure) == NAME, col(Case.project_id) == project_id,
        col(Case.application)["period"].as_string() == period)).first() is not None


def _candidates(db: Database, jurisdiction: str, today: date) -> list[tuple[int, Period]]:
    """(scenario, period) pairs: registered, unsuspended scenarios, each period from the one holding its first
    batch's business date whose late records can no longer come (its end plus the profile's late days is
    past), that has no case yet."""
    profile = get_profile(jurisdiction)
    assert profile is not None
    rules = profile.scenarios
    out = []
    with db.read() as session:
        firsts = session.exec(select(col(Project.id), sa.func.min(col(ScenarioBatch.business_date)))
                              .join(ScenarioBatch, col(ScenarioBatch.project_id) == col(Project.id))
                              .where(col(Project.jurisdiction) == jurisdiction, col(Project.kind) == "scenario",
                                     col(Project.status) == "registered", col(Project.suspended).is_(False),
                                     col(ScenarioBatch.kind) == "records")
                              .group_by(col(Project.id)).order_by(col(Project.id))).all()
        for project_id, first in firsts:
            assert project_id is not None
            for period in closed_periods(first, today - timedelta(days=rules.late_days), rules.period):
                if not _has_case(session, project_id, period.key):
                    out.append((project_id, period))
    return out


def run_scenario_campaign(db: Database, jurisdiction: str, today: date | None = None) -> dict[str, int]:
    """Open a scenario issuance case for every registered scenario and closed period that has none, with
    the period's verification report attached. Idempotent: the check is repeated under the scenario's
    row lock, so a second (or a concurrent) run opens nothing twice. A period whose verification is
    refused (its reasons logged) is counted and tried again on the next run."""
    today = today or local_date(clock.now())
    opened = skipped = refused = 0
    candidates = _candidates(db, jurisdiction, today)
    for project_id, period in candidates:
        try:
            report_id = _verified(db, project_id, period.key)
        except Invalid as exc:  # e.g. a methodology with no quantification: the others still open
            log.warning("scenario %s period %s not verified: %s", project_id, period.key, exc)
            refused += 1
            continue
        with db.write() as session:
            project = lock_scenario(session, project_id)
            if _has_case(session, project_id, period.key) or project.suspended or project.status != "registered":
                skipped += 1
                continue
            report = session.get(ScenarioReport, report_id)
            assert report is not None
            application = {"project_id": project_id, "period": period.key, "vintage": period_vintage(period),
                           "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
                           "title": text("title.scenario_issuance", scenario=project.title, period=period.key).zh,
                           "report": _report_summary(report)}
            open_case(session, procedure(NAME, jurisdiction), jurisdiction=jurisdiction, actor=SYSTEM_ACTOR,
                      application=application, applicant_org_id=project.owner_org_id, project_id=project_id,
                      vintage=period_vintage(period), subject_kind="scenario", role="system",
                      payload={"campaign": period.key, "project_id": project_id, "report_id": report_id})
            opened += 1
    return {"opened": opened, "skipped": skipped, "refused": refused, "candidates": len(candidates)}


def period_of_key(jurisdiction: str, key: str) -> Period | None:
    profile = get_profile(jurisdiction)
    return None if profile is None else parse_period(key, profile.scenarios.period)
