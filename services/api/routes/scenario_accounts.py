"""Scenario issuance on the users' behalf, over HTTP: the enterprise's lookup tokens, an individual's
account (reductions per period, carbon points, the inclusion proof of their allocation), transfers of
points, the public statistics per scenario, corrections from anomalous data (Ordos art. 11) and the
periodic campaign run on demand."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from forms.scenarios import Correction, LookupTokenRequest, PointsTransfer
from services.api.deps import ActorDep, DbDep, IdemKey
from services.api.responses import errors
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Forbidden, Invalid
from services.engine.idempotency import Idem, once
from services.procedures.scenarios import accounts, correction
from services.procedures.scenarios.issuance import period_of_key, run_scenario_campaign
from services.queries.scenario_accounts import (
    Account,
    AllocationProof,
    CampaignRun,
    CorrectionDone,
    LookupToken,
    PointsTransferred,
    ScenarioRef,
    ScenarioStatistics,
)
from services.store.tables import Project
from states.messages import label, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["scenario accounts"])
LookupHeader = Annotated[str | None, Header(alias="X-Lookup-Token", max_length=200,
                                            description="The lookup token the scenario enterprise handed the user")]


def _enterprise(actor: Actor, project: Project) -> None:
    """The scenario enterprise itself (its applicant users): it holds the users' reductions on their behalf."""
    if not (actor.holds("applicant", project.jurisdiction) and actor.org_id == project.owner_org_id):
        raise Forbidden([reason("role_required", roles_zh=label("role.applicant")["zh"], roles_en="applicant")])


def _staff(actor: Actor, jurisdiction: str, roles: tuple[str, ...]) -> None:
    if not any(actor.holds(r, jurisdiction) for r in roles):
        raise Forbidden([reason("role_required", roles_zh=" / ".join(label(f"role.{r}")["zh"] for r in roles),
                                roles_en=", ".join(roles))])


def _ref(project: Project) -> ScenarioRef:
    return ScenarioRef(id=project.id or 0, title=project.title, jurisdiction=project.jurisdiction)


@router.post("/scenarios/{scenario_id}/lookup-tokens", status_code=201, response_model=LookupToken,
             summary="A user's lookup token (the enterprise hands it to the user; a new one replaces the old)",
             responses=errors(401, 403, 404, 413, 422))
def lookup_token(scenario_id: int, body: LookupTokenRequest, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    # not replayed by an idempotency key: the reply holds the token, which is never stored; a retry
    # gets a fresh token and the earlier one stops working, so retrying is safe
    with db.write() as session:
        project = accounts.scenario(session, scenario_id)
        _enterprise(actor, project)
        token = accounts.issue_token(session, project, body.user_id, actor.user_id, clock.now())
    return {"scenario_id": scenario_id, "user_id": body.user_id, "token": token}


@router.get("/scenario-account", response_model=Account, summary="My scenario account (by lookup token)",
            responses=errors(404, 422))
def my_account(db: DbDep, x_lookup_token: LookupHeader = None) -> dict[str, Any]:
    with db.read() as session:
        project, user = accounts.holder_of(session, x_lookup_token)
        return accounts.account(session, project, user)


@router.get("/scenario-account/proof", response_model=AllocationProof,
            summary="The inclusion proof of my allocation in a period (RFC 9162)", responses=errors(404, 422))
def my_proof(db: DbDep, period: Annotated[str, Query(max_length=10)],
             x_lookup_token: LookupHeader = None) -> dict[str, Any]:
    with db.read() as session:
        project, user = accounts.holder_of(session, x_lookup_token)
        return accounts.proof(session, project, user, period)


@router.post("/scenario-account/transfers", status_code=201, response_model=PointsTransferred,
             summary="Transfer carbon points to another individual (where the profile allows it)",
             responses=errors(404, 409, 413, 422))
def transfer(body: PointsTransfer, db: DbDep, x_lookup_token: LookupHeader = None,
             idempotency_key: IdemKey = None) -> dict[str, Any]:
    if not idempotency_key:
        raise Invalid([reason("required_field", field="Idempotency-Key")])
    with db.write() as session:
        project, user = accounts.holder_of(session, x_lookup_token)
        return accounts.transfer_points(session, project, user, body.to_user_id, body.points, idempotency_key,
                                        clock.now())


@router.get("/public/scenarios/{scenario_id}/statistics", response_model=ScenarioStatistics,
            summary="A scenario's participants and reductions per issued period (no personal data)",
            responses=errors(404, 422))
def statistics(scenario_id: int, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        project = accounts.scenario(session, scenario_id)
        return {"scenario": _ref(project), "periods": accounts.statistics(session, project)}


@router.post("/scenarios/{scenario_id}/corrections", status_code=201, response_model=CorrectionDone,
             summary="Correct a period's reductions from data an evaluation found anomalous (Ordos art. 11)",
             responses=errors(401, 403, 404, 409, 413, 422))
def correct(scenario_id: int, body: Correction, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
            ) -> dict[str, Any]:
    with db.read() as session:
        project = accounts.scenario(session, scenario_id)
    _staff(actor, project.jurisdiction, ("case_officer", "operator"))
    if period_of_key(project.jurisdiction, body.period) is None:
        profile = get_profile(project.jurisdiction)
        kind = profile.scenarios.period if profile else ""
        raise Invalid([reason("scenario_period_invalid", field="period", period=body.period, kind=kind)])
    reply = once(db, Idem(actor.key, idempotency_key, {"scenario": scenario_id, **body.model_dump()}),
                 lambda session: (201, correction.apply(session, scenario_id, body, actor.user_id, clock.now())))
    return reply[1]


@router.post("/jurisdictions/{jurisdiction}/scenario-campaign", response_model=CampaignRun,
             summary="Open the scenario issuance cases of every closed period now (the daily flow does it too)",
             responses=errors(401, 403, 404, 422))
def campaign(jurisdiction: str, actor: ActorDep, db: DbDep) -> dict[str, int]:
    if get_profile(jurisdiction) is None:
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction)])
    _staff(actor, jurisdiction, ("case_officer", "admin"))
    return run_scenario_campaign(db, jurisdiction)
