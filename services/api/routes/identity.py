"""Who am I, and an applicant's organisation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from forms.organisation import OrganisationRegistration
from services.accounts import identity
from services.api.deps import ActorDep, DbDep, IdemKey

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/me", summary="My account and role grants")
def me(actor: ActorDep) -> dict[str, Any]:
    return {"user_id": actor.user_id, "username": actor.username, "display_name": actor.display_name,
            "org_id": actor.org_id, "grants": [{"role": r, "jurisdiction": j} for r, j in sorted(actor.grants)]}


@router.post("/organisations", status_code=201, summary="Register the organisation I apply for")
def register_organisation(body: OrganisationRegistration, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                          ) -> dict[str, Any]:
    return identity.register_organisation(db, actor, uscc=body.uscc, name=body.name, idempotency_key=idempotency_key)
