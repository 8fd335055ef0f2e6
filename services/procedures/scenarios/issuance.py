"""Periodic issuance of scenario reductions on the users' behalf (Ordos arts. 12, 15, 16; Shanghai arts.
13, 15): the campaign opens one `scenario_issuance` case per registered scenario and closed period with
its verification report attached; `issued` mints the block into the enterprise's holding account through
the ledger's one minting path and records the per-user allocation, its Merkle root on the ledger entry
(so in the signed transparency log) and each user's carry into the next period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from forms.scenarios import VerifierChoice
from services.engine import audit
from services.engine.actors import SYSTEM_ACTOR
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.context import Ctx
from services.engine.errors import Invalid
from services.engine.opening import open_case
from services.engine.work import enqueue
from services.procedures import ledger
from services.procedures.scenarios import allocation as files_of
from services.procedures.scenarios import verification
from services.procedures.scenarios.files import scenario_lock, sha256_file
from services.store import records
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
from states.scenarios import Period, allocation_rows, closed_periods, parse_period, period_vintage, periods_with_data

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
    written = files_of.write_carry(project.jurisdiction, project.id, name, carry)  # type: ignore[arg-type]
    record_carry(session, project, written, sum(carry.values()), now)


def record_carry(session: Session, project: Project, written: tuple[Path, str], total_g: int, now: Any) -> None:
    """The scenario's current carry is the file `written` (its path and SHA-256)."""
    path, sha = written
    row = session.get(ScenarioCarry, project.id) or ScenarioCarry(project_id=pk(project), path="", sha256="",
                                                                  total_g=0, updated_at=now)
    row.path, row.sha256, row.total_g, row.updated_at = str(path), sha, total_g, now
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


ISSUE_WORK = "issue_to_users"  # the outbox kind of an approved period's minting and allocation
ATTEMPTS = 3  # file work redone when the carry changed under it (another period, a correction) before it commits


def issue_to_users(ctx: Ctx, effect: IssueToUsers) -> None:
    """Entering `issued` records the approver's decision and hands the minting and the per-user allocation to
    the dispatcher (`run_issue`, an outbox row of the same transaction): for a city's million users the
    file work takes a minute, which no approver's request should hold, and a crash there loses nothing —
    the row is delivered again until it is done, once."""
    app = ctx.case.application
    enqueue(ctx, ISSUE_WORK, "system", {"project_id": int(app["project_id"]), "period": app["period"],
                                        "approver_id": ctx.actor.user_id})


def allocation_of(session: Session, case_id: int) -> ScenarioAllocation | None:
    return session.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.case_id) == case_id)).first()


@dataclass(frozen=True)
class _Planned:
    """An allocation computed and written to files, not yet recorded: what it was computed from (the carry
    file's SHA-256, None for no carry) is checked again under the scenario's lock before it commits."""

    carry_sha: str | None
    reductions_g: int
    block: int
    rows: dict[str, dict[str, int]]
    written: files_of.Written
    carry: tuple[Path, str]


def _carry_sha(session: Session, project_id: int) -> str | None:
    """The SHA-256 of the scenario's current carry file (None: no carry yet): what a plan was made from."""
    row = session.get(ScenarioCarry, project_id)
    return None if row is None else row.sha256


def _plan(db: Database, case: Case, project: Project) -> _Planned:
    """Each user's eligible grams (their carry plus the period's reductions from the report's users file,
    refused if its SHA-256 changed), allocated (states/scenarios.allocate), and written: the users' rows,
    the tree's levels and the next carry. Files only: no transaction is held meanwhile. The file names are
    the case's, so work redone after a crash writes the same files again."""
    app = case.application
    with db.read() as session:
        report = session.get(ScenarioReport, int(app["report"]["id"]))
        assert report is not None  # the campaign attached it
        carry_sha = _carry_sha(session, pk(project))
        reductions = report_users(report)
        carry = current_carry(session, pk(project))
    block, rows = allocation_rows(reductions, carry)
    name = f"{app['period']}-case{case.id}"
    written = files_of.write(project.jurisdiction, pk(project), app["period"], name, rows)
    carry_file = files_of.write_carry(project.jurisdiction, pk(project), name,
                                      {u: r["carry_out_g"] for u, r in rows.items()})
    return _Planned(carry_sha, sum(reductions.values()), block, rows, written, carry_file)


def _record(session: Session, case: Case, held: records.CaseRecord, project: Project, plan: _Planned,
            approver_id: int | None, now: Any) -> ScenarioAllocation:
    """One transaction: the new carry, the block minted through the ledger's one minting path (none for a
    block of 0) with the allocation's root on its entry, the allocation row, and the event on the case's
    audit chain."""
    app = case.application
    record_carry(session, project, plan.carry, sum(r["carry_out_g"] for r in plan.rows.values()), now)
    entry_id, serials = None, []
    if plan.block:
        entry, minted = ledger.mint(session, project=project, vintage=int(app["vintage"]), amount=plan.block,
                                    owner_org_id=project.owner_org_id, case_id=pk(case), actor_id=approver_id,
                                    now=now)
        entry.reference = allocation_reference(app["period"], plan.written.root)
        session.add(entry)
        entry_id, serials = entry.id, [minted.serial]
    row = ScenarioAllocation(
        project_id=pk(project), jurisdiction=project.jurisdiction, period=app["period"], case_id=pk(case),
        report_id=int(app["report"]["id"]), vintage=int(app["vintage"]), block_t=plan.block,
        users=plan.written.users, reduction_g=plan.reductions_g,
        allocated_g=sum(r["allocated_g"] for r in plan.rows.values()),
        carry_g=sum(r["carry_out_g"] for r in plan.rows.values()), root=plan.written.root,
        path=str(plan.written.path), sha256=plan.written.sha256, levels_path=str(plan.written.levels_path),
        ledger_entry_id=entry_id, created_at=now, updated_at=now)
    session.add(row)
    audit.append_case(session, held, at=now, actor_id=None, actor_role="system", event="scenario_issued",
                      payload={"block_t": plan.block, "users": plan.written.users, "root": plan.written.root,
                               "ledger_entry_id": entry_id, "serials": serials})
    return row


def run_issue(db: Database, case_id: int, approver_id: int | None = None) -> int:
    """The minting and allocation of an approved period (the `issue_to_users` outbox row's work). Done once:
    the allocation is unique per case, and each step checks for it under the scenario's locks (its file
    lock for the file work, its row lock for the record), so a repeat, a concurrent run or a run after a
    crash answers the allocation already recorded. A crash before the commit leaves files nobody points
    to yet; the next run writes them again and commits. Returns the allocation's id."""
    with db.read() as session:
        done = allocation_of(session, case_id)
        case = session.get(Case, case_id)
        if done is not None or case is None or case.state != scenario_issuance.ISSUED:
            if done is None:
                raise Invalid([reason("scenario_not_approved", case=case_id)])
            return pk(done)
        project = session.get(Project, int(case.application["project_id"]))
        assert project is not None
    with scenario_lock(project.jurisdiction, pk(project), ".issue.lock"):
        for _ in range(ATTEMPTS):
            with db.read() as session:
                if (done := allocation_of(session, case_id)) is not None:
                    return pk(done)
            plan = _plan(db, case, project)
            with db.write() as session:
                # the case first, then the scenario: the order the command path takes them in
                held = records.lock_case(session, records.LOCK_CASE, {"case_id": case_id})
                locked = lock_scenario(session, pk(project))
                if (done := allocation_of(session, case_id)) is not None:
                    return pk(done)
                if _carry_sha(session, pk(project)) != plan.carry_sha:
                    continue  # a correction or another period changed the carry meanwhile: plan again
                assert held is not None
                recorded = _record(session, case, held, locked, plan, approver_id, clock.now())
                session.flush()
                return pk(recorded)
    raise RuntimeError(f"scenario issuance of case {case_id}: the carry kept changing; tried {ATTEMPTS} times")


def allocation_reference(period: str, root: str) -> str:
    """The ledger entry's reference: the allocation's root, so the signed log commits to it."""
    return f"scenario allocation {period} merkle-root {root}"


# --- the periodic campaign ---------------------------------------------------------------------------


SUMMARY_GROUPS = ("batches", "records", "exclusions", "totals")  # the report's figures a case carries


def report_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """The report's scalar figures, and those of its count groups as `group.key` (`records.counted`); each
    has a label `figure.<key>` in the catalogue. The anomalies are counted; the charts stay in the report."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, int | float | str | bool):
            out[key] = value
        elif key in SUMMARY_GROUPS and isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items() if isinstance(v, int | float)})
    if isinstance(figures.get("anomalies"), list):
        out["anomalies"] = len(figures["anomalies"])
    return out


def _report_summary(report: ScenarioReport) -> dict[str, Any]:
    """What the case carries of its report: identity, hashes and the count figures (the charts stay in it)."""
    return {"id": report.id, "digest": report.digest, "users_sha256": report.users_sha256, "engine": report.engine,
            "figures": report_figures(report.figures or {}), "verifier_id": None}


def _verified(db: Database, project_id: int, period: str) -> int:
    """The period's verification report (Ordos art. 15), computed under the scenario's lock: the same inputs
    and parameters give the same report back (services/procedures/scenarios/verification.py)."""
    return pk(verification.run(db, project_id, period, engine="duckdb"))


def _has_case(session: Session, project_id: int, period: str) -> bool:
    return session.exec(select(col(Case.id)).where(
        col(Case.procedure) == NAME, col(Case.project_id) == project_id,
        col(Case.application)["period"].as_string() == period)).first() is not None


def _candidates(db: Database, jurisdiction: str, today: date) -> list[tuple[int, Period]]:
    """(scenario, period) pairs: registered, unsuspended scenarios, each period whose late records can no
    longer come (its end plus the profile's late days is past), that some records batch covers
    (states.scenarios.periods_with_data) and that has no case yet."""
    profile = get_profile(jurisdiction)
    assert profile is not None
    rules = profile.scenarios
    out = []
    with db.read() as session:
        rows = session.exec(select(col(Project.id), col(ScenarioBatch.business_date)).distinct()
                            .join(ScenarioBatch, col(ScenarioBatch.project_id) == col(Project.id))
                            .where(col(Project.jurisdiction) == jurisdiction, col(Project.kind) == "scenario",
                                   col(Project.status) == "registered", col(Project.suspended).is_(False),
                                   col(ScenarioBatch.kind) == "records")
                            .order_by(col(Project.id), col(ScenarioBatch.business_date))).all()
        dates: dict[int, list[date]] = {}
        for project_id, day in rows:
            assert project_id is not None
            dates.setdefault(project_id, []).append(day)
        for project_id, days in dates.items():
            closed = closed_periods(days[0], today - timedelta(days=rules.late_days), rules.period)
            for period in periods_with_data(closed, days, rules.late_days):
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
