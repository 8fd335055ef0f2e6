"""The methodology registry's own commands: an authority withdraws a filed version."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from services.accounts.identity import Actor
from services.engine import audit
from services.engine.cases import lock_case
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.store.engine import Database
from services.store.tables import MethodologyVersion
from states.messages import Reason, reason


def withdraw(db: Database, version_id: int, actor: Actor, why: str, idempotency_key: str | None = None
             ) -> dict[str, Any]:
    """Filed → withdrawn: no longer citable by new registrations (rules.methodology_usable) and no
    longer listed publicly. Recorded on the filing case's chain when it has one."""
    def command(session: Session) -> Reply:
        m = session.exec(select(MethodologyVersion).where(MethodologyVersion.id == version_id)
                         .with_for_update()).first()
        if m is None:
            raise NotFound.of("方法学", "Methodology")
        if not actor.holds("approver", m.jurisdiction):
            raise Forbidden([reason("role_required", roles_zh="主管部门审定人", roles_en="approver")])
        if m.status != "filed":
            raise Conflict([Reason("not_filed", f"该版本状态为{m.status}，不能撤销", f"The version is {m.status}",
                                   "status")])
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
