"""A person's in-app notifications (written by the dispatch's `notify` handler): read them, count the
unread, mark them read."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.clock import clock
from services.store.engine import Database
from services.store.tables import Notification


def recent(session: Session, user_id: int, limit: int) -> list[Notification]:
    return list(session.exec(select(Notification).where(Notification.user_id == user_id)
                             .order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit)))


def unread(session: Session, user_id: int) -> int:
    return session.exec(select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user_id, col(Notification.read_at).is_(None))).one()


def mark_all_read(db: Database, user_id: int) -> int:
    """One statement, so a notice arriving meanwhile is either marked or stays unread: never half."""
    with db.write() as session:
        result = session.execute(sa.update(Notification).where(
            col(Notification.user_id) == user_id, col(Notification.read_at).is_(None)).values(read_at=clock.now()))
        # the ignore below: an UPDATE's result is a CursorResult, which has rowcount
        return result.rowcount or 0  # type: ignore[attr-defined]
