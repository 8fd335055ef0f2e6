"""The methodology registry: filing a version (a revision supersedes the one it revises) and an authority's
withdrawal of a filed version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.command import lock_case
from services.engine.context import Ctx
from services.engine.errors import Conflict, Forbidden, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.engine.work import enqueue
from services.store.engine import Database
from services.store.tables import Document, MethodologyVersion
from states.effects import FileMethodology
from states.messages import reason, role_required


def withdraw(db: Database, version_id: int, actor: Actor, why: str, idempotency_key: str | None = None
             ) -> dict[str, Any]:
    """Filed → withdrawn: no longer citable by new registrations (rules.methodology_usable) and no
    longer listed publicly. Recorded on the filing case's chain when it has one."""
    def command(session: Session) -> Reply:
        m = session.exec(select(MethodologyVersion).where(MethodologyVersion.id == version_id)
                         .with_for_update()).first()
        if m is None:
            raise NotFound.of("methodology")
        if not actor.holds("approver", m.jurisdiction):
            raise Forbidden([role_required("approver")])
        if m.status != "filed":
            raise Conflict([reason("not_filed", field="status", status=m.status)])
        m.status = "withdrawn"
        session.add(m)
        payload = {"methodology_version_id": m.id, "code": m.code, "version": m.version, "reason": why}
        if m.case_id:
            case = lock_case(session, m.case_id)
            audit.append_case(session, case, at=clock.now(), actor_id=actor.user_id, actor_role="approver",
                              event="methodology_withdrawn", payload=payload)
        else:
            audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="approver",
                         event="methodology_withdrawn", payload=payload)
        return 200, {"id": m.id, "code": m.code, "version": m.version, "status": m.status}

    return once(db, Idem(actor.key, idempotency_key, {"withdraw": version_id, "reason": why}), command)[1]


def file_methodology(ctx: Ctx, effect: FileMethodology) -> None:
    """Filing creates the version; a revision supersedes the version it revises from today, and new
    projects may cite the old one for the profile's grace period."""
    app = ctx.case.application
    version = MethodologyVersion(
        jurisdiction=ctx.case.jurisdiction, code=app["code"], version=app["version"], title=app["title"],
        kind=app["kind"], tier=app.get("tier"), scope=app.get("scope", ""), summary=app.get("summary", ""),
        parameters=app.get("parameters", []), status="filed", filed_on=ctx.today, case_id=ctx.case.id)
    ctx.session.add(version)
    if app.get("revises"):
        ctx.session.execute(sa.update(MethodologyVersion).where(
            col(MethodologyVersion.jurisdiction) == ctx.case.jurisdiction, col(MethodologyVersion.code) == app["code"],
            col(MethodologyVersion.version) == app["revises"], col(MethodologyVersion.status) == "filed")
            .values(status="superseded", superseded_on=ctx.today, superseded_by=app["version"],
                    grace_until=ctx.today + timedelta(days=ctx.profile.methodology.grace_days)))
    ctx.session.flush()
    # The version keeps its whole dossier (what it was filed on, review material included: staff and
    # auditors follow it); what the public sees of it is decided by `documents.PUBLISHABLE` alone.
    ctx.session.execute(sa.update(Document).where(col(Document.case_id) == ctx.case.id)
                        .values(methodology_version_id=version.id))
    ctx.extra["methodology_version_id"] = version.id
    enqueue(ctx, "publish_methodology", "public", {"code": app["code"], "version": app["version"]})
