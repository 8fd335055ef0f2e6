"""Every error is JSON with its reasons in Chinese and English (DESIGN §6). No 500 for bad input."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import CommandError
from services.forms_errors import reasons_from_errors

log = logging.getLogger("carbon.api")

HTTP_REASONS = {
    404: ("未找到请求的资源", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    413: ("请求体过大", "Request body too large"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(CommandError)
    async def _command(_: Request, exc: CommandError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [r.as_dict() for r in reasons_from_errors(exc.errors())]
        return JSONResponse({"error": {"status": 422, "code": "invalid", "reasons": reasons}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        zh, en = HTTP_REASONS.get(exc.status_code, ("请求错误", str(exc.detail)))
        return JSONResponse({"error": {"status": exc.status_code, "code": "http",
                                       "reasons": [{"code": "http", "zh": zh, "en": en}]}},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"status": 500, "code": "internal", "reasons": [
            {"code": "internal", "zh": "服务器内部错误，已记录", "en": "Internal error; it has been logged"}]}},
            status_code=500)
