"""The registry ledger as its holders, its operator and administrators read it: accounts with their
serial blocks, the ledger's verification, and what the ledger's commands answer."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import Session, col, select

from services.accounts.identity import AdminScope
from services.engine.actors import Actor
from services.engine.errors import Forbidden
from services.procedures import ledger
from services.queries.admin import ScopePublic
from services.queries.schemas import Items, Public, not_found
from services.store.tables import Account, SerialBlock, pk
from states.messages import reason


class BlockPublic(Public):
    serial: str = Field(description="`<jurisdiction>-<vintage>-<project>-<first>-<last>`, one serial per tonne")
    project_id: int
    vintage: int
    size: int = Field(description="tCO2e")


class AccountPublic(Public):
    """A holding account: its balance, what it retired, and the serial blocks it holds."""

    id: int
    jurisdiction: str
    org_id: int
    balance_tco2e: int = Field(description="Held and not retired")
    retired_tco2e: int
    blocks: list[BlockPublic] = Field(description="The blocks held (not the retired ones)")


class AccountList(Items[AccountPublic]):
    """My organisation's accounts, one per jurisdiction."""


def _account(session: Session, account: Account) -> AccountPublic:
    blocks = ledger.live_blocks(session, pk(account))
    retired = session.exec(select(SerialBlock).where(col(SerialBlock.account_id) == account.id,
                                                     col(SerialBlock.closed_by).is_(None),
                                                     col(SerialBlock.retired).is_(True))).all()
    return AccountPublic(id=pk(account), jurisdiction=account.jurisdiction, org_id=account.org_id,
                         balance_tco2e=sum(b.size for b in blocks), retired_tco2e=sum(b.size for b in retired),
                         blocks=[BlockPublic(serial=b.serial, project_id=b.project_id, vintage=b.vintage, size=b.size)
                                 for b in blocks])


def my_accounts(session: Session, actor: Actor) -> AccountList:
    if actor.org_id is None:
        raise Forbidden([reason("no_organisation")])
    accounts = session.exec(select(Account).where(col(Account.org_id) == actor.org_id).order_by(col(Account.id)))
    return AccountList(items=[_account(session, a) for a in accounts])


def account(session: Session, actor: Actor, account_id: int) -> AccountPublic:
    """The operator of its jurisdiction and its holder read an account; anyone else is told there is none."""
    a = session.get(Account, account_id)
    if a is None or not (actor.holds("operator", a.jurisdiction) or actor.org_id == a.org_id):
        raise not_found("account")
    return _account(session, a)


class LedgerCheck(Public):
    """The journal replayed against the serial blocks: open blocks = issued − clawed back; retired blocks =
    retired; no serial in two places; every issue backed by its case's issuing event."""

    ok: bool
    issued: int
    retired: int
    clawed_back: int
    held: int = Field(description="tCO2e in open blocks not retired")
    retired_in_blocks: int
    first_problem: str | None
    problems: list[str]
    scope: ScopePublic = Field(description="What was checked: the whole ledger, or these jurisdictions' part")


def verify(session: Session, scope: AdminScope) -> LedgerCheck:
    result = ledger.verify(session, None if scope.national else scope.jurisdictions)
    return LedgerCheck(**result, scope=ScopePublic(**scope.as_dict()))


# --- what the ledger's commands answer --------------------------------------------------------------


class TransferPublic(Public):
    entry_id: int = Field(description="The ledger entry recorded")
    amount_tco2e: int
    serials: list[str] = Field(description="The serial blocks moved")


class DoubleClaimRecorded(Public):
    """A block found claimed in another scheme (Ordos art. 17, Shanghai art. 14): frozen, and rectified."""

    serial: str = Field(description="The block as issued")
    claimed_in: str = Field(description="The other scheme")
    freeze_entry_id: int = Field(description="The journal's freeze entry (in the transparency log)")
    frozen_tco2e: int = Field(description="Units still open that were frozen (retired ones cannot be)")
    frozen: list[str] = Field(description="The serial blocks frozen, wherever held")
    rectification_case_id: int | None = Field(description="The rectification opened on the project")


class SuspensionPublic(Public):
    project_id: int
    suspended: bool
    cases: list[int] = Field(description="The issuance cases put on hold (or released)")
