"""Rendering pages: the Jinja2 environment, the language, and what every page knows.

Chinese first, English by a switch (a `lang` cookie). Templates write both languages side by side,
`{{ t("我的任务", "My tasks") }}`, so neither can go missing; domain words (states, triggers, tasks,
roles) come from the one catalogue in `states/messages.py` through `L("state.publicity")`.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from services.web.brief import location_words
from states.messages import CATALOGUE

TEMPLATES = Path(__file__).with_name("templates")
LANGS = ("zh", "en")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def lang_of(request: Request) -> str:
    lang = request.cookies.get("lang", "zh")
    return lang if lang in LANGS else "zh"


# The page being rendered's language. Macros imported without context still see it.
_LANG: ContextVar[str] = ContextVar("page_lang", default="zh")


def _english(ctx: Any) -> bool:
    return (ctx.get("lang") or _LANG.get()) == "en"


@pass_context
def _t(ctx: Any, zh: str, en: str) -> str:
    return en if _english(ctx) else zh


@pass_context
def _label(ctx: Any, key: str, fallback: str | None = None) -> str:
    zh, en = CATALOGUE.get(key, (fallback or key.split(".", 1)[-1],) * 2)
    return en if _english(ctx) else zh


@pass_context
def _event(ctx: Any, name: str) -> str:
    """A timeline event's name: a trigger's label, or one of the events that are not triggers."""
    zh, en = CATALOGUE.get(f"event.{name}") or CATALOGUE.get(f"trigger.{name}") or (name, name)
    return en if _english(ctx) else zh


@pass_context
def _pick(ctx: Any, pair: Any) -> str:
    """A {"zh": …, "en": …} dict (reasons, labels) in the page's language."""
    if isinstance(pair, dict):
        return str(pair.get("en" if _english(ctx) else "zh", ""))
    return "" if pair is None else str(pair)


def _local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in Beijing time; ISO strings are accepted too."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime(fmt)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


templates = Jinja2Templates(directory=str(TEMPLATES))
def _form_key() -> str:
    """A fresh Idempotency-Key for each form drawn: submitting the same form twice (a double click, the
    browser's resubmit) acts once (services/engine/idempotency.py); a form drawn again after a refusal gets a
    new key, since the refused attempt stored nothing."""
    return secrets.token_urlsafe(12)


def _today() -> str:
    """Today in Asia/Shanghai, ISO: a public period is "open" only once its first day has come."""
    from services.engine.calendar import local_date
    from services.engine.clock import clock

    return local_date(clock.now()).isoformat()


templates.env.globals.update(t=_t, L=_label, pick=_pick, event_label=_event, form_key=_form_key, today=_today,
                             location_words=location_words)
templates.env.filters["local"] = _local


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    signed = getattr(request.state, "signed", None)
    _LANG.set(lang_of(request))
    base = {"request": request, "lang": lang_of(request), "signed": signed,
            "csrf": signed.csrf if signed else getattr(request.state, "public_csrf", ""),
            "hat": signed.hat if signed else None, "path": request.url.path,
            "ok": request.query_params.get("ok"),
            # what a redirect's `?ok=` says after a command succeeded (post/redirect/get)
            "ok_text": CATALOGUE.get(f"ok.{request.query_params.get('ok') or ''}")}
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
