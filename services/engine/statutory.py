"""The statutory clock (办理时限) of a case, from its running and paused segments (DESIGN §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.engine.calendar import WorkingCalendar, local_date
from services.store.records import AnyCase
from services.store.tables import ClockSegment
from states.profiles import Profile


def summary(session: Session, case: AnyCase, profile: Profile, cal: WorkingCalendar, now: datetime) -> dict[str, Any]:
    """Working days used while running (start day excluded, end day included, so back-to-back
    segments never count a day twice), the limit, the projected deadline and a breach flag."""
    segments = list(session.exec(select(ClockSegment).where(col(ClockSegment.case_id) == case.id)
                                 .order_by(col(ClockSegment.started_at), col(ClockSegment.id))))
    used = paused = 0
    provisional = False
    for seg in segments:
        end = seg.ended_at or now
        count = cal.working_days_between(local_date(seg.started_at), local_date(end), case.jurisdiction)
        provisional |= count.provisional
        if seg.running:
            used += count.days
        else:
            paused += count.days
    limit = profile.clock.limit_days
    current = segments[-1] if segments and segments[-1].ended_at is None else None
    status = "stopped" if current is None else ("running" if current.running else "paused")
    deadline = None
    if status == "running":
        remaining = limit - used
        if remaining > 0:
            answer = cal.add_working_days(local_date(now), remaining, case.jurisdiction)
            deadline, provisional = answer.end.isoformat(), provisional or answer.provisional
        else:
            deadline = local_date(now).isoformat()
    return {
        "status": status, "used_days": used, "paused_days": paused, "limit_days": limit,
        "remaining_days": max(limit - used, 0), "deadline": deadline, "breached": used > limit,
        "provisional": provisional,
        "segments": [{"state": s.state, "running": s.running, "started_at": s.started_at.isoformat(),
                      "ended_at": s.ended_at.isoformat() if s.ended_at else None} for s in segments],
    }
