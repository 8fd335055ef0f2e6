"""Every error is JSON with its reasons in Chinese and English (DESIGN §6). No 500 for bad input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from services.engine.errors import CommandError
from services.engine.forms_errors import reasons_from_errors
from states.messages import Reason, reason

log = logging.getLogger("carbon.api")

HTTP_REASONS = {404: "http.not_found", 405: "http.method_not_allowed", 413: "http.too_large"}


def _clean(value: Any) -> Any:
    """Input echoed into a reason may hold lone surrogates, which UTF-8 cannot carry: replace them."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _invalid(said: Reason) -> JSONResponse:
    return JSONResponse({"error": {"status": 422, "code": "invalid", "reasons": [said.as_dict()]}}, status_code=422)


def install(app: FastAPI) -> None:
    @app.exception_handler(CommandError)
    async def _command(_: Request, exc: CommandError) -> JSONResponse:
        wait = exc.extra.get("retry_after")  # a throttle's refusal says how long, in the header too
        return JSONResponse(_clean(exc.body()), status_code=exc.status,
                            headers={"Retry-After": str(wait)} if wait else None)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # an identifier or a date beyond what the database (or the calendar) can hold
        return _invalid(reason("out_of_range", error=exc))

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return _invalid(reason("out_of_range.database"))

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, OverflowError | ValueError):
            return _invalid(reason("out_of_range.value", error=exc.orig))
        return await _unexpected(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [r.as_dict() for r in reasons_from_errors(exc.errors())]
        return JSONResponse(_clean({"error": {"status": 422, "code": "invalid", "reasons": reasons}}),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        said = reason(HTTP_REASONS.get(exc.status_code, "http.bad_request"), detail=str(exc.detail))
        return JSONResponse({"error": {"status": exc.status_code, "code": "http", "reasons": [said.as_dict()]}},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, ClientDisconnect):  # the client left, or the edge cut its body off: nothing to log
            return JSONResponse({}, status_code=400)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"status": 500, "code": "internal", "reasons": [reason("internal").as_dict()]}},
                            status_code=500)

    app.add_exception_handler(Exception, _unexpected)
