"""Errors a command raises; the API turns each into its status code (DESIGN §6)."""

from __future__ import annotations

from typing import Any

from states.messages import Reason, reason


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
    def of(cls, what_zh: str, what_en: str) -> NotFound:
        return cls([reason("not_found", what=what_zh, what_en=what_en)])


class Conflict(CommandError):
    status, code = 409, "conflict"


class Invalid(CommandError):
    status, code = 422, "invalid"
