"""Who is asking: their account and role grants, and the organisation they apply for."""

from __future__ import annotations

from pydantic import Field

from services.engine.actors import Actor
from services.queries.schemas import Public


class GrantPublic(Public):
    role: str
    jurisdiction: str = Field(description="A jurisdiction's code, or `national`")


class MePublic(Public):
    user_id: int | None
    username: str
    display_name: str
    org_id: int | None = Field(description="The organisation the account applies for")
    grants: list[GrantPublic]


def me(actor: Actor) -> MePublic:
    return MePublic(user_id=actor.user_id, username=actor.username, display_name=actor.display_name,
                    org_id=actor.org_id, grants=[GrantPublic(role=r, jurisdiction=j) for r, j in sorted(actor.grants)])


class OrganisationPublic(Public):
    id: int
    uscc: str = Field(description="The unified social credit code (统一社会信用代码, GB 32100-2015)")
    name: str
