"""Mounting the web application on the FastAPI app: `mount(app)` adds the pages, the static files,
the page-aware error handlers and the security headers."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.edge import is_page as is_page_path
from services.engine.errors import CommandError
from services.engine.forms_errors import reasons_from_errors
from services.web.deps import PUBLIC_CSRF_COOKIE, SignInRequired
from services.web.pages import render
from states.messages import reason

STATIC = Path(__file__).with_name("static")
PAGE_REASONS = {404: "http.page_not_found", 405: "http.method_not_allowed", 413: "http.too_large"}


def is_page(request: Request) -> bool:
    return is_page_path(request.url.path)


def error_page(request: Request, status: int, reasons: list[dict[str, Any]]) -> Response:
    return render(request, "error.html", status_code=status, status=status, reasons=reasons)


def _install_errors(app: FastAPI) -> None:
    """Pages get pages, the API keeps its JSON: each handler asks which one the request is."""
    json_handlers = dict(app.exception_handlers)

    async def as_json(kind: type[Exception], request: Request, exc: Exception) -> Response:
        answer = json_handlers[kind](request, exc)
        return answer if isinstance(answer, Response) else await answer

    async def command(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await as_json(CommandError, request, exc)
        assert isinstance(exc, CommandError)
        return error_page(request, exc.status, [r.as_dict() for r in exc.reasons])

    async def http(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await as_json(StarletteHTTPException, request, exc)
        assert isinstance(exc, StarletteHTTPException)
        said = reason(PAGE_REASONS.get(exc.status_code, "http.bad_request"), detail=str(exc.detail))
        return error_page(request, exc.status_code, [{"zh": said.zh, "en": said.en}])

    async def validation(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await as_json(RequestValidationError, request, exc)
        assert isinstance(exc, RequestValidationError)
        return error_page(request, 422, [r.as_dict() for r in reasons_from_errors(exc.errors())])

    async def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        target = f"/login?next={quote(exc.next_path, safe='')}" + ("&expired=1" if exc.expired else "")
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(CommandError, command)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(SignInRequired, sign_in)


def _install_middleware(app: FastAPI) -> None:
    """The public's CSRF cookie (the security headers of every response are `services.api.edge`'s)."""

    @app.middleware("http")
    async def public_csrf(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not is_page(request):
            return await call_next(request)
        new_token = None
        if PUBLIC_CSRF_COOKIE not in request.cookies:  # double-submit token for the public's forms
            new_token = secrets.token_urlsafe(24)
        request.state.public_csrf = request.cookies.get(PUBLIC_CSRF_COOKIE) or new_token
        response = await call_next(request)
        if new_token:
            response.set_cookie(PUBLIC_CSRF_COOKIE, new_token, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        return response


def mount(app: FastAPI) -> None:
    from services.web.routes import routers

    for router in routers():
        app.include_router(router)
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")
    _install_errors(app)
    _install_middleware(app)

