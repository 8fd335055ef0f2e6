"""structured locations: free-text `location`s become GB/T 2260 divisions

A project's location was free text; it is now {"division": <GB/T 2260 code>, "address": <text>}
(Jiaxing art. 12 judges the division). Each stored application's text (a registration's `location`,
a Jiaxing first filing's `new_project.location`) is kept as the address, and its division is the
deepest one the text names (上海市嘉定区 → 310114); where it names none, the jurisdiction's own
division (Shanghai 310000, Jiaxing 330400, …: the case was filed there). Nothing else changes; a
downgrade puts the address back as the text.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:30:00
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

from states import divisions

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# each jurisdiction's own division, as the profiles said when this migration was written
HOME = {"SH": "310000", "BJ": "110000", "JX": "330400", "ORD": "150600", "SD": "370000"}
CASES = sa.table("cases", sa.column("id", sa.Integer), sa.column("jurisdiction", sa.String),
                 sa.column("application", sa.JSON))


def structured(text: str, jurisdiction: str) -> dict[str, str | None]:
    code = divisions.resolve_text(text) or HOME.get(jurisdiction) or "110000"
    return {"division": code, "address": text.strip()[:200] or None}


def _rewrite(app: dict[str, Any], jurisdiction: str, forward: bool) -> dict[str, Any] | None:
    changed = False
    out = dict(app)
    for holder in (out, out.get("new_project")):
        if not isinstance(holder, dict) or "location" not in holder:
            continue
        loc = holder["location"]
        if forward and isinstance(loc, str):
            holder["location"], changed = structured(loc, jurisdiction), True
        elif not forward and isinstance(loc, dict):
            holder["location"], changed = loc.get("address") or divisions.names(loc.get("division", ""))[0], True
    return out if changed else None


def _migrate(forward: bool) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(CASES.c.id, CASES.c.jurisdiction, CASES.c.application)).all()
    for cid, jurisdiction, app in rows:
        if not isinstance(app, dict):
            continue
        if isinstance(app.get("new_project"), dict):
            app = {**app, "new_project": dict(app["new_project"])}
        new = _rewrite(app, jurisdiction, forward)
        if new is not None:
            bind.execute(CASES.update().where(CASES.c.id == cid).values(application=new))


def upgrade() -> None:
    _migrate(forward=True)


def downgrade() -> None:
    _migrate(forward=False)
