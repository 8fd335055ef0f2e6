"""What is new for me: the bell in the header of staff and experts (its count refreshed by htmx polling)
and the page listing my notifications, newest first, with a button that marks them all read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.api.deps import get_db
from services.queries import notifications
from services.web.deps import CheckedForm, SignedIn
from services.web.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/notifications/bell")
def bell(request: Request, signed: SignedIn) -> Response:
    """The bell's content: the unread count in a badge (nothing beside the bell when all is read)."""
    with get_db(request).read() as session:
        unread = notifications.unread(session, signed.user_id)
    body = "✉" + (f' <span class="count" data-unread="{unread}">{unread}</span>' if unread else "")
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/notifications")
def notifications_page(request: Request, signed: SignedIn) -> Response:
    with get_db(request).read() as session:
        rows = notifications.recent(session, signed.user_id, 50)
        unread = notifications.unread(session, signed.user_id)
    return render(request, "notifications.html", rows=rows, unread=unread)


@router.post("/notifications/read")
async def mark_read(request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    await run_in_threadpool(notifications.mark_all_read, get_db(request), signed.user_id)
    return RedirectResponse("/notifications?ok=read", status_code=303)
