"""Digital verification of a scenario's period (Ordos art. 15; Shanghai arts. 13, 15, 22): read the accepted
files of the period's batches and the consent feed with DuckDB, apply the methodology's quantification with
the parameters in force on each activity date, and write a verification report — its figures, the per-user
eligible reductions as Parquet (`user_id VARCHAR, reduction_g BIGINT`, sorted by user; what issuance
allocates) and a digest over inputs, parameters, quantification and figures.

The rules (which records a period counts, consent, caps, exclusions) are states/scenario_verification.py's.
Reproducible: the same inputs and parameters give the same figures, file bytes and digest; verifying again
with the same inputs returns the existing report, with new inputs (a late batch, a consent change) it
adds a new version and keeps the earlier ones. The caller holds the scenario's lock and the transaction
(`run`), so a batch cannot arrive half-way and two verifications of a period cannot both add a version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, once
from services.engine.visibility import STAFF_ROLES
from services.procedures.scenarios.files import path_for, scenario_lock, sha256_file
from services.procedures.scenarios.intake import connect
from services.procedures.scenarios.totals import Totals, user_day_totals
from services.store.engine import Database
from services.store.tables import MethodologyVersion, Project, ScenarioBatch, ScenarioReport
from states import scenario_verification as rules
from states.messages import Reason, reason, role_required, text
from states.profiles import get_profile
from states.scenarios import (
    Activity,
    Period,
    activities_of,
    anomalous_days,
    check_activity,
    parse_period,
)

ENGINES = ("duckdb", "dask")
MEMORY_LIMIT = "1GB"  # DuckDB spills beyond it: a month of a city's records fits a 2 GiB process
USERS_SCHEMA = pa.schema([("user_id", pa.string()), ("reduction_g", pa.int64())])


@dataclass(frozen=True)
class Scope:
    """What one verification reads: the scenario, its quantification, the period and the batches."""

    project: Project
    version: MethodologyVersion
    activities: dict[str, Activity]
    period: Period
    late_days: int
    records: list[ScenarioBatch]
    consents: list[ScenarioBatch]
    history: list[ScenarioBatch]
    history_from: date
    history_to: date


def _lit(text: str) -> str:
    return text.replace("'", "''")


def _files(batches: Sequence[ScenarioBatch]) -> str:
    return "[" + ", ".join(f"'{_lit(b.accepted_path)}'" for b in batches) + "]"


def _batches(session: Session, project_id: int, kind: str, start: date | None, end: date) -> list[ScenarioBatch]:
    query = select(ScenarioBatch).where(ScenarioBatch.project_id == project_id, ScenarioBatch.kind == kind,
                                        col(ScenarioBatch.business_date) <= end)
    if start is not None:
        query = query.where(col(ScenarioBatch.business_date) >= start)
    return list(session.exec(query.order_by(col(ScenarioBatch.business_date), col(ScenarioBatch.batch_id))))


def scope_of(session: Session, project_id: int, period_key: str) -> Scope:
    """The scenario, its quantification and the period's inputs; 404 / 422 (every reason) otherwise."""
    project = session.get(Project, project_id)
    if project is None or project.kind != "scenario":
        raise NotFound.of("scenario")
    profile = get_profile(project.jurisdiction)
    version = session.get(MethodologyVersion, project.methodology_version_id or -1)
    problems: list[Reason] = []
    period = parse_period(period_key, profile.scenarios.period) if profile else None
    if period is None:
        kind = text(f"period_kind.{profile.scenarios.period if profile else 'monthly'}")
        problems.append(reason("scenario_period_unknown", period=period_key, kind=kind.zh, kind_en=kind.en))
    activities = activities_of(version.quantification) if version and version.quantification else {}
    if not activities:
        problems.append(reason("scenario_no_quantification.verify"))
    assert version is not None or not activities
    for activity in activities.values():
        # the ignore below: the scope's version was checked to declare a quantification above
        problems += [reason(code, **params) for code, params in check_activity(activity, version.parameters)]  # type: ignore[union-attr]
    if problems:
        raise Invalid(problems)
    assert period is not None and profile is not None and version is not None and project.id is not None
    late = profile.scenarios.late_days
    start, end = rules.input_window(period, late)
    h_from, h_to = rules.history_window(period, profile.scenarios.history_days)
    return Scope(project=project, version=version, activities=activities, period=period, late_days=late,
                 records=_batches(session, project.id, "records", start, end),
                 consents=_batches(session, project.id, "consents", None, end),
                 history=_batches(session, project.id, "records", h_from, h_to), history_from=h_from, history_to=h_to)


def _check_inputs(scope: Scope) -> list[dict[str, object]]:
    """Every input file as the report records it; a file whose bytes no longer match the hash taken at
    intake is refused (Shanghai art. 22: data traceable) rather than silently verified."""
    out, altered = [], []
    for role, batches in (("records", scope.records), ("consents", scope.consents), ("history", scope.history)):
        for b in batches:
            path = Path(b.accepted_path)
            if not path.is_file() or sha256_file(path) != b.accepted_sha256:
                altered.append(b.batch_id)
            out.append({"role": role, "batch_id": b.batch_id, "business_date": b.business_date.isoformat(),
                        "sha256": b.sha256, "accepted_sha256": b.accepted_sha256, "rows_accepted": b.rows_accepted})
    if altered:
        raise Invalid([reason("scenario_input_altered", batches=", ".join(sorted(set(altered))))])
    return out


# --- the computation ---------------------------------------------------------------------------------


def _period_end_sql(kind: str, day: str) -> str:
    """The last day of the period `day` falls in, in DuckDB."""
    if kind == "monthly":
        return f"last_day({day})"
    if kind == "quarterly":
        return f"last_day(CAST(date_trunc('quarter', {day}) AS DATE) + INTERVAL 2 MONTH)"
    return f"make_date(year({day}), 12, 31)"


@dataclass(frozen=True)
class Received:
    """What the period's input files hold besides the totals: per activity the records of the period and
    their quantity (steps), late records of the period, and back-dated records."""

    by_activity: dict[str, tuple[int, int]]
    late: int
    back_dated: int


def _received(con: duckdb.DuckDBPyConnection, scope: Scope, kind: str) -> Received:
    """One scan of the input files; a record id seen twice among them (intake refuses that, so the files
    were not written by it) refuses the verification rather than counting a reduction twice."""
    if not scope.records:
        return Received({}, 0, 0)
    p, files = scope.period, _files(scope.records)
    in_p = f"activity_date BETWEEN DATE '{p.start}' AND DATE '{p.end}'"
    back = (f"business_date BETWEEN DATE '{p.start}' AND DATE '{p.end}' AND activity_date < DATE '{p.start}' "
            f"AND business_date > {_period_end_sql(kind, 'activity_date')} + INTERVAL {scope.late_days} DAY")
    rows = con.execute(f"SELECT activity_type, count(*) FILTER ({in_p}), coalesce(sum(quantity_steps) FILTER "
                       f"({in_p}), 0), count(*) FILTER ({in_p} AND late), count(*) FILTER ({back}) "
                       f"FROM read_parquet({files}) GROUP BY 1 ORDER BY 1").fetchall()
    # distinct 64-bit hashes prove distinct ids, cheaper than a set of strings; only a repeated hash (a
    # repeated id, or once in ~10^11 periods a collision) has the ids themselves counted
    twice = con.execute(f"SELECT count(*) - count(DISTINCT hash(record_id)) FROM read_parquet({files}) "
                        f"WHERE {in_p}").fetchall()[0][0]
    if twice:
        twice = con.execute(f"SELECT count(*) - count(DISTINCT record_id) FROM read_parquet({files}) "
                            f"WHERE {in_p}").fetchall()[0][0]
    if twice:
        raise Invalid([reason("scenario_duplicate_records", count=int(twice))])
    return Received(by_activity={str(t): (int(n), int(q)) for t, n, q, _, _ in rows if int(n)},
                    late=sum(int(r[3]) for r in rows), back_dated=sum(int(r[4]) for r in rows))


def _figures(scope: Scope, totals: Totals, received: Received, days: dict[date, dict[str, int]], users: pa.Table,
             history: dict[date, int], inputs: list[dict[str, object]]) -> dict[str, Any]:
    p = scope.period
    own = [b for b in scope.records if p.start <= b.business_date <= p.end]
    exclusions = {"back_dated": received.back_dated, **{k: int(totals.excluded.get(k, 0)) for k in
                                                         ("no_consent", "no_parameter", "formula_undefined")}}
    by_activity = {}
    for t, (n, q) in sorted(received.by_activity.items()):
        a = scope.activities.get(t)
        by_activity[t] = {"unit": a.unit if a else "", "records": n, "quantity": _units(q, a) if a else str(q)}
    series = rules.day_series(p.days, days)
    return {
        "period": {"key": p.key, "start": p.start.isoformat(), "end": p.end.isoformat(), "late_days": scope.late_days},
        "batches": {"count": len(own), "rows_total": sum(b.rows_total for b in own),
                    "rows_accepted": sum(b.rows_accepted for b in own),
                    "rows_rejected": sum(b.rows_rejected for b in own), "late": sum(b.late for b in own)},
        "rejections": rules.summed(b.rejections for b in own),
        "pii": rules.pii_counts(b.rejections for b in own),
        "records": {"in_period": totals.records, "counted": totals.used, "late": received.late,
                    "excluded": sum(exclusions.values())},
        "exclusions": {code: exclusions[code] for code in rules.VERIFY_EXCLUSIONS},
        "capped_user_days": totals.capped,
        "received_by_activity": by_activity,
        "totals": {"reduction_g": totals.total_g},
        "participants": users.num_rows,
        "days": series,
        "anomalies": anomalous_days({d: int(v["reduction_g"]) for d, v in days.items()}, history),
        "history": {"from": scope.history_from.isoformat(), "to": scope.history_to.isoformat(), "days": len(history)},
        "inputs": inputs,
        "parameters": rules.parameters_used(scope.activities, scope.version.parameters, p.days),
    }


def _units(steps: int, activity: Activity) -> str:
    """Steps back to the activity's unit as an exact decimal string."""
    if activity.decimals == 0:
        return str(steps)
    whole, frac = divmod(steps, activity.scale)
    return f"{whole}.{frac:0{activity.decimals}d}"


def _totals(scope: Scope, batches: Sequence[ScenarioBatch], start: date, end: date, out: Path,
            engine: str) -> Totals:
    return user_day_totals([Path(b.accepted_path) for b in batches], activities=scope.activities,
                           registered=scope.version.parameters, start=start, end=end, out=out,
                           consents=[Path(b.accepted_path) for b in scope.consents],
                           engine="dask" if engine == "dask" else "duckdb")


def compute(scope: Scope, inputs: list[dict[str, object]], *, engine: str = "duckdb"
            ) -> tuple[dict[str, Any], pa.Table]:
    """The figures and the per-user eligible reductions (sorted by user) of the period: the per-user,
    per-day totals on the chosen engine (totals.py: the same rows on DuckDB and Dask), then the
    verification's own counts over the same files."""
    if engine not in ENGINES:
        raise Invalid([reason("scenario_engine_unknown", engine=engine)])
    # the ignore below: a scenario's jurisdiction has a loaded profile (checked at start-up)
    kind = get_profile(scope.project.jurisdiction).scenarios.period  # type: ignore[union-attr]
    jur, pid, key = scope.project.jurisdiction, scope.project.id or 0, scope.period.key
    out = path_for(jur, pid, "tmp", f"{key}-user-days.parquet")
    past = path_for(jur, pid, "tmp", f"{key}-history-days.parquet")
    con = connect(memory_limit=MEMORY_LIMIT, temp=out.parent / f".{key}-verify.spill")
    try:
        received = _received(con, scope, kind)
        totals = _totals(scope, scope.records, scope.period.start, scope.period.end, out, engine)
        history = _totals(scope, scope.history, scope.history_from, scope.history_to, past, engine).per_day
        source = f"read_parquet('{_lit(str(out))}')"
        users = con.sql(f"SELECT user_id, CAST(sum(grams) AS BIGINT) AS reduction_g FROM {source} GROUP BY 1 "
                        f"HAVING sum(grams) > 0 ORDER BY 1").to_arrow_table().cast(USERS_SCHEMA)
        days = {d: {"records": int(n), "users": int(u), "reduction_g": int(g)} for d, n, u, g in con.execute(
            f"SELECT activity_date, sum(records), count(DISTINCT user_id) FILTER (grams > 0), sum(grams) "
            f"FROM {source} GROUP BY 1").fetchall()}
    finally:
        con.close()
        out.unlink(missing_ok=True)
        past.unlink(missing_ok=True)
    return _figures(scope, totals, received, days, users, history, inputs), users


def _write_users(users: pa.Table, path: Path) -> str:
    """The per-user file, written the same way by every engine (same bytes for the same rows); its SHA-256."""
    tmp = path.with_suffix(".part")
    pq.write_table(users, tmp, compression="zstd", use_dictionary=False, write_statistics=False,
                   row_group_size=1 << 20)
    tmp.replace(path)
    return sha256_file(path)


def verify_period(session: Session, project_id: int, period_key: str, *, engine: str = "duckdb",
                  actor_id: int | None = None) -> ScenarioReport:
    """The verification report of the scenario's period: the existing one when the inputs, parameters and
    figures are the same (same digest), else a new version. The caller holds the scenario's lock (`run`)."""
    scope = scope_of(session, project_id, period_key)
    inputs = _check_inputs(scope)
    figures, users = compute(scope, inputs, engine=engine)
    jurisdiction, key = scope.project.jurisdiction, scope.period.key
    staged = path_for(jurisdiction, project_id, "tmp", f"{key}-users.parquet")
    users_sha256 = _write_users(users, staged)
    digest = rules.report_digest(figures, scope.version.quantification or {}, users_sha256)
    existing = session.exec(select(ScenarioReport).where(ScenarioReport.project_id == project_id,
                                                         ScenarioReport.period == key,
                                                         ScenarioReport.digest == digest)).first()
    if existing is not None:
        staged.unlink(missing_ok=True)
        return existing
    final = path_for(jurisdiction, project_id, "periods", f"{key}-{digest[:16]}-users.parquet")
    staged.replace(final)
    report = ScenarioReport(project_id=project_id, jurisdiction=jurisdiction, period=key,
                            period_start=scope.period.start, period_end=scope.period.end, engine=engine,
                            digest=digest, figures=figures, users_path=str(final), users_sha256=users_sha256,
                            created_at=clock.now(), created_by=actor_id)
    session.add(report)
    session.flush()
    return report


@contextmanager
def locked(db: Database, jurisdiction: str, project_id: int) -> Iterator[Session]:
    """One transaction under the scenario's lock: no batch lands while a period is read, and a second
    verification of the same inputs finds the first's committed report."""
    with scenario_lock(jurisdiction, project_id), db.write() as session:
        yield session


def _scenario(db: Database, project_id: int) -> Project:
    with db.read() as session:
        project = session.get(Project, project_id)
        if project is None or project.kind != "scenario":
            raise NotFound.of("scenario")
        return project


def run(db: Database, project_id: int, period_key: str, *, engine: str = "duckdb",
        actor_id: int | None = None) -> ScenarioReport:
    """Verify under the scenario's lock, in one transaction (flows and the CLI call this)."""
    with locked(db, _scenario(db, project_id).jurisdiction, project_id) as session:
        return verify_period(session, project_id, period_key, engine=engine, actor_id=actor_id)


RUNS = ("review_centre", "case_officer")  # Ordos art. 15: the platform verifies, the review centre reviews


def command(db: Database, actor: Actor, project_id: int, period_key: str, engine: str = "duckdb",
            idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
    """An officer's or the review centre's request to verify a period: 201 with a new report (version), 200
    with the existing one when nothing changed. 404 for a scenario outside the actor's jurisdictions."""
    project = _scenario(db, project_id)
    jurisdiction = project.jurisdiction
    owner = actor.holds("applicant", jurisdiction) and actor.org_id == project.owner_org_id
    if not owner and not any(actor.holds(r, jurisdiction) for r in STAFF_ROLES):
        raise NotFound.of("scenario")  # not theirs to see (the enterprise reads its reports, runs none)
    if not any(actor.holds(r, jurisdiction) for r in RUNS):
        raise Forbidden([role_required(*RUNS)])

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        before = session.exec(select(ScenarioReport.id).where(ScenarioReport.project_id == project_id)).all()
        report = verify_period(session, project_id, period_key, engine=engine, actor_id=actor.user_id)
        return (200 if report.id in before else 201), {"report_id": report.id}

    request = {"verify": project_id, "period": period_key, "engine": engine}
    with scenario_lock(jurisdiction, project_id):
        return once(db, Idem(actor.key, idempotency_key, request), work)


def reports(session: Session, project_id: int, period_key: str | None = None) -> list[ScenarioReport]:
    """A scenario's reports, newest version first (the history is kept)."""
    query = select(ScenarioReport).where(ScenarioReport.project_id == project_id)
    if period_key is not None:
        query = query.where(ScenarioReport.period == period_key)
    return list(session.exec(query.order_by(col(ScenarioReport.id).desc())))


def users_of(report: ScenarioReport) -> Mapping[str, int]:
    """The report's per-user eligible reductions (the allocation's input), checked against its hash."""
    path = Path(report.users_path)
    if sha256_file(path) != report.users_sha256:
        raise Invalid([reason("scenario_input_altered", batches=path.name)])
    table = pq.read_table(path)
    return dict(zip(table.column("user_id").to_pylist(), table.column("reduction_g").to_pylist(), strict=True))
