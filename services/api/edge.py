"""What every request and response passes on the way in and out, around the whole application (even
its 500 handler), in this order:

1. the trusted proxy (`TRUSTED_PROXIES`, comma-separated addresses or CIDRs; default none): only a
   request from one of them may set the scheme (`X-Forwarded-Proto`) and the client's address
   (`X-Forwarded-For`), with uvicorn's own middleware. Behind a TLS-terminating proxy the request is
   then https, so cookies get `Secure` and responses HSTS;
2. the security headers, on every response: pages, the API's JSON, /docs, static files, errors;
3. the request guard: a body larger than its route's limit is refused with 413 before it is read (by
   its Content-Length; without one, as soon as the bytes streamed pass the limit); a NUL character in
   the query string, a JSON body or a posted form is refused with 422, naming the field (PostgreSQL
   cannot store one, and no person types one). An upload's text fields are checked by
   `services.web.deps.checked_form`, its file name by `services.procedures.documents.check`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.api.body import MAX_BODY
from services.procedures import documents
from services.procedures.scenarios import files as scenario_files
from services.web.pages import render
from states.messages import Reason, reason

PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'")
# Swagger UI: its script and its init script are files of ours (no inline script); it fetches
# /openapi.json and draws its icons as data: images.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"
NOT_PAGES = ("/openapi.json", "/docs", "/healthz", "/livez", "/readyz", "/metrics")
UPLOADS = re.compile(r"^(?:/api/v1)?/cases/[^/]+/documents/?$")
SCENARIO_UPLOADS = re.compile(r"^(?:/api/v1)?/scenarios/[^/]+/(?:records|consents)/?$")  # a day's data file
MULTIPART_ALLOWANCE = 64 * 1024  # the form's boundaries, part headers, CSRF token and file name


def is_page(path: str) -> bool:
    """A page of the web application (HTML, its error pages), as against the API, /docs and static files."""
    return not (path.startswith(("/api/", "/static/")) or path in NOT_PAGES)


def body_limit(path: str) -> int:
    """A document upload may carry a whole document, a scenario's batch a day's records (streamed to disk);
    anything else is a form or a JSON object."""
    if SCENARIO_UPLOADS.match(path):
        return scenario_files.MAX_BYTES + MULTIPART_ALLOWANCE
    return documents.MAX_BYTES + MULTIPART_ALLOWANCE if UPLOADS.match(path) else MAX_BODY


def security_headers(path: str, https: bool) -> dict[str, str]:
    policy = PAGE_CSP if is_page(path) else DOCS_CSP if path == "/docs" else API_CSP
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
               "Content-Security-Policy": policy}
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def refusal(scope: Scope, status: int, reasons: list[Reason]) -> Response:
    """The error page for a page, the API's JSON error otherwise (the same shapes as services.api.errors)."""
    if is_page(scope["path"]):
        return render(Request(scope), "error.html", status_code=status, status=status,
                      reasons=[r.as_dict() for r in reasons])
    code = {413: "too_large", 422: "invalid"}.get(status, "bad_request")
    return JSONResponse({"error": {"status": status, "code": code, "reasons": [r.as_dict() for r in reasons]}},
                        status_code=status)


def _label(name: str) -> str:
    return name.replace("\x00", "\\0")[:100] or "body"


def nul_fields(value: Any, path: str = "") -> list[str]:
    """The fields (dotted paths) of a parsed JSON value whose text or name holds a NUL."""
    if isinstance(value, str):
        return [_label(path)] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += [_label(where)] if "\x00" in str(key) else nul_fields(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += nul_fields(item, f"{path}.{i}" if path else str(i))
    return found


def _pairs_with_nul(text: str) -> list[str]:
    return [_label(name) for name, value in parse_qsl(text, keep_blank_values=True, errors="replace")
            if "\x00" in name or "\x00" in value]


def _body_nul_fields(content_type: str, raw: bytes) -> list[str]:
    if b"\x00" not in raw and b"\\u0000" not in raw and b"%00" not in raw:
        return []  # the common case: nothing to parse twice
    if content_type == "application/x-www-form-urlencoded":
        return _pairs_with_nul(raw.decode("latin-1"))
    try:  # JSON, whatever the declared type (FastAPI reads a body without one as JSON, and so does body.py)
        return nul_fields(json.loads(raw, strict=False))
    except (ValueError, RecursionError):  # not JSON, or too deep: the route says why, unless a NUL is raw
        return ["body"] if b"\x00" in raw else []


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse_too_large(scope, receive, send, limit)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        fields = ["query." + f for f in _pairs_with_nul(query)] if "%00" in query or "\x00" in query else []
        if fields:
            await refusal(scope, 422, [reason("nul_character", field=f) for f in fields])(scope, receive, send)
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type.startswith("multipart/"):  # an upload: streamed, its text fields checked by the form
            await self._streamed(scope, receive, send, limit)
            return
        await self._buffered(scope, receive, send, limit, content_type)

    async def _refuse_too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = f"{limit / 1024 / 1024:.1f} MiB"
        await refusal(scope, 413, [reason("body_too_large", limit=size)])(scope, receive, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A body without (or under) its Content-Length is counted as the app reads it: one chunk past
        the limit, the 413 goes out from here and the app is told the client left (whatever it does
        next is dropped), so that no middleware or parser in between can turn the refusal into a 500."""
        size, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal size, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit and not started:
                    refused = True
                    await self._refuse_too_large(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if not refused:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise

    async def _buffered(self, scope: Scope, receive: Receive, send: Send, limit: int, content_type: str) -> None:
        """Anything but an upload is a JSON object or a form, small: read it whole (up to the limit), look
        for NULs, replay it."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self._refuse_too_large(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        fields = _body_nul_fields(content_type, raw)
        if fields:
            await refusal(scope, 422, [reason("nul_character", field=f) for f in fields])(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(scope["path"], scope.get("scheme") == "https")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower(): v for k, v in message.get("headers", [])}
                skip = set(present)
                if present.get(b"content-type", b"").startswith(b"application/pdf"):
                    skip.add(b"content-security-policy")  # Chrome's PDF viewer draws nothing under one
                extra = [(k.lower().encode(), v.encode()) for k, v in wanted.items() if k.lower().encode() not in skip]
                message["headers"] = [*message.get("headers", []), *extra]  # a route's own (e.g. sandbox) wins
            await send(message)

        await self.app(scope, receive, with_headers)


def wrap(app: ASGIApp, trusted_proxies: str) -> ASGIApp:
    """`app` inside the edge: proxy, then headers, then the guard (the outermost first)."""
    guarded = SecurityHeaders(RequestGuard(app))
    hosts = [h.strip() for h in trusted_proxies.split(",") if h.strip()]
    # the ignore below: uvicorn's middleware is typed for its own ASGI protocol, starlette's for another
    return ProxyHeadersMiddleware(guarded, trusted_hosts=hosts) if hosts else guarded  # type: ignore[arg-type,return-value]

