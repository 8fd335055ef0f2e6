"""The reference the case read is measured against: the application as operators run it plus one
minimal endpoint that reads one case row through the same stack.

    uvicorn bench.reference_app:app        (what `bench/http_load.py --ratio` starts)

`app` is `services.api.create_app()` itself (the same factory, so the same middleware: the edge's
security headers, request ids, size limits, the error handlers, the metrics), with one more route:

    GET /bench/reference/{case_id}

which takes the same dependencies as `GET /api/v1/cases/{case_id}` (`ActorDep`: the bearer token looked
up in its own read transaction; `DbDep`), opens a read transaction on the same `Database` and reads one
row, the case's id, state and version, with the same visibility condition
(`services.engine.visibility.visible`), and answers it as a declared response model, serialised by
FastAPI like every route's. What it leaves out is exactly what the case read adds: the case's tasks,
timers, panel, notices, comments, documents, subject, clock and allowed actions, and their shaping.
Every other route of the application stays, so the one server answers both endpoints in the same run.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi import FastAPI
from pydantic import BaseModel
from sqlmodel import col, select

from services.api import create_app
from services.api.deps import ActorDep, DbDep
from services.engine.errors import NotFound
from services.engine.visibility import visible
from services.store.tables import Case

PATH = "/bench/reference/{case_id}"


class CaseRow(BaseModel):
    id: int
    state: str
    version: int


def with_reference(app: FastAPI) -> FastAPI:
    @app.get(PATH, include_in_schema=False)
    def reference(case_id: int, actor: ActorDep, db: DbDep) -> CaseRow:
        with db.read() as session:
            row = session.exec(select(col(Case.id), col(Case.state), col(Case.version))
                               .where(col(Case.id) == case_id, visible(actor))).first()
        if row is None:
            raise NotFound.of("case")
        return CaseRow(id=row[0], state=row[1], version=row[2])

    return app


def __getattr__(name: str) -> FastAPI:
    """`bench.reference_app:app`, built on first use (as `services.api:app` is)."""
    if name == "app":
        globals()["app"] = built = with_reference(create_app())
        return built
    raise AttributeError(name)
