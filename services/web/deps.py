"""What web routes need: who is signed in, which hat they wear, and forms whose CSRF token checks out.

Signed-in forms carry the session's CSRF token; the public's forms (objections, comments, reports)
carry a double-submit token from the `carbon_csrf` cookie, set by `csrf_cookie` middleware.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from services.accounts.identity import AdminScope, admin_scope
from services.api.deps import get_db
from services.engine.errors import Forbidden, Invalid
from services.web import sessions
from services.web.sessions import Signed
from states.messages import joined, label, reason

SESSION_COOKIE = "carbon_session"
PUBLIC_CSRF_COOKIE = "carbon_csrf"


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in person: the handler sends them to sign in and back."""

    def __init__(self, next_path: str, expired: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


def _lookup(request: Request) -> Signed | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    db = get_db(request)
    with db.read() as session:
        signed = sessions.current(session, token)
    if signed is not None and signed.stale:
        with db.write() as session:
            sessions.touch(session, signed)
    return signed


async def maybe_signed(request: Request) -> Signed | None:
    signed = await run_in_threadpool(_lookup, request)
    request.state.signed = signed
    return signed


async def signed_in(request: Request) -> Signed:
    signed = await maybe_signed(request)
    if signed is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target, expired=SESSION_COOKIE in request.cookies)
    return signed


MaybeSigned = Annotated[Signed | None, Depends(maybe_signed)]
SignedIn = Annotated[Signed, Depends(signed_in)]


def wearing(signed: Signed, *roles: str) -> str:
    """The jurisdiction of the hat worn, when it is one of `roles`; otherwise a 403 page."""
    if signed.hat is None or signed.hat[0] not in roles:
        names = joined((label(f"role.{r}")["zh"], label(f"role.{r}")["en"]) for r in roles)
        raise Forbidden([reason("hat_required", roles_zh=names.zh, roles_en=names.en)])
    return signed.hat[1]


async def wearing_admin(signed: SignedIn) -> AdminScope:
    """The admin hat worn, as a scope: the national hat administers every jurisdiction and the system's
    own things; a jurisdiction's hat that jurisdiction only (even for a person who is national too)."""
    wearing(signed, "admin")
    return admin_scope(signed.actor)


AdminHat = Annotated[AdminScope, Depends(wearing_admin)]


def _bad_token() -> Forbidden:
    return Forbidden([reason("csrf")])


async def checked_form(request: Request) -> FormData:
    """The posted form, after its CSRF token is checked against the session or the public cookie."""
    form = await request.form()
    sent = str(form.get("csrf") or "")
    signed = getattr(request.state, "signed", None)
    if signed is None and SESSION_COOKIE in request.cookies:
        signed = await maybe_signed(request)
    expected = signed.csrf if signed is not None else request.cookies.get(PUBLIC_CSRF_COOKIE, "")
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        raise _bad_token()
    # a multipart form's fields (the edge reads urlencoded forms, not uploads): no NUL in any text
    bad = [name for name, value in form.multi_items()
           if "\x00" in name or (isinstance(value, str) and "\x00" in value)]
    if bad:
        raise Invalid([reason("nul_character", field=name.replace("\x00", "\\0")) for name in bad])
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def form_key(form: FormData) -> str | None:
    """The posted form's Idempotency-Key (`_idem`, drawn by `form_key()` in the template)."""
    raw = form.get("_idem")
    return f"web:{raw[:100]}" if isinstance(raw, str) and raw else None


def form_dict(form: FormData, skip: tuple[str, ...] = ("csrf", "_idem")) -> dict[str, Any]:
    return {k: v for k, v in form.multi_items() if k not in skip}
