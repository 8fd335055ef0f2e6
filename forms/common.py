"""Field types shared by every form: validated once, here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from states.messages import BilingualError, text

# GB 32100-2015 统一社会信用代码: 18 characters from this 31-letter alphabet (no I, O, Z, S, V);
# the 18th is a check character over the first 17 with these weights (mod 31).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _valid_uscc(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 18:
        raise BilingualError.of("uscc_length")
    bad = sorted({c for c in code if c not in USCC_ALPHABET})
    if bad:
        raise BilingualError.of("uscc_characters", characters="".join(bad))
    if uscc_check_char(code[:17]) != code[17]:
        raise BilingualError.of("uscc_check")
    return code


USCC = Annotated[str, AfterValidator(_valid_uscc)]

# Dates people enter (project periods, monitoring periods, accreditation, parameter sources) lie in
# this range: 1990 is the base year of reduction accounting (Kyoto), older than any methodology's data
# source; vintages stop at 2100 (the forms' `vintage` bound), and so may a crediting period. Outside
# it a date is a typo (0001-01-01, 9999-12-31) that would overflow working-day arithmetic downstream.
EARLIEST, LATEST = date(1990, 1, 1), date(2100, 12, 31)


def _plausible(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise PydanticCustomError("date_out_of_range", "Dates must lie between {earliest} and {latest}",
                                  {"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()})
    return value


def _unsigned(value: Decimal) -> Decimal:
    """Decimal keeps the sign of zero: "-0" and "-0.000" pass `ge=0` and would print as -0 on a
    certificate. An amount carries no sign at all."""
    if value.is_signed():
        raise PydanticCustomError("negative_zero", "An amount may not carry a minus sign (-0)")
    return value


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


Day = Annotated[date, AfterValidator(_plausible)]
Unsigned = AfterValidator(_unsigned)
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Reasoning = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)]
# Tonnes of CO2 equivalent: non-negative, at most 3 decimal places (kg precision), below 10^12.
Tonnes = Annotated[Decimal, Field(ge=0, lt=Decimal(10) ** 12, decimal_places=3), Unsigned]


class Form(BaseModel):
    """Base of every form: unknown fields are an error, not silently dropped; no text holds a NUL
    (PostgreSQL cannot store one, and no person types one: the request layer refuses it first)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if _has_nul(value):
            raise PydanticCustomError("nul_character", "The text contains a forbidden control character (NUL)")
        return value


class Empty(Form):
    """Actions that carry nothing but the fact they happened (e.g. a timer firing)."""


class Note(Form):
    comments: Comment = ""


def ordered_dates(start: date | None, end: date | None, period: str) -> None:
    """The period (the catalogue's `period.<period>`) may not end before it starts."""
    if start and end and end < start:
        what = text(f"period.{period}")
        raise BilingualError.of("dates_ordered", what_zh=what.zh, what_en=what.en)
