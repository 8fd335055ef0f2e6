"""Numbers handed out in sequence per jurisdiction, year and kind (registration numbers, certificate
numbers): a locked counter row, so two commands never take the same number."""

from __future__ import annotations

from sqlmodel import Session, select

from services.store import unit_of_work
from services.store.sql import insert_ignore
from services.store.tables import RegistrationCounter

MEMO_KEY = "carbon.counters"


def next_number(session: Session, jurisdiction: str, year: int, kind: str) -> int:
    """The next number of the year's sequence; the counter stays locked until the transaction ends and
    is read once a transaction (a sweep's batch registers many subjects under one lock)."""
    counters = unit_of_work.of(session).memo.setdefault(MEMO_KEY, {})
    key = (jurisdiction, year, kind)
    if key not in counters:
        # the first number of a year creates the counter: race-free, then lock it
        insert_ignore(session, RegistrationCounter, {"jurisdiction": jurisdiction, "year": year, "kind": kind,
                                                     "last": 0}, key="year")
        counters[key] = session.exec(select(RegistrationCounter).where(
            RegistrationCounter.jurisdiction == jurisdiction, RegistrationCounter.year == year,
            RegistrationCounter.kind == kind).with_for_update()).one()
    counter = counters[key]
    counter.last += 1
    session.add(counter)
    last: int = counter.last
    return last
