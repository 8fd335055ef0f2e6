"""The methodology registry: filing a version (a revision supersedes the one it revises) and an authority's
withdrawal of a filed version."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from forms.methodology import ParameterUpdate
from services.engine import audit
from services.engine.actors import SYSTEM_ACTOR, Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.command import lock_case
from services.engine.context import Ctx
from services.engine.errors import Conflict, Forbidden, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.engine.opening import open_case
from services.engine.work import enqueue
from services.store.engine import Database
from services.store.tables import Case, Document, MethodologyVersion
from states.effects import FileMethodology, KeepParameter
from states.machine import procedure
from states.messages import reason, role_required, text
from states.parameters import stale_parameters
from states.profiles import all_profiles


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


# --- key parameters kept current (Jiaxing art. 11; states/parameters.py, states/parameter_review.py) ---------


def keep_parameter(ctx: Ctx, effect: KeepParameter) -> None:
    """The review centre's answer, on the methodology version: `confirmed_on` (the source is still the
    latest), or the new value with the old one kept in the parameter's `history` — the public page shows both."""
    app = ctx.case.application
    m = ctx.session.exec(select(MethodologyVersion).where(col(MethodologyVersion.id) == app["version_id"])
                         .with_for_update()).one()
    form = ctx.form.model_dump(mode="json") if ctx.form is not None else {}
    kept = []
    for p in m.parameters:
        if p.get("name") != app["parameter"]:
            kept.append(p)
        elif isinstance(ctx.form, ParameterUpdate):
            old = {k: p.get(k) for k in ("value", "unit", "source", "source_date")}
            kept.append({**p, **{k: form[k] for k in ("value", "unit", "source", "source_date")},
                         "updated_on": ctx.today.isoformat(), "review_case": ctx.case.id, "note": form["note"],
                         "history": [*p.get("history", []), {**old, "replaced_on": ctx.today.isoformat()}]})
        else:
            kept.append({**p, "confirmed_on": ctx.today.isoformat(), "checked_source": form["checked_source"],
                         "review_case": ctx.case.id, "note": form["note"]})
    m.parameters = kept  # a new list: the JSON column is written
    ctx.session.add(m)


def open_parameter_reviews(db: Database, now: datetime | None = None) -> dict[str, int]:
    """The sweep: a review for every stale parameter of a filed version, where the profile sets an age, unless
    one is open already (so running it again opens nothing twice)."""
    today = local_date(now or clock.now())
    opened = skipped = 0
    for code, profile in all_profiles().items():
        max_age = profile.methodology.parameter_max_age_days
        if max_age is None:
            continue
        with db.read() as session:
            versions = list(session.exec(select(MethodologyVersion).where(
                col(MethodologyVersion.jurisdiction) == code, col(MethodologyVersion.status) == "filed")))
            open_ = {(c.application.get("version_id"), c.application.get("parameter")) for c in session.exec(
                select(Case).where(col(Case.procedure) == "parameter_review", col(Case.jurisdiction) == code,
                                   col(Case.closed_at).is_(None)))}
        for m in versions:
            for name in stale_parameters(m.parameters, today, max_age):
                if (m.id, name) in open_:
                    skipped += 1
                    continue
                with db.write() as session:
                    open_case(session, procedure("parameter_review", code), jurisdiction=code, actor=SYSTEM_ACTOR,
                              role="system", subject_kind=m.kind, application={
                                  "title": text("title.parameter_review", code=m.code, version=m.version,
                                                parameter=name).zh,
                                  "version_id": m.id, "code": m.code, "version": m.version, "parameter": name},
                              payload={"version_id": m.id, "parameter": name})
                opened += 1
    return {"opened": opened, "skipped": skipped}
