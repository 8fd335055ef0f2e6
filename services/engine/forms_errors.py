"""Pydantic validation errors as bilingual reasons (every error, not only the first)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from states.messages import CATALOGUE, VALIDATION_ZH, BilingualError, Reason, joined, reason, text


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
    field = _loc(err.get("loc", ()), prefix)
    # what people typed, said plainly: an empty required text is "required", not "at least 1 character";
    # a value off a list is "choose one of the listed options", not the library's literal list
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return replace(reason("required_field", field=field), code=kind)
    if kind in ("literal_error", "enum"):
        values = re.findall(r"'([^']*)'|(\d+)", str(ctx.get("expected", "")))
        names = [CATALOGUE.get(f"choice.{a or b}", (a or b, a or b)) for a, b in values]
        allowed = joined(names)
        return replace(reason("choose_listed", field=field, allowed_zh=allowed.zh, allowed_en=allowed.en), code=kind)
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
