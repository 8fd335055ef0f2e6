"""Pydantic validation errors as bilingual reasons (every error, not only the first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from states.messages import CATALOGUE, VALIDATION_ZH, BilingualError, Reason, reason, text


def _loc(loc: Sequence[Any], prefix: str | None) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    if prefix:
        parts.insert(0, prefix)
    return ".".join(parts) or "body"


def reason_from_error(err: Mapping[str, Any], prefix: str | None = None) -> Reason:
    kind = err.get("type", "value_error")
    en = str(err.get("msg", ""))
    ctx = dict(err.get("ctx") or {})
    if kind in ("value_error", "assertion_error"):
        said = str(ctx.get("error", en))
        said = said.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if BilingualError.SEPARATOR in said:
            zh, en = said.split(BilingualError.SEPARATOR, 1)
            return Reason(code=kind, zh=zh, en=en, field=_loc(err.get("loc", ()), prefix))
        en = said
    if kind not in VALIDATION_ZH and f"reason.{kind}" in CATALOGUE:  # a form's own error (PydanticCustomError)
        return reason(kind, field=_loc(err.get("loc", ()), prefix), **ctx)
    template = VALIDATION_ZH.get(kind)
    try:
        zh = template.format(**ctx) if template else text("text.invalid_input", error=en).zh
    except (KeyError, IndexError):
        zh = text("text.invalid_input", error=en).zh
    return Reason(code=kind, zh=zh, en=en, field=_loc(err.get("loc", ()), prefix))


def reasons_from_errors(errors: Iterable[Mapping[str, Any]], prefix: str | None = None) -> list[Reason]:
    return [reason_from_error(e, prefix) for e in errors]


def reasons_from_validation(exc: ValidationError, prefix: str | None = None) -> list[Reason]:
    return reasons_from_errors(exc.errors(include_url=False), prefix)
