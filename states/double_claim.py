"""No double claiming after the fact: Ordos art. 17 (first half) 已经公示或签发的碳普惠减排量，不得重复申报国内外
温室气体自愿减排机制或环境权益; Shanghai art. 14 碳普惠相关主体应当承诺不重复参与国内外温室气体自愿减排项目.

Our reading. The commitment is given for the project at registration and again, for the reductions
themselves, when they are issued: the monitoring report carries the owner's declaration that these
reductions are not claimed in another voluntary scheme, and each issued block keeps it. If they are
found claimed elsewhere later (an operator or officer finds them in another registry), the finding is
recorded against the block, the units of it still open are frozen — nobody may transfer or retire them
— and a rectification opens on the project; the freeze is a journal entry like any other move, so the
public log proves it. Units already retired cannot be frozen (the finding records how many). An
accepted rectification (the other claim withdrawn) lifts the freeze; otherwise the units stay frozen.
Only where the profile says so (`issuance.no_double_claiming`: Ordos, Shanghai).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from states.messages import Reason, reason

# a serial series (jurisdiction, vintage, project code) and a closed range of it
Key = tuple[str, int, str]


@dataclass(frozen=True)
class IssuedBlock:
    """An issued block as the finding rule sees it."""

    serial: str
    jurisdiction: str
    claimed_in: str | None  # set once found claimed elsewhere


def declaration_reasons(profile: Any, declared: bool | None) -> list[Reason]:
    """The monitoring report declares the reductions are not claimed in another voluntary scheme."""
    if not profile.issuance.no_double_claiming or declared is True:
        return []
    return [reason("declaration_missing", field="not_claimed_elsewhere", **profile.cite("no_double_claiming"))]


def finding_reasons(profile: Any, block: IssuedBlock | None, serial: str, scheme: str) -> list[Reason]:
    """Every reason an operator's finding cannot be recorded."""
    if not profile.issuance.no_double_claiming:
        return [reason("double_claim_not_here", field="serial", jurisdiction_zh=profile.name_zh,
                       jurisdiction_en=profile.name_en)]
    if block is None or block.jurisdiction != profile.code:
        return [reason("issued_block_unknown", field="serial", serial=serial)]
    if block.claimed_in is not None:
        return [reason("already_found_elsewhere", field="serial", serial=serial, scheme=block.claimed_in)]
    return []


def units(serials: list[str]) -> int:
    """How many tonnes serial ranges (`…-000001-000300`) hold."""
    return sum(int(x.rsplit("-", 2)[2]) - int(x.rsplit("-", 2)[1]) + 1 for x in serials)


def overlaps(frozen: list[tuple[Key, int, int]], key: Key, start: int, end: int) -> bool:
    return any(k == key and s <= end and start <= e for k, s, e in frozen)


def frozen_reasons(profile: Any, frozen_serials: list[str], field: str = "amount_tco2e",
                   asked: int | None = None, available: int | None = None) -> list[Reason]:
    """Units frozen by a finding cannot move: named when a range asks for them, or when what is left
    unfrozen is not enough for the amount asked."""
    if not frozen_serials or (asked is not None and available is not None and asked <= available):
        return []
    return [reason("units_frozen", field=field, serials=", ".join(frozen_serials),
                   **profile.cite("no_double_claiming"))]
