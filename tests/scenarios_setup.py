"""A registered scenario for the scenario-data tests (issue 17): the demo applicant's organisation owns it,
registered under the demo scenario methodology, whose quantification is declared as data (two activity
types over its registered parameters). Registration itself is tested end to end elsewhere
(tests/e2e/test_registration_http.py); these tests start where it ends."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence

from sqlmodel import col, select

from services.engine.clock import clock
from services.store.engine import Database
from services.store.tables import MethodologyVersion, Project, User

QUANTIFICATION = {"activities": [
    {"type": "metro_trip", "unit": "km", "decimals": 3, "formula": "quantity * (base - metro)",
     "bind": {"base": "小汽车出行排放因子", "metro": "地铁出行排放因子"}, "cap_per_user_day": "200"},
    {"type": "bike_trip", "unit": "km", "decimals": 2, "formula": "quantity * base",
     "bind": {"base": "小汽车出行排放因子"}, "cap_per_user_day": "60"},
]}
PARAMETERS = [
    {"name": "小汽车出行排放因子", "value": "0.1087", "unit": "kgCO2/km", "source": "方法学附表",
     "source_date": "2025-01-01"},
    {"name": "地铁出行排放因子", "value": "0.0342", "unit": "kgCO2/km", "source": "方法学附表",
     "source_date": "2025-01-01"},
]


def registered_scenario(db: Database, code: str, title: str = "地铁与共享单车低碳出行") -> int:
    low = code.lower()
    with db.write() as session:
        owner = session.exec(select(User).where(col(User.username) == f"{low}_applicant")).one()
        version = session.exec(select(MethodologyVersion).where(
            col(MethodologyVersion.jurisdiction) == code, col(MethodologyVersion.kind) == "scenario")).first()
        assert version is not None
        version.quantification = QUANTIFICATION
        version.parameters = [*version.parameters, *PARAMETERS]
        session.add(version)
        project = Project(jurisdiction=code, kind="scenario", title=title, owner_org_id=owner.org_id,
                          methodology_version_id=version.id, status="registered", registered_at=clock.now(),
                          created_at=clock.now())
        session.add(project)
        session.flush()
        assert project.id is not None
        project.registration_number = f"{code}-2026-S{90000 + project.id:05d}"
        return project.id


def as_csv(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


def as_jsonl(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    return "".join(json.dumps(dict(zip(columns, r, strict=True)), ensure_ascii=False) + "\n" for r in rows).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
