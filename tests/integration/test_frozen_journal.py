"""A freeze is a journal entry the ledger's verification replays (Ordos art. 17, Shanghai art. 14): a frozen
block stays where it is and verifies; a transfer that moves frozen serials — written past the ledger's
own refusal — is named; so is a freeze of serials that were not open."""

from __future__ import annotations

import pytest
from sqlmodel import select

from services.engine.clock import clock
from services.engine.errors import Invalid
from services.procedures import ledger
from services.store.engine import Database
from services.store.tables import BlockClaim, LedgerEntry, Project, SerialBlock, User


def _issued(db: Database) -> tuple[int, int, int, str]:
    now = clock.now()
    with db.write() as s:
        owner, other = (s.exec(select(User.org_id).where(User.username == u)).one() for u in ("sh_applicant",
                                                                                            "sh_applicant2"))
        project = Project(jurisdiction="SH", kind="project", title="光伏", owner_org_id=owner, status="registered",
                          registration_number="SH-2026-P09998", created_at=now)
        s.add(project)
        s.flush()
        entry, block = ledger.mint(s, project=project, vintage=2025, amount=100, owner_org_id=owner,
                                   case_id=None, actor_id=None, now=now)
        claim = BlockClaim(issue_entry_id=entry.id, jurisdiction="SH", project_id=project.id, serial=block.serial,
                           claimed_in="VCS")
        s.add(claim)
        s.flush()
        claim.freeze_entry_id = ledger.freeze(s, claim, case_id=None, actor_id=None, now=now).id
        s.add(claim)
        return (block.account_id, ledger.account_for(s, "SH", other, now).id, project.id,
                block.serial)


def test_a_frozen_block_verifies_and_a_move_of_it_is_named(db: Database) -> None:
    owner, other, project, serial = _issued(db)
    with db.read() as s:
        problems = ledger.verify(s, ["SH"])["problems"]
    # minted here without an issuance case, so only its backing event is missing
    assert [p for p in problems if "not backed" not in p] == []
    with db.write() as s, pytest.raises(Invalid) as refused:
        ledger.transfer(s, jurisdiction="SH", from_account=owner, to_account=other, amount=10, project_id=project,
                        vintage=2025, reference="T-1", actor_id=None, now=clock.now())
    assert [r.code for r in refused.value.reasons] == ["units_frozen"]
    with db.write() as s:  # past the refusal: written as a transfer would be
        block = s.exec(select(SerialBlock).where(SerialBlock.project_id == project)).one()
        entry = LedgerEntry(kind="transfer", jurisdiction="SH", amount=100, from_account_id=owner, to_account_id=other,
                            reference="T-2", at=clock.now())
        s.add(entry)
        s.flush()
        block.closed_by = entry.id
        s.add(block)
        s.add(SerialBlock(jurisdiction="SH", project_id=project, project_code=block.project_code, vintage=2025,
                          start=block.start, end=block.end, account_id=other, opened_by=entry.id))
        s.flush()
        entry.serials = [serial]
        s.add(entry)
    with db.read() as s:
        found = ledger.verify(s, ["SH"])
    assert found["ok"] is False and any("which a finding froze" in p for p in found["problems"])


def test_a_freeze_of_serials_not_open_is_named(db: Database) -> None:
    _, _, _, serial = _issued(db)
    with db.write() as s:
        s.add(LedgerEntry(kind="freeze", jurisdiction="SH", amount=10, reference="x", at=clock.now(),
                          serials=[serial.replace("-000001-000100", "-000101-000110")]))
    with db.read() as s:
        found = ledger.verify(s, ["SH"])
    assert any("freezes" in p and "not open and unretired" in p for p in found["problems"])
