"""Who am I, and an applicant's organisation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from forms.organisation import OrganisationRegistration
from services.accounts import identity
from services.api.deps import ActorDep, DbDep, IdemKey
from services.api.responses import errors
from services.queries import accounts
from services.queries.accounts import MePublic, OrganisationPublic

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/me", summary="My account and role grants", responses=errors(401, 422))
def me(actor: ActorDep) -> MePublic:
    return accounts.me(actor)


@router.post("/organisations", status_code=201, summary="Register the organisation I apply for",
             response_model=OrganisationPublic, responses=errors(401, 403, 409, 413, 422))
def register_organisation(body: OrganisationRegistration, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                          ) -> dict[str, Any]:
    return identity.register_organisation(db, actor, uscc=body.uscc, name=body.name, idempotency_key=idempotency_key)
