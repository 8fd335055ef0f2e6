"""Applying declared effects (states.effects) by their type.

Procedure modules provide the handlers; `services/bootstrap.py` registers each with its effect type in
one place (`register(Mint, issuance.mint)`, checked by mypy: a handler takes the context and its own
effect type). The engine imports no procedure: it only looks handlers up here. An effect may also
register a preview: how the application would stand after it, so the rules judge the result (an edit
is checked whole before it is applied)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from services.engine.context import Ctx
from states.effects import Effect
from states.spec import ProcedureSpec

E = TypeVar("E", bound=Effect)
Handler = Callable[[Ctx, E], None]
Preview = Callable[[dict[str, Any], BaseModel, ProcedureSpec], dict[str, Any]]

_HANDLERS: dict[type[Effect], Callable[[Ctx, Any], None]] = {}
_PREVIEWS: dict[type[Effect], Preview] = {}


def register(effect: type[E], handler: Handler[E], *, preview: Preview | None = None) -> None:
    _HANDLERS[effect] = handler
    if preview is not None:
        _PREVIEWS[effect] = preview


def apply(ctx: Ctx, effect: Effect) -> None:
    handler = _HANDLERS.get(type(effect))
    if handler is None:
        raise LookupError(f"no handler for {type(effect).__name__}: services/bootstrap.py registers them")
    handler(ctx, effect)


def preview(application: dict[str, Any], effects: Iterable[Effect], form: BaseModel, spec: ProcedureSpec
            ) -> dict[str, Any]:
    """The application as the arrow's effects would leave it (for the rules to judge before anything runs)."""
    for effect in effects:
        previewed = _PREVIEWS.get(type(effect))
        if previewed is not None:
            application = previewed(application, form, spec)
    return application


def unhandled(declared: Iterable[Effect]) -> list[str]:
    """Effect types declared without a handler (checked at start-up)."""
    return sorted({type(e).__name__ for e in declared if type(e) not in _HANDLERS})
