"""What the API answers besides its models: the one error shape (DESIGN §6) and the error statuses each
route declares, so that the OpenAPI document tells clients every answer they can get."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReasonPublic(BaseModel):
    """One reason a request failed, in both languages."""

    code: str = Field(description="Stable, for programs: `role_required`, `missing`, `stale_version`…")
    zh: str
    en: str
    field: str | None = Field(None, description="The input it is about (a dotted path); absent when none")


class ErrorBody(BaseModel):
    # a refusal may carry what the client needs to do better (the allowed actions, the current version…)
    model_config = ConfigDict(extra="allow")

    status: int = Field(description="The HTTP status again")
    code: str = Field(description="unauthenticated | forbidden | not_found | conflict | invalid | too_large | "
                                  "rate_limited | http | …")
    reasons: list[ReasonPublic] = Field(description="Every reason, not only the first")
    allowed_actions: list[str] | None = Field(None, description="409/422 on an action: what may be fired now")
    state: str | None = Field(None, description="409 on an action: the case's state")
    current_version: int | None = Field(None, description="409 stale version: the case's version now")
    holder: str | None = Field(None, description="A task held by someone else: who")
    retry_after: int | None = Field(None, description="429: seconds to wait (also the Retry-After header)")
    dates: list[str] | None = Field(None, description="422 on a calendar load: the days outside the year")


class ErrorPublic(BaseModel):
    """Every error the API answers: `{"error": {"status", "code", "reasons": [{"code", "zh", "en", "field"?}]}}`."""

    error: ErrorBody


WHY = {
    401: "No valid bearer token",
    403: "The token's holder may not do this",
    404: "Not found, or not the caller's to see",
    409: "In conflict with the current state: an illegal transition, a stale If-Match version, or the same "
         "Idempotency-Key still running",
    413: "The body is larger than the route accepts",
    422: "The input, a form or a rule failed: every reason, in Chinese and English",
    429: "Too many attempts: wait as Retry-After says",
    503: "A service the answer depends on is unavailable",
}


def errors(*statuses: int, text: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: these error statuses, each with the error shape. `text`: the route
    answers text, so its errors' JSON is named here (FastAPI would file the model under text/plain)."""
    if text:
        return {status: {"description": WHY[status], "content": {"application/json": {"schema": {
            "$ref": f"#/components/schemas/{ErrorPublic.__name__}"}}}} for status in statuses}
    return {status: {"model": ErrorPublic, "description": WHY[status]} for status in statuses}


def file(*media_types: str, description: str = "The file") -> dict[int | str, dict[str, Any]]:
    """A 200 that answers bytes of these media types (a download, a PDF, a CSV)."""
    return {200: {"description": description,
                  "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}}}


def json_body(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """`openapi_extra` of a route that reads its JSON object body itself (an action's form is chosen by the
    trigger, not the route)."""
    return {"requestBody": {"required": False, "description": description, "content": {
        "application/json": {"schema": schema or {"type": "object", "additionalProperties": True}}}}}
