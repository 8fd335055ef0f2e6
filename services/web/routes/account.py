"""Signing in and out, the hat worn, the language, and the home page each hat starts from."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from services.api.deps import get_db
from services.engine.errors import Forbidden
from services.engine.throttle import Throttled
from services.web import devices, sessions
from services.web.deps import SESSION_COOKIE, CheckedForm, MaybeSigned, SignedIn
from services.web.pages import LANGS, render
from states.messages import reason

router = APIRouter(include_in_schema=False)

HOME = {"case_officer": "/work", "review_centre": "/work", "approver": "/work", "operator": "/work",
        "verifier": "/work", "expert": "/expert", "applicant": "/applicant", "admin": "/admin"}


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only paths on this site: an open redirect would let a phishing link sign people in elsewhere."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


@router.get("/")
async def home(signed: MaybeSigned) -> Response:
    if signed is None:
        return RedirectResponse("/public", status_code=303)
    return RedirectResponse(HOME.get(signed.hat[0], "/work") if signed.hat else "/applicant", status_code=303)


@router.get("/login")
async def login_page(request: Request, signed: MaybeSigned, next: str | None = None, expired: int = 0) -> Response:
    return render(request, "login.html", next=safe_next(next, ""), expired=bool(expired), username="",
                  failed=False)


@router.post("/login")
async def login(request: Request, form: CheckedForm) -> Response:
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""), "")

    device_cookie = request.cookies.get(devices.COOKIE)
    device = devices.device_of(device_cookie, username)
    client = request.client.host if request.client else "unknown"

    def attempt() -> tuple[str, sessions.Signed] | None:
        with get_db(request).write() as session:
            return sessions.sign_in(session, username, password, client=client, device=device)

    try:
        result = await run_in_threadpool(attempt) if username and password else None
    except Throttled as exc:
        minutes = exc.reasons[0].params.get("minutes", 1)
        refused = render(request, "login.html", status_code=429, next=target, expired=False, username=username,
                         failed=False, throttled=reason("sign_in_throttled", minutes=minutes).as_dict())
        refused.headers["Retry-After"] = str(exc.extra.get("retry_after", 60 * minutes))
        return refused
    if result is None:
        return render(request, "login.html", status_code=422, next=target, expired=False, username=username,
                      failed=True, missing=not username or not password)
    token, signed = result
    home_path = HOME.get(signed.hat[0], "/work") if signed.hat else "/applicant"
    response = RedirectResponse(target or home_path, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure,
                        max_age=int(sessions.LIFETIME.total_seconds()))
    # the device cookie goes only to /login, the one place that reads it
    known = device_cookie if device and device_cookie else devices.issue(username)  # kept, or a first one
    response.set_cookie(devices.COOKIE, known, httponly=True, samesite="strict", secure=secure, path="/login",
                        max_age=int(devices.LIFETIME.total_seconds()))
    return response


@router.post("/logout")
async def logout(request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    def end() -> None:
        with get_db(request).write() as session:
            sessions.sign_out(session, signed)

    await run_in_threadpool(end)
    response = RedirectResponse("/login?ok=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/hat")
async def switch_hat(request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    role, _, jurisdiction = str(form.get("hat") or "").partition(":")

    def switch() -> bool:
        with get_db(request).write() as session:
            return sessions.wear(session, signed, role, jurisdiction)

    if not await run_in_threadpool(switch):
        raise Forbidden([reason("hat", field="hat")])
    return RedirectResponse(HOME.get(role, "/work"), status_code=303)


@router.get("/lang/{lang}")
async def switch_language(lang: str, back: str | None = None) -> Response:
    response = RedirectResponse(safe_next(back), status_code=303)
    if lang in LANGS:
        response.set_cookie("lang", lang, samesite="lax", max_age=365 * 86400)
    return response
