"""Ordos art. 11 (对异常数据获得的减排量予以核减): an evaluation finds a scenario's data anomalous; the
reductions computed from it are reversed per user, the period allocated again (states/scenarios.correct),
and the ledger corrected: the units the smaller block no longer covers are cancelled from the enterprise's
holding account by an entry citing the finding. Refused, with every reason, when the units are no longer
there (moved or retired: a correction never reaches into another's account) or a reversal exceeds what a
user has. One correction per (period, evaluation): repeating it answers the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from forms.scenarios import Correction
from services.engine.errors import Invalid, NotFound
from services.procedures import ledger
from services.procedures.scenarios import allocation as files_of
from services.procedures.scenarios.files import sha256_file
from services.procedures.scenarios.issuance import current_carry, lock_scenario, replace_carry
from services.store.tables import Evaluation, ScenarioAllocation, ScenarioCorrection, pk
from states.messages import Reason, reason, text
from states.profiles import get_profile
from states.scenarios import GRAMS_PER_TONNE, Corrected, correct


def view(row: ScenarioCorrection) -> dict[str, Any]:
    return {"id": row.id, "scenario_id": row.project_id, "period": row.period, "evaluation_id": row.evaluation_id,
            "users": row.users, "reversed_g": row.reversed_g, "cancelled_t": row.cancelled_t,
            "carried_g": row.carried_g, "old_root": row.old_root, "new_root": row.new_root,
            "ledger_entry_id": row.ledger_entry_id, "reason": row.reason, "at": row.at.isoformat()}


def _finding(session: Session, project_id: int, evaluation_id: int) -> list[Reason]:
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is None or evaluation.project_id != project_id:
        return [reason("scenario_evaluation_unknown", field="evaluation_id", evaluation=evaluation_id)]
    if not any(f.get("category") == "data_anomaly" for f in evaluation.findings):
        return [reason("scenario_evaluation_no_anomaly", field="evaluation_id", evaluation=evaluation_id)]
    return []


def _allocation(session: Session, project_id: int, period: str) -> ScenarioAllocation | None:
    return session.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.project_id) == project_id,
                                                         col(ScenarioAllocation.period) == period)).first()


def _plan(session: Session, a: ScenarioAllocation, body: Correction) -> tuple[Corrected, dict[str, dict[str, int]],
                                                                               dict[str, int]]:
    if sha256_file(Path(a.path)) != a.sha256:
        raise Invalid([reason("scenario_file_changed", what="allocation")])
    rows = files_of.read_users(a.path)
    carry = current_carry(session, a.project_id)
    reductions = {u: r["reduction_g"] - r["reversed_g"] for u, r in rows.items() if r["reduction_g"] > r["reversed_g"]}
    requested: dict[str, int | None] = {}
    for u in body.users:
        requested[u.user_id] = u.reduction_g
    corrected, problems = correct(reductions, {u: r["allocated_g"] for u, r in rows.items()}, carry, requested)
    if corrected is None:
        raise Invalid([reason(code, field="users", **params) for code, params in problems])
    return corrected, rows, carry


def apply(session: Session, project_id: int, body: Correction, actor_id: int | None, now: Any) -> dict[str, Any]:
    project = lock_scenario(session, project_id)
    if project.kind != "scenario":
        raise NotFound.of("scenario")
    a = _allocation(session, project_id, body.period)
    problems = _finding(session, project_id, body.evaluation_id)
    if a is None:
        problems.append(reason("scenario_period_not_issued", field="period", period=body.period))
    if problems:
        raise Invalid(problems)
    assert a is not None
    done = session.exec(select(ScenarioCorrection).where(col(ScenarioCorrection.allocation_id) == a.id,
                                                         col(ScenarioCorrection.evaluation_id) == body.evaluation_id)
                        ).first()
    if done is not None:
        return view(done)
    corrected, rows, carry = _plan(session, a, body)
    cancel_t = a.allocated_g // GRAMS_PER_TONNE - corrected.block
    account = ledger.account_for(session, project.jurisdiction, project.owner_org_id, now)
    held = ledger.balance(session, pk(account), project_id, a.vintage)
    if cancel_t > held:
        raise Invalid([reason("scenario_units_gone", held=held, asked=cancel_t)])
    profile = get_profile(project.jurisdiction)
    assert profile is not None
    cited = profile.cite("anomalous_data")
    said = text("text.scenario_correction", evaluation=body.evaluation_id, period=body.period, reason=body.reason,
                basis_zh=cited.get("basis_zh", ""), basis_en=cited.get("basis_en", ""))
    count = len(session.exec(select(ScenarioCorrection.id).where(col(ScenarioCorrection.allocation_id) == a.id)).all())
    name = f"{a.period}-case{a.case_id}-correction{count + 1}"
    for user, row in rows.items():
        row["allocated_g"] = corrected.allocated.get(user, 0)
        row["reversed_g"] += corrected.reversed.get(user, 0)
        row["carry_out_g"] += corrected.carry_delta.get(user, 0)
    written = files_of.write(project.jurisdiction, project_id, a.period, name, rows)
    new_carry = {u: carry.get(u, 0) + corrected.carry_delta.get(u, 0) for u in {*carry, *corrected.carry_delta}}
    replace_carry(session, project, name, new_carry, now)
    entry_id = None
    if cancel_t:
        entry = ledger.cancel(session, jurisdiction=project.jurisdiction, account_id=pk(account), amount=cancel_t,
                              project_id=project_id, vintage=a.vintage, actor_id=actor_id, now=now,
                              reference=f"correction {a.period} evaluation #{body.evaluation_id} "
                                        f"merkle-root {written.root}")
        entry_id = entry.id
    done_now = ScenarioCorrection(
        project_id=project_id, allocation_id=pk(a), evaluation_id=body.evaluation_id, period=a.period,
        users=len(corrected.reversed), reversed_g=sum(corrected.reversed.values()), cancelled_t=cancel_t,
        carried_g=sum(corrected.carry_delta.values()), old_root=a.root, new_root=written.root, path=str(written.path),
        sha256=written.sha256, ledger_entry_id=entry_id, reason=said.zh + " / " + said.en, actor_id=actor_id, at=now)
    session.add(done_now)
    a.root, a.path, a.sha256, a.levels_path = written.root, str(written.path), written.sha256, str(written.levels_path)
    a.allocated_g, a.updated_at = corrected.block * GRAMS_PER_TONNE, now
    a.corrected_g += done_now.reversed_g
    a.carry_g = sum(r["carry_out_g"] for r in rows.values())
    session.add(a)
    session.flush()
    return view(done_now)
