"""Who am I, and an applicant's organisation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import select

from forms.organisation import OrganisationRegistration
from services import audit
from services.api.deps import ActorDep, DbDep
from services.clock import clock
from services.errors import Conflict, Forbidden
from services.store.tables import Organisation, User
from states.messages import Reason, reason

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/me", summary="My account and role grants")
def me(actor: ActorDep) -> dict[str, Any]:
    return {"user_id": actor.user_id, "username": actor.username, "display_name": actor.display_name,
            "org_id": actor.org_id, "grants": [{"role": r, "jurisdiction": j} for r, j in sorted(actor.grants)]}


@router.post("/organisations", status_code=201, summary="Register the organisation I apply for")
def register_organisation(body: OrganisationRegistration, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    if not any(r == "applicant" for r, _ in actor.grants):
        raise Forbidden([reason("role_required", roles_zh="申请主体", roles_en="applicant")])
    with db.write() as session:
        user = session.get(User, actor.user_id)
        if user is None or user.org_id is not None:
            raise Conflict([Reason("org_linked", "您的账户已关联申请单位", "Your account already has an organisation")])
        if session.exec(select(Organisation).where(Organisation.uscc == body.uscc)).first():
            # Knowing a code is no proof of belonging to the organisation: its own users must invite you.
            raise Conflict([Reason("org_exists", "该统一社会信用代码已注册，请联系该单位的账户管理人",
                                   "This credit code is already registered; ask that organisation to add you",
                                   "uscc")])
        org = Organisation(uscc=body.uscc, name=body.name, created_at=clock.now())
        session.add(org)
        session.flush()
        user.org_id = org.id
        session.add(user)
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="applicant",
                     event="organisation_registered", payload={"org_id": org.id, "uscc": org.uscc})
        return {"id": org.id, "uscc": org.uscc, "name": org.name}
