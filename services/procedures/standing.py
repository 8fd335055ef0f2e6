"""A party's standing in a jurisdiction's scheme: the disqualifications of Jiaxing art. 26 (the reading is
states/disqualification.py). Recorded by the revocation that claws back for false materials
(services.procedures.supervision.revoke_project), read by the rules (facts), the transfer route and
the public and officials' pages."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from services.store.sql import insert_ignore
from services.store.tables import Disqualification, Organisation
from states.disqualification import Disqualified, barred
from states.messages import Reason
from states.profiles import Profile


def disqualified(session: Session, org_id: int | None, jurisdiction: str) -> Disqualified | None:
    if org_id is None:
        return None
    row = session.exec(select(Disqualification, Organisation.name).join(
        Organisation, col(Organisation.id) == col(Disqualification.org_id)).where(
        col(Disqualification.org_id) == org_id, col(Disqualification.jurisdiction) == jurisdiction)).first()
    if row is None:
        return None
    record, name = row
    return Disqualified(org_name=name, decided_on=record.decided_on, reason=record.reason, case_id=record.case_id)


def disqualify(session: Session, *, org_id: int, jurisdiction: str, project_id: int, case_id: int, reason: str,
               basis: str, on: date, at: datetime) -> None:
    """Once per organisation and jurisdiction: a second revocation keeps the first decision's record."""
    insert_ignore(session, Disqualification, {"org_id": org_id, "jurisdiction": jurisdiction, "project_id": project_id,
                                              "case_id": case_id, "reason": reason[:2000], "basis": basis[:100],
                                              "decided_on": on, "at": at})


def transfer_refusals(session: Session, profile: Profile, from_org: int | None, to_org: int | None) -> list[Reason]:
    """A transfer moves nothing out of, nor into, a disqualified party's account (Jiaxing art. 26)."""
    return [*barred(disqualified(session, from_org, profile.code), "transfer_from", profile, field="from_account_id"),
            *barred(disqualified(session, to_org, profile.code), "transfer_to", profile, field="to_account_id")]
