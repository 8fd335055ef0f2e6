"""The objector follows their objection by its receipt (issue 15): status and where the case stands,
never the objector's name, contact or text, nor anyone else's objection.

The receipt (`OBJ-<date>-<8 hex>`, publicity.record_objection) is the only key, as it is the only thing
the objector was given; guesses are throttled per address (a wrong receipt counts, a right one does not),
which leaves 2^32 receipts a day to guess at a few a quarter-hour. What a right guess would reveal is
public already: that the notice drew an objection and how the case went on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from services.engine import throttle
from services.engine.clock import clock
from services.engine.errors import NotFound
from services.engine.throttle import Limit
from services.store.engine import Database
from services.store.tables import Case, Notice, Objection
from states.messages import label, reason

CHECK_BY_ADDRESS = Limit("objection-check:address", 10, timedelta(minutes=15))
FORMAT = "OBJ-"


def normalised(receipt: str) -> str:
    """As typed, in any case and with stray spaces."""
    return receipt.strip().upper()[:40]


def check_objection(db: Database, receipt: str, client: str) -> dict[str, Any]:
    """The objection's status, or 404 (an unknown receipt), or 429 once the address guessed too often."""
    now, receipt = clock.now(), normalised(receipt)
    subject = (CHECK_BY_ADDRESS, client)
    with db.write() as session:  # the failure count must commit, so the 404 is raised after it
        throttle.refuse_if_blocked(session, now, subject)
        found = session.exec(select(Objection).where(col(Objection.receipt) == receipt)).first() \
            if receipt.startswith(FORMAT) else None
        if found is not None:
            case = session.get_one(Case, found.case_id)
            notice = session.exec(select(Notice).where(col(Notice.case_id) == case.id, col(Notice.kind) == "publicity")
                                  .order_by(col(Notice.id).desc())).first()
            return {"receipt": receipt, "status": {"name": found.status, **label(f"objection_status.{found.status}")},
                    "received_at": found.received_at, "decided_at": found.decided_at, "case_id": found.case_id,
                    "notice_title": notice.title if notice else str(case.application.get("title") or ""),
                    "publicity_last_day": notice.last_day if notice else None,
                    "case_state": {"name": case.state, **label(f"state.{case.state}")}}
        throttle.count_failure(session, now, subject)
    raise NotFound([reason("objection_receipt_unknown", field="receipt")])
