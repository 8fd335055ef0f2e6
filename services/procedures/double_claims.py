"""No double claiming after the fact (Ordos art. 17, Shanghai art. 14; the reading is states/double_claim.py):
each issued block keeps the owner's declaration; an operator's finding that it is claimed elsewhere
freezes what is left of it (a `freeze` journal entry, sequenced into the public log like every entry),
opens a rectification on the project, and shows on the public registry. An accepted rectification
releases it (`unfreeze`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from forms.issuance import DoubleClaimFinding
from services.engine import audit
from services.engine.actors import Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.errors import Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, once
from services.procedures import ledger
from services.procedures.supervision import open_rectification
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import BlockClaim, LedgerEntry, Project, pk
from states.double_claim import IssuedBlock, finding_reasons
from states.messages import role_required, text
from states.profiles import Profile, get_profile

FINDERS = ("operator", "case_officer", "admin")  # who may record a finding in their jurisdiction


def record_declaration(session: Session, profile: Profile, entry: LedgerEntry, project: Project,
                       report: dict[str, Any], case_id: int, now: datetime) -> None:
    """At issuance (the `issued` state's Mint): the block and the declaration its monitoring report made."""
    if not profile.issuance.no_double_claiming:
        return
    insert_ignore(session, BlockClaim, {
        "issue_entry_id": pk(entry), "jurisdiction": project.jurisdiction, "project_id": pk(project),
        "serial": entry.serials[0], "declaration": {
            "not_claimed_elsewhere": report.get("not_claimed_elsewhere") is True, "case_id": case_id,
            "declared_in": "monitoring_report", "issued_at": now.isoformat()},
        "finding": {}})


def mark_claimed_elsewhere(db: Database, jurisdiction: str, actor: Actor, finding: DoubleClaimFinding,
                           idempotency_key: str | None = None) -> dict[str, Any]:
    """An operator's (or case officer's) finding: recorded, the block frozen, a rectification opened — one
    transaction."""
    profile = get_profile(jurisdiction)
    if profile is None:
        raise NotFound.of("jurisdiction")
    role = next((r for r in FINDERS if actor.holds(r, jurisdiction)), None)
    if role is None:
        raise Forbidden([role_required(*FINDERS)])

    def command(session: Session) -> tuple[int, dict[str, Any]]:
        now = clock.now()
        claim = session.exec(select(BlockClaim).where(col(BlockClaim.serial) == finding.serial.strip(),
                                                      col(BlockClaim.jurisdiction) == jurisdiction)
                             .with_for_update()).first()
        block = IssuedBlock(claim.serial, claim.jurisdiction, claim.claimed_in) if claim else None
        refused = finding_reasons(profile, block, finding.serial, finding.scheme)
        if refused or claim is None:
            raise Invalid(refused)
        project = session.exec(select(Project).where(col(Project.id) == claim.project_id).with_for_update()).one()
        claim.claimed_in, claim.found_at = finding.scheme, now
        claim.finding = {"evidence": finding.evidence, "found_by": actor.user_id, "role": role,
                         "found_on": local_date(now).isoformat()}
        entry = ledger.freeze(session, claim, case_id=None, actor_id=actor.user_id, now=now)
        claim.freeze_entry_id = entry.id
        description = text("text.double_claim_finding", serial=claim.serial, scheme=finding.scheme,
                           evidence=finding.evidence).zh
        if project.status == "registered":
            case = open_rectification(session, project, origin={"double_claim": claim.id}, actor=actor, findings=[
                {"severity": "high", "category": "double_claim", "needs_action": True, "description": description}])
            claim.rectification_case_id = entry.case_id = case.id
        session.add(claim)
        session.add(entry)
        audit.append(session, stream="system", at=now, actor_id=actor.user_id, actor_role=role,
                     event="block_claimed_elsewhere", payload={"serial": claim.serial, "scheme": finding.scheme,
                                                               "freeze_entry_id": entry.id, "frozen": entry.serials})
        return 201, {"serial": claim.serial, "claimed_in": finding.scheme, "freeze_entry_id": entry.id,
                     "frozen_tco2e": entry.amount, "frozen": entry.serials,
                     "rectification_case_id": claim.rectification_case_id}

    request = {"claimed_elsewhere": jurisdiction, **finding.model_dump(mode="json")}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]

