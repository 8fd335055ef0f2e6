"""What a sweep's batch reads for all of its cases at once, so that the commands it fires find it
without a round trip each: the cases' open notices (a publicity period closing) and open objections
(the rule that a case with an open objection may not be registered).

An entry serves a case's first command in the transaction only: once a command has run on a case,
the batch forgets that case (its rows may have changed) and later commands query as usual.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from services.store import unit_of_work
from services.store.tables import Notice, Objection

KEY = "carbon.preloaded"


def load(session: Session, case_ids: list[int]) -> None:
    notices: dict[int, list[Notice]] = defaultdict(list)
    for notice in session.exec(select(Notice).where(col(Notice.case_id).in_(case_ids), Notice.status == "open")):
        notices[notice.case_id].append(notice)
    objections: dict[int, list[int | None]] = defaultdict(list)
    for case_id, objection_id in session.exec(select(col(Objection.case_id), col(Objection.id)).where(
            col(Objection.case_id).in_(case_ids), col(Objection.status) == "open")):
        objections[case_id].append(objection_id)
    unit_of_work.of(session).memo[KEY] = {"cases": set(case_ids), "notices": notices, "objections": objections}


def get(session: Session, what: str, case_id: int) -> list[Any] | None:
    """The case's preloaded `notices` or `objections`; None when they were not preloaded."""
    loaded = unit_of_work.of(session).memo.get(KEY)
    if loaded is None or case_id not in loaded["cases"]:
        return None
    return list(loaded[what].get(case_id, ()))


def forget(session: Session, case_id: int) -> None:
    loaded = unit_of_work.of(session).memo.get(KEY)
    if loaded is not None:
        loaded["cases"].discard(case_id)
