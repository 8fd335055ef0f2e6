"""What operators and orchestrators ask of every API process: `/livez` (the process answers), `/readyz`
(the database reachable and at the migration head; Prefect reachable when `PREFECT_API_URL` is set; 503
naming each reason otherwise), `/metrics` (Prometheus text), and the request middleware: a request id
for every request (the caller's `X-Request-ID` when plain, else a new one; echoed in the response,
written into the outbox rows the request's command inserts and into every log line), and the request
counters and latency histograms by route template, method and status.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.orchestration import health
from services.store import correlation

log = logging.getLogger("carbon.http")
REQUESTS = Counter("carbon_http_requests_total", "HTTP requests by route template, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("carbon_http_request_duration_seconds", "HTTP request latency by route template",
                    ["route", "method"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
QUIET = ("/livez", "/readyz", "/metrics", "/healthz")  # probes: counted, not logged


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        request_id = correlation.clean(given) or correlation.new_id()
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with correlation.carrying(request_id):
            try:
                await self.app(scope, receive, sending)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("route")
                template = getattr(route, "path", None) or ("<unmatched>" if status == 404 else "<other>")
                REQUESTS.labels(template, scope["method"], str(status)).inc()
                LATENCY.labels(template, scope["method"]).observe(elapsed)
                if scope["path"] not in QUIET:
                    log.info("%s %s %s", scope["method"], template, status, extra={
                        "route": template, "method": scope["method"], "status": status,
                        "duration_ms": round(elapsed * 1000, 1)})


def metrics_text(db: Any) -> bytes:
    """This process's counters (or every process's, in multiprocess mode) and the database's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    gauges = CollectorRegistry()
    gauges.register(health.DatabaseCollector(db))
    return counters + generate_latest(gauges)


def install(app: FastAPI) -> None:
    app.add_middleware(RequestMiddleware)
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    @router.get("/healthz")  # the older name, kept for existing probes
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        problems = await run_in_threadpool(health.all_problems, request.app.state.db)
        if problems:
            return JSONResponse({"status": "not_ready", "reasons": [r.as_dict() for r in problems]}, status_code=503)
        return JSONResponse({"status": "ready"})

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(metrics_text, request.app.state.db)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
