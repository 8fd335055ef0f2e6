"""Jiaxing art. 26 (second paragraph): 碳普惠市场参与主体……有提供虚假材料等不诚信行为的，由市生态环境局责令
限期改正，逾期未改正的取消参与碳普惠市场的资格，收回已签发的减排量并予以公开通报.

Our reading. 取消参与碳普惠市场的资格 takes away the organisation's standing *in the market of the
authority that decided it* (市生态环境局 acts for Jiaxing only): from then on it may not open a case in
that jurisdiction, nor have units moved to or from its account there, nor retire units on its own
behalf. The article names no term and Jiaxing's 办法 has no reinstatement clause, so a disqualification
has no end date: it stands until the decision itself is set aside (administrative reconsideration or
litigation, outside this scheme's procedures). Cases already running go on (the ongoing duties — a
rectification, an audit — still bind it), but none of them may retire units for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from states.messages import Reason, label, reason

# what a disqualified party may no longer do; each is said in the refusal
ACTIONS = ("new_case", "transfer_from", "transfer_to", "retirement")


@dataclass(frozen=True)
class Disqualified:
    """A disqualification as the rules see it (one per organisation and jurisdiction)."""

    org_name: str
    decided_on: date
    reason: str
    case_id: int


def barred(record: Disqualified | None, action: str, profile: Any, field: str | None = None) -> list[Reason]:
    """Every reason `action` is refused to a party with this record (none without one)."""
    if record is None:
        return []
    assert action in ACTIONS
    said = label(f"disqualified_action.{action}")
    return [reason("party_disqualified", field=field, org=record.org_name, action_zh=said["zh"],
                   action_en=said["en"], decided_on=record.decided_on.isoformat(), why=record.reason,
                   case=record.case_id, jurisdiction_zh=profile.name_zh, jurisdiction_en=profile.name_en,
                   **profile.cite("disqualification"))]
