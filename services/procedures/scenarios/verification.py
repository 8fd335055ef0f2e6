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
from services.store.engine import Database
from services.store.tables import MethodologyVersion, Project, ScenarioBatch, ScenarioReport
from states import scenario_verification as rules
from states.messages import Reason, reason, role_required
from states.profiles import get_profile
from states.scenarios import (
    Activity,
    Period,
    activities_of,
    anomalous_days,
    check_activity,
    factor_table,
    formula_sql,
    grams_sql,
    parse_period,
)

ENGINES = ("duckdb",)
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
        kind = profile.scenarios.period if profile else "monthly"
        problems.append(reason("scenario_period_unknown", period=period_key, kind=kind))
    activities = activities_of(version.quantification) if version and version.quantification else {}
    if not activities:
        problems.append(reason("scenario_no_quantification"))
    assert version is not None or not activities
    for activity in activities.values():
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


# --- the computation (DuckDB) ------------------------------------------------------------------------


def _period_end_sql(kind: str, day: str) -> str:
    """The last day of the period `day` falls in, in DuckDB."""
    if kind == "monthly":
        return f"last_day({day})"
    if kind == "quarterly":
        return f"last_day(CAST(date_trunc('quarter', {day}) AS DATE) + INTERVAL 2 MONTH)"
    return f"make_date(year({day}), 12, 31)"


def _user_days(con: duckdb.DuckDBPyConnection, name: str, scope: Scope, batches: Sequence[ScenarioBatch],
               start: date, end: date, kind: str) -> None:
    """Table `name`: one row per (user, activity, day, class) of the records of `batches` whose activity
    date lies in [start, end] (class `counted` or `duplicate`) or which arrived in it back-dated past their
    own period's cut-off (class `back_dated`), with records, late records and quantity in steps."""
    columns = ("user_id VARCHAR, activity_type VARCHAR, activity_date DATE, cls VARCHAR, records BIGINT, "
               "late BIGINT, steps HUGEINT")
    if not batches:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
        return
    order = ", ".join(f"('{_lit(b.accepted_path)}', {i})" for i, b in enumerate(batches))
    con.execute(f"CREATE OR REPLACE TEMP TABLE src_order (path VARCHAR, ord BIGINT); "
                f"INSERT INTO src_order VALUES {order}")
    in_window = f"activity_date BETWEEN DATE '{start}' AND DATE '{end}'"
    back = (f"business_date BETWEEN DATE '{start}' AND DATE '{end}' AND activity_date < DATE '{start}' "
            f"AND business_date > {_period_end_sql(kind, 'activity_date')} + INTERVAL {scope.late_days} DAY")
    con.execute(f"CREATE OR REPLACE TEMP VIEW rin AS SELECT r.*, o.ord * 4294967296 + r.file_row_number AS seq, "
                f"({in_window}) AS in_window, ({back}) AS back FROM read_parquet({_files(batches)}, filename = true, "
                f"file_row_number = true) r JOIN src_order o ON r.filename = o.path")
    con.execute("CREATE OR REPLACE TEMP TABLE dup AS SELECT record_id, min(seq) AS keep FROM rin WHERE in_window "
                "GROUP BY record_id HAVING count(*) > 1")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT user_id, activity_type, activity_date, "
                "CASE WHEN back THEN 'back_dated' WHEN d.keep IS NOT NULL AND seq <> d.keep THEN 'duplicate' "
                "ELSE 'counted' END AS cls, count(*) AS records, count(*) FILTER (late) AS late, "
                "sum(quantity_steps) AS steps FROM rin LEFT JOIN dup d USING (record_id) WHERE in_window OR back "
                "GROUP BY ALL")


def _consents(con: duckdb.DuckDBPyConnection, batches: Sequence[ScenarioBatch]) -> None:
    """Table `consent(user_id, effective_date, granted)`: one event per user and date, withdrawal winning."""
    if not batches:
        con.execute("CREATE OR REPLACE TEMP TABLE consent (user_id VARCHAR, effective_date DATE, granted BOOLEAN)")
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE consent AS SELECT user_id, effective_date, "
                f"NOT bool_or(status = 'withdrawn') AS granted FROM read_parquet({_files(batches)}) GROUP BY ALL")


def _factors(con: duckdb.DuckDBPyConnection, scope: Scope, days: Sequence[date]) -> list[str]:
    """Table `fac(activity_type, activity_date, p_<name>...)`: the parameters in force each day; the names."""
    locals_ = sorted({local for a in scope.activities.values() for local in a.bind})
    rows = factor_table(scope.activities, scope.version.parameters, days)
    table = pa.table({"activity_type": pa.array([r["activity_type"] for r in rows], pa.string()),
                      "activity_date": pa.array([r["activity_date"] for r in rows], pa.date32()),
                      **{f"p_{n}": pa.array([r.get(f"p_{n}") for r in rows], pa.float64()) for n in locals_}})
    con.register("fac_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE fac AS SELECT * FROM fac_arrow")
    con.unregister("fac_arrow")
    return locals_


def _evaluated(con: duckdb.DuckDBPyConnection, scope: Scope, ud: str, out: str, days: Sequence[date]) -> None:
    """Table `out`: the counted user-days of `ud` with consent, cap, parameters and grams (NULL: excluded)."""
    _factors(con, scope, days)
    kg, missing, capped = [], [], []
    for a in scope.activities.values():
        t = f"'{_lit(a.type)}'"
        q = f"(CAST(least(u.steps, {a.cap_steps}) AS DOUBLE) / {a.scale}.0)"
        kg.append(f"WHEN {t} THEN {formula_sql(a.tree, {'quantity': q, **{n: f'f.p_{n}' for n in a.bind}})}")
        missing.append(f"WHEN {t} THEN {' OR '.join(f'f.p_{n} IS NULL' for n in a.bind) or 'false'}")
        capped.append(f"WHEN {t} THEN {a.cap_steps}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out}_kg AS SELECT u.*, c.granted IS TRUE AS consent, "
                f"CASE u.activity_type {' '.join(missing)} END AS no_parameter, "
                f"CASE u.activity_type {' '.join(capped)} END AS cap, "
                f"CASE u.activity_type {' '.join(kg)} END AS kg "
                f"FROM (SELECT * FROM {ud} WHERE cls = 'counted') u "
                f"ASOF LEFT JOIN consent c ON u.user_id = c.user_id AND u.activity_date >= c.effective_date "
                f"LEFT JOIN fac f ON u.activity_type = f.activity_type AND u.activity_date = f.activity_date")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT *, CASE WHEN NOT consent THEN 'no_consent' "
                f"WHEN no_parameter THEN 'no_parameter' WHEN kg IS NULL OR NOT isfinite(kg) THEN 'formula_undefined' "
                f"END AS excluded, CASE WHEN consent AND NOT no_parameter AND isfinite(kg) THEN {grams_sql('kg')} "
                f"END AS grams FROM {out}_kg")


def _daily_totals(con: duckdb.DuckDBPyConnection, table: str) -> dict[date, int]:
    rows = con.execute(f"SELECT activity_date, sum(grams) FROM {table} WHERE grams IS NOT NULL GROUP BY 1").fetchall()
    return {d: int(g) for d, g in rows}


def _figures(con: duckdb.DuckDBPyConnection, scope: Scope, users: pa.Table, history: dict[date, int],
             inputs: list[dict[str, object]]) -> dict[str, Any]:
    p = scope.period
    own = [b for b in scope.records if p.start <= b.business_date <= p.end]
    excl = dict(con.execute("SELECT cls, sum(records) FROM ud WHERE cls <> 'counted' GROUP BY 1").fetchall())
    excl.update(con.execute("SELECT excluded, sum(records) FROM ev WHERE excluded IS NOT NULL GROUP BY 1").fetchall())
    counted, late, total_g = con.execute("SELECT coalesce(sum(records), 0), coalesce(sum(late), 0), "
                                         "coalesce(sum(grams), 0) FROM ev WHERE grams IS NOT NULL").fetchone()  # type: ignore[misc]
    in_period = con.execute("SELECT coalesce(sum(records), 0) FROM ud WHERE cls <> 'back_dated'").fetchone()[0]  # type: ignore[index]
    by_activity = {}
    for a in sorted(scope.activities.values(), key=lambda x: x.type):
        n, q, g, cd, excess = con.execute(
            "SELECT coalesce(sum(records), 0), coalesce(sum(least(steps, cap)), 0), coalesce(sum(grams), 0), "
            "count(*) FILTER (steps > cap), coalesce(sum(steps - cap) FILTER (steps > cap), 0) FROM ev "
            "WHERE grams IS NOT NULL AND activity_type = ?", [a.type]).fetchone()  # type: ignore[misc]
        by_activity[a.type] = {"unit": a.unit, "records": int(n), "quantity": _units(int(q), a), "reduction_g": int(g),
                               "capped_user_days": int(cd), "capped_excess": _units(int(excess), a)}
    days = {d: {"records": int(n), "users": int(u), "reduction_g": int(g)} for d, n, u, g in con.execute(
        "SELECT activity_date, sum(records), count(DISTINCT user_id), sum(grams) FROM ev WHERE grams IS NOT NULL "
        "GROUP BY 1").fetchall()}
    series = rules.day_series(p.days, days)
    return {
        "period": {"key": p.key, "start": p.start.isoformat(), "end": p.end.isoformat(), "late_days": scope.late_days},
        "batches": {"count": len(own), "rows_total": sum(b.rows_total for b in own),
                    "rows_accepted": sum(b.rows_accepted for b in own),
                    "rows_rejected": sum(b.rows_rejected for b in own), "late": sum(b.late for b in own)},
        "rejections": rules.summed(b.rejections for b in own),
        "pii": rules.pii_counts(b.rejections for b in own),
        "records": {"in_period": int(in_period), "counted": int(counted), "late": int(late),
                    "excluded": sum(int(v) for v in excl.values())},
        "exclusions": {code: int(excl.get(code, 0)) for code in rules.VERIFY_EXCLUSIONS},
        "totals": {"reduction_g": int(total_g), "by_activity": by_activity},
        "participants": users.num_rows,
        "days": series,
        "anomalies": anomalous_days({d: int(s["reduction_g"]) for d, s in zip(p.days, series, strict=True)  # type: ignore[call-overload]
                                     if s["records"]}, history),
        "history": {"from": scope.history_from.isoformat(), "to": scope.history_to.isoformat(), "days": len(history)},
        "inputs": inputs,
        "parameters": rules.parameters_used(scope.activities, scope.version.parameters, p.days),
    }


def _units(steps: int, activity: Activity) -> str:
    """Steps back to the activity's unit as an exact decimal string."""
    if activity.decimals == 0:
        return str(steps)
    sign, steps = ("-", -steps) if steps < 0 else ("", steps)
    whole, frac = divmod(steps, activity.scale)
    return f"{sign}{whole}.{frac:0{activity.decimals}d}"


def compute(scope: Scope, inputs: list[dict[str, object]], *, engine: str = "duckdb"
            ) -> tuple[dict[str, Any], pa.Table]:
    """The figures and the per-user eligible reductions (sorted by user) of the period."""
    if engine not in ENGINES:
        raise Invalid([reason("scenario_engine_unknown", engine=engine)])
    kind = get_profile(scope.project.jurisdiction).scenarios.period  # type: ignore[union-attr]
    con = connect()
    try:
        _consents(con, scope.consents)
        _user_days(con, "ud", scope, scope.records, scope.period.start, scope.period.end, kind)
        _evaluated(con, scope, "ud", "ev", scope.period.days)
        _user_days(con, "hud", scope, scope.history, scope.history_from, scope.history_to, kind)
        _evaluated(con, scope, "hud", "hev", Period("history", scope.history_from, scope.history_to).days)
        history = _daily_totals(con, "hev")
        users = con.sql("SELECT user_id, CAST(sum(grams) AS BIGINT) AS reduction_g FROM ev WHERE grams IS NOT NULL "
                        "GROUP BY user_id HAVING sum(grams) > 0 ORDER BY user_id").to_arrow_table()
        users = users.cast(USERS_SCHEMA)
        figures = _figures(con, scope, users, history, inputs)
    finally:
        con.close()
    return figures, users


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


def _jurisdiction(db: Database, project_id: int) -> str:
    with db.read() as session:
        project = session.get(Project, project_id)
        if project is None or project.kind != "scenario":
            raise NotFound.of("scenario")
        return project.jurisdiction


def run(db: Database, project_id: int, period_key: str, *, engine: str = "duckdb",
        actor_id: int | None = None) -> ScenarioReport:
    """Verify under the scenario's lock, in one transaction (flows and the CLI call this)."""
    with locked(db, _jurisdiction(db, project_id), project_id) as session:
        return verify_period(session, project_id, period_key, engine=engine, actor_id=actor_id)


RUNS = ("review_centre", "case_officer")  # Ordos art. 15: the platform verifies, the review centre reviews


def command(db: Database, actor: Actor, project_id: int, period_key: str, engine: str = "duckdb",
            idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
    """An officer's or the review centre's request to verify a period: 201 with a new report (version), 200
    with the existing one when nothing changed. 404 for a scenario outside the actor's jurisdictions."""
    jurisdiction = _jurisdiction(db, project_id)
    if not any(actor.holds(r, jurisdiction) for r in STAFF_ROLES):
        raise NotFound.of("scenario")
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
