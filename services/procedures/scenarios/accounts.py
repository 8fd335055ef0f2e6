"""Individuals' accounts (Ordos arts. 12, 16: scenario reductions belong to the individuals): a lookup
token the enterprise hands each user (only its SHA-256 is stored), their reductions and allocation per
issued period with the inclusion proof, their carbon points (Shanghai art. 16, at the profile's rate) and
transfers of points between individuals where the profile allows them (Shandong 编制说明 二(二): not)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.errors import Invalid, NotFound
from services.procedures.scenarios import allocation as files_of
from services.store.sql import insert_ignore
from services.store.tables import (
    LedgerEntry,
    Project,
    ScenarioAllocation,
    ScenarioLookupToken,
    ScenarioPointTransfer,
)
from services.transparency import log as transparency_log
from states.messages import label, reason
from states.profiles import get_profile
from states.scenarios import PointsPosition, period_points

TOKEN_PREFIX = "spa_"  # scenario personal account


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scenario(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.kind != "scenario":
        raise NotFound.of("scenario")
    return project


def issue_token(session: Session, project: Project, user_id: str, actor_id: int | None, now: Any) -> str:
    """A new lookup token for the user; the previous one (if any) stops working. Shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    row = session.exec(select(ScenarioLookupToken).where(col(ScenarioLookupToken.project_id) == project.id,
                                                         col(ScenarioLookupToken.user_id) == user_id)
                       .with_for_update()).first()
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    row = row or ScenarioLookupToken(project_id=project.id, user_id=user_id, token_sha256="", created_at=now)  # type: ignore[arg-type]
    row.token_sha256, row.created_at, row.created_by = token_hash(token), now, actor_id
    session.add(row)
    return token


def holder_of(session: Session, token: str | None) -> tuple[Project, str]:
    """The scenario and user pseudonym a lookup token opens; 404 for any other token (no oracle)."""
    row = session.exec(select(ScenarioLookupToken).where(
        col(ScenarioLookupToken.token_sha256) == token_hash(token or ""))).first() if token else None
    if row is None:
        raise NotFound([reason("lookup_token_invalid")])
    project = session.get(Project, row.project_id)
    assert project is not None
    return project, row.user_id


def allocations(session: Session, project_id: int) -> list[ScenarioAllocation]:
    return list(session.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.project_id) == project_id)
                             .order_by(col(ScenarioAllocation.period))))


def _rate(project: Project) -> Any:
    profile = get_profile(project.jurisdiction)
    assert profile is not None
    return profile.scenarios


def _cite(project: Project) -> dict[str, str]:
    profile = get_profile(project.jurisdiction)
    assert profile is not None
    return profile.cite("anomalous_data")


def period_rows(session: Session, project: Project, user: str) -> list[dict[str, Any]]:
    """The user's row of every issued period, with the points it earned."""
    rate = _rate(project).points_per_kg
    out = []
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    for a in allocations(session, project.id):  # type: ignore[arg-type]
        found = files_of.user_row(a.path, user)
        if found is None:
            continue
        index, row = found
        awarded, withdrawn = period_points(row["issued_g"], row["allocated_g"], rate)
        out.append({"period": a.period, "leaf_index": index, **row, "points": awarded - withdrawn,
                    "points_awarded": awarded, "points_reversed": withdrawn, "root": a.root,
                    "ledger_entry_id": a.ledger_entry_id})
    return out


def _moved(session: Session, project_id: int, user: str) -> tuple[int, int]:
    t = ScenarioPointTransfer
    out_ = session.exec(select(sa.func.coalesce(sa.func.sum(col(t.points)), 0)).where(
        col(t.project_id) == project_id, col(t.from_user) == user)).one()
    in_ = session.exec(select(sa.func.coalesce(sa.func.sum(col(t.points)), 0)).where(
        col(t.project_id) == project_id, col(t.to_user) == user)).one()
    return int(in_), int(out_)


def position(session: Session, project: Project, user: str, rows: list[dict[str, Any]]) -> PointsPosition:
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    received, sent = _moved(session, project.id, user)  # type: ignore[arg-type]
    return PointsPosition(awarded=sum(r["points_awarded"] for r in rows),
                          reversed=sum(r["points_reversed"] for r in rows), received=received, sent=sent)


def account(session: Session, project: Project, user: str) -> dict[str, Any]:
    rows = period_rows(session, project, user)
    held = position(session, project, user, rows)
    rules, cited = _rate(project), _cite(project)
    return {"scenario": {"id": project.id, "title": project.title, "jurisdiction": project.jurisdiction},
            "user_id": user, "periods": rows, "allocated_g": sum(r["allocated_g"] for r in rows),
            "carry_g": rows[-1]["carry_out_g"] if rows else 0,
            "points": {"awarded": held.awarded, "reversed": held.reversed, "earned": held.earned,
                       "received": held.received, "sent": held.sent, "balance": held.balance,
                       "available": held.available, "owed": held.owed, "per_kg": str(rules.points_per_kg),
                       "transferable": rules.points_transferable,
                       "basis": {"zh": cited["basis_zh"], "en": cited["basis_en"]}}}


def proof(session: Session, project: Project, user: str, period: str) -> dict[str, Any]:
    """The user's inclusion proof in the period's allocation, and the ledger entry that carries the root
    with that entry's own proof in the signed transparency log (once sequenced)."""
    a = session.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.project_id) == project.id,
                                                      col(ScenarioAllocation.period) == period)).first()
    if a is None:
        raise NotFound([reason("scenario_period_not_issued", period=period)])
    found = files_of.user_row(a.path, user)
    if found is None:
        raise NotFound([reason("scenario_user_not_in_period", user=user, period=period)])
    index, row = found
    path = files_of.inclusion(a.levels_path, index, a.users)
    entry = session.get(LedgerEntry, a.ledger_entry_id) if a.ledger_entry_id else None
    # the ignore below: an allocation's ledger entry is read from the database: its id is set
    log = transparency_log.entry_proof(session, entry.id) if entry is not None else None  # type: ignore[arg-type]
    # the ignore below: a registered scenario's project row is read from the database: its id is set
    return {**files_of.proof_view(project.id, period, user, index, a.users, row["allocated_g"], a.root, path),  # type: ignore[arg-type]
            "period": period, "ledger_entry": None if entry is None else
            {"id": entry.id, "reference": entry.reference, "serials": entry.serials},
            "log": log, "log_note": None if log or entry is None else label("log.pending")}


def transfer_points(session: Session, project: Project, sender: str, to_user: str, amount: int, key: str,
                    now: Any) -> dict[str, Any]:
    """Move points to another individual of the scenario: refused where the profile forbids it (Shandong
    编制说明 二(二): 个人所持碳积分暂时不可直接用于市场交易), to oneself, to a stranger, or beyond the balance.
    The same idempotency key answers the first transfer."""
    t = ScenarioPointTransfer
    done = session.exec(select(t).where(col(t.project_id) == project.id, col(t.from_user) == sender,
                                        col(t.idempotency_key) == key)).first()
    if done is not None:
        return transfer_view(done)
    problems = []
    if not _rate(project).points_transferable:
        problems.append(reason("points_not_transferable"))
    if to_user == sender:
        problems.append(reason("points_same_user", field="to_user_id"))
    elif not period_rows(session, project, to_user):
        problems.append(reason("points_unknown_user", field="to_user_id", user=to_user))
    # one sender's transfers one at a time: the balance read below is the one the insert relies on
    lt = ScenarioLookupToken
    session.exec(select(lt.id).where(col(lt.project_id) == project.id, col(lt.user_id) == sender)
                 .with_for_update()).first()
    held = position(session, project, sender, period_rows(session, project, sender))
    if held.owed:  # a correction's withdrawal not yet offset (Ordos art. 11): nothing leaves the account
        problems.append(reason("points_owed", field="points", owed=held.owed, **_cite(project)))
    elif amount > held.available:
        problems.append(reason("points_not_enough", field="points", balance=held.available, asked=amount))
    if problems:
        raise Invalid(problems)
    insert_ignore(session, t, {"project_id": project.id, "from_user": sender, "to_user": to_user, "points": amount,
                               "idempotency_key": key, "at": now})
    row = session.exec(select(t).where(col(t.project_id) == project.id, col(t.from_user) == sender,
                                       col(t.idempotency_key) == key)).one()
    return transfer_view(row)


def transfer_view(row: ScenarioPointTransfer) -> dict[str, Any]:
    return {"id": row.id, "from_user_id": row.from_user, "to_user_id": row.to_user, "points": row.points,
            "at": row.at.isoformat()}


def statistics(session: Session, project: Project) -> list[dict[str, Any]]:
    """Public figures per issued period: participants, reductions, the block, the allocation root — no
    personal data (Shanghai art. 22)."""
    return [{"period": a.period, "participants": a.users, "reduction_g": a.reduction_g, "block_t": a.block_t,
             "allocated_g": a.allocated_g, "carry_g": a.carry_g, "corrected_g": a.corrected_g, "root": a.root,
             # the ignore below: a registered scenario's project row is read from the database: its id is set
             "ledger_entry_id": a.ledger_entry_id} for a in allocations(session, project.id)]  # type: ignore[arg-type]
