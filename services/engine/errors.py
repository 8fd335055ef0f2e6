"""Errors a command raises; the API turns each into its status code (DESIGN §6)."""

from __future__ import annotations

from typing import Any

from states.messages import Reason, reason, text


class CommandError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, reasons: list[Reason], **extra: Any) -> None:
        super().__init__("; ".join(r.en for r in reasons))
        self.reasons = reasons
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code,
                          "reasons": [r.as_dict() for r in self.reasons], **self.extra}}


class Unauthenticated(CommandError):
    status, code = 401, "unauthenticated"


class Forbidden(CommandError):
    status, code = 403, "forbidden"


class NotFound(CommandError):
    status, code = 404, "not_found"

    @classmethod
    def of(cls, noun: str, what_en: str | None = None) -> NotFound:
        """404 naming what was not found: `of("case")` reads the catalogue's `noun.case`. (The two-string
        form is the API routes' and read models' until their own strings move to the catalogue.)"""
        what = text(f"noun.{noun}") if what_en is None else (noun, what_en)
        return cls([reason("not_found", what=what[0], what_en=what[1])])


class Conflict(CommandError):
    status, code = 409, "conflict"


class Invalid(CommandError):
    status, code = 422, "invalid"
