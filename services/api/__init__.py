"""The HTTP API. `services.api:app` is the ASGI app; `create_app(db)` builds one for a database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from services.api import edge, errors, ops
from services.api.routes import (
    admin,
    calendar,
    cases,
    documents,
    identity,
    ledger,
    procedures,
    public,
    registry,
    scenario_accounts,
    scenario_reports,
    scenarios,
    supervision,
    tasks,
    transparency,
)
from services.bootstrap import wire
from services.engine import telemetry
from services.orchestration import health
from services.store.engine import Database
from states.messages import text

STATIC = Path(__file__).with_name("static")


class App(FastAPI):
    """FastAPI inside the edge (`services.api.edge`): around the whole stack, so that even the 500
    handler's response carries the security headers."""

    trusted_proxies = ""

    def build_middleware_stack(self) -> ASGIApp:
        return edge.wrap(super().build_middleware_stack(), self.trusted_proxies)


def create_app(db: Database | None = None, *, orchestrate: bool | None = None) -> FastAPI:
    """`orchestrate`: run the embedded scheduler (default: when the app opens its own database and
    `SCHEDULER` is `embedded`); tests pass their database and drive flows themselves.
    `TRUSTED_PROXIES` (read here): the proxies whose X-Forwarded-Proto/-For are believed."""
    wire()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from flows.embedded import Orchestrator, mode

        if getattr(app.state, "db", None) is None:
            telemetry.configure_logging()  # a real process (a test hands the app its database)
            app.state.db = Database()
            # a process that opens its own database refuses to start on one it cannot use
            # (scaled out, the SQLite default too: DATABASE_URL must be set)
            health.require_ready(app.state.db, explicit_url=mode() == "prefect")

        run = orchestrate if orchestrate is not None else (db is None and mode() == "embedded")
        app.state.orchestrator = Orchestrator(app.state.db) if run else None
        if app.state.orchestrator:
            app.state.orchestrator.start()
        try:
            yield
        finally:
            if app.state.orchestrator:
                await app.state.orchestrator.stop()

    app = App(title=" ".join(text("system.name")), version="0.1.0", docs_url=None,
              redoc_url=None, lifespan=lifespan)
    app.trusted_proxies = os.environ.get("TRUSTED_PROXIES", "")
    app.state.db = db
    app.state.orchestrator = None
    errors.install(app)
    ops.install(app)
    for module in (identity, cases, documents, tasks, calendar, public, registry, ledger, supervision, procedures,
                   admin, transparency, scenario_reports, scenario_accounts, scenarios):  # literal paths first
        app.include_router(module.router)
    app.mount("/static/api", StaticFiles(directory=STATIC), name="api-static")
    from services.web.app import mount as mount_web

    mount_web(app)

    docs_page = (STATIC / "docs.html").read_text(encoding="utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # Served from the repository, not a CDN: the machines this runs on may have no internet. The
        # page and its init script are files, so its policy allows no inline script (edge.DOCS_CSP).
        return HTMLResponse(docs_page)

    return app


def __getattr__(name: str) -> FastAPI:
    """`services.api:app`, built on first use: importing a submodule (`services.api.deps`) must not build
    the whole application, which imports the web pages, which import those submodules."""
    if name == "app":
        globals()["app"] = built = create_app()
        return built
    raise AttributeError(name)
