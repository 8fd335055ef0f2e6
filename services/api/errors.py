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

log = logging.getLogger("carbon.api")

HTTP_REASONS = {
    404: ("未找到请求的资源", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    413: ("请求体过大", "Request body too large"),
}


def _clean(value: Any) -> Any:  # noqa: ANN401
    """Input echoed into a reason may hold lone surrogates, which UTF-8 cannot carry: replace them."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _invalid(zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": {"status": 422, "code": "invalid", "reasons": [
        {"code": "out_of_range", "zh": zh, "en": en}]}}, status_code=422)


def install(app: FastAPI) -> None:
    @app.exception_handler(CommandError)
    async def _command(_: Request, exc: CommandError) -> JSONResponse:
        wait = exc.extra.get("retry_after")  # a throttle's refusal says how long, in the header too
        return JSONResponse(_clean(exc.body()), status_code=exc.status,
                            headers={"Retry-After": str(wait)} if wait else None)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # an identifier or a date beyond what the database (or the calendar) can hold
        return _invalid("数值或日期超出允许范围", f"A number or date is out of range: {exc}")

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return _invalid("数值超出数据库允许范围", "A number is out of the range the database holds")

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, OverflowError | ValueError):
            return _invalid("数值或日期超出允许范围", f"A value is out of range: {exc.orig}")
        return await _unexpected(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [r.as_dict() for r in reasons_from_errors(exc.errors())]
        return JSONResponse(_clean({"error": {"status": 422, "code": "invalid", "reasons": reasons}}),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        zh, en = HTTP_REASONS.get(exc.status_code, ("请求错误", str(exc.detail)))
        return JSONResponse({"error": {"status": exc.status_code, "code": "http",
                                       "reasons": [{"code": "http", "zh": zh, "en": en}]}},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, ClientDisconnect):  # the client left, or the edge cut its body off: nothing to log
            return JSONResponse({}, status_code=400)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"status": 500, "code": "internal", "reasons": [
            {"code": "internal", "zh": "服务器内部错误，已记录", "en": "Internal error; it has been logged"}]}},
            status_code=500)

    app.add_exception_handler(Exception, _unexpected)
