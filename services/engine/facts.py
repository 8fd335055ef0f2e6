"""The facts rules ask about a case (states.spec.Facts) come from the procedures' reads, provided to the
engine in bootstrap: the engine itself knows no procedure's tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from services.store.records import AnyCase
from states.spec import Facts

FactsFor = Callable[[Session, AnyCase, dict[str, Any]], Facts]
_provider: list[FactsFor] = []


def provide(facts_for: FactsFor) -> None:
    _provider[:] = [facts_for]


def facts(session: Session, case: AnyCase, application: dict[str, Any]) -> Facts:
    if not _provider:
        raise LookupError("no facts provider: services/bootstrap.py wires it")
    return _provider[0](session, case, application)
