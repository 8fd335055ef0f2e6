"""Orchestration benchmark: one sweep over a million open timers, outbox dispatch throughput, and
what a Prefect flow run adds per batch.

    python bench/orchestration.py [--db postgres|sqlite] [--timers N] [--due N] [--rounds R]
                                  [--sweep-rounds S] [--dispatch-rows N] [--flow-rows N]
                                  [--tiny-batches N] [--profile N] [--no-flows]

Issue: with 1,000,000 open timers of which 1,000 are due, the time of one sweep (target: under 1 s on
PostgreSQL — an index range scan, never a full scan); dispatch throughput in outbox rows per second;
the overhead a flow run adds per batch.

Data set (a fresh `bench_orch` schema on PostgreSQL, dropped at the end; a temp SQLite file if asked):

* real cases: `--due` x `--sweep-rounds` Shandong project registrations (plus 1.5 x `--profile`)
  driven through the command path to `publicity` (`services.demo.drive_to`), so each has a real
  pending `publicity_end` timer. Before a sweep round, exactly `--due` of those timers are moved
  into the past; the others stay pending in the future (they count among the open timers).
* filler: 1,000 cases inserted in bulk (state `publicity`) and as many pending `publicity_end`
  timers on them as make `--timers` open timers in all, due between 30 days and 2 years from now
  (PostgreSQL: one `INSERT … SELECT generate_series`; SQLite: one recursive CTE). Then VACUUM
  ANALYZE (PostgreSQL) / ANALYZE (SQLite).

Measured (median [min–max] over runs; nothing about timing is asserted):

1. the due-timer selection alone — the statement `services.orchestration.timers.run_due_timers` runs first,
   captured as sent to the driver — and its plan (`EXPLAIN (ANALYZE, BUFFERS)`); a full-scan
   reference: the same statement with index scans disabled, in the same run.
2. one `services.orchestration.sweep.sweep(db, now)`: fires the due timers through the command path (batches
   of `services.orchestration.timers.BATCH`, one transaction a batch), then reminders and breaches; wall time,
   split by part, and ms per timer.
   Fired timers cannot be un-fired, so a round needs `--due` fresh real cases (~0.2 s each to
   build): `--sweep-rounds` defaults to 1.
3. `send_reminders` and `record_breaches` alone on the loaded database (few due tasks).
4. dispatch: `--dispatch-rows` `notify` rows drained by `drain(db, Channels(smtp_host=None), batch=100)`
   (the rows the case building queued are marked done first), and SQL statements per row.
5. flows (inside `prefect_test_harness`, started once; Prefect's default logging left on): in each
   round, back to back, `dispatch_flow` against `drain()` on `--flow-rows` rows in batches of 100, on
   an empty outbox (the fixed cost of a run), and on `--tiny-batches` batches of one row (the cost of
   one task); `sweep_flow` against `sweep()` with nothing due.
6. if the sweep misses its target: SQL statements and database time per fired timer, and a cProfile
   (top 20 cumulative, top 12 own time) of firing `--profile` timers.

The one hard failure is a plan, not a time: if the due-timer query scans the timers table (Seq Scan
on PostgreSQL, SCAN on SQLite) the script exits 2. Results also go to
bench/results/orchestration-<db>-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import math
import os
import platform
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# before anything imports prefect (flows/dispatch.py imports prefect before flows/common.py sets these)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import sqlalchemy as sa
from sqlalchemy import event

from bench.common import Bench, open_bench

PG_SCHEMA = "bench_orch"
CODE = "SD"
TARGET_SWEEP_S = 1.0
RESULTS = ROOT / "bench" / "results"
FILLER_CASES = 1000
FILLER_FROM = timedelta(days=30)  # filler timers fall due between 30 days and 2 years + 30 days from now
FILLER_SPAN_DAYS = 730
BATCH = 100
QUERY_RUNS = 10


# --- database --------------------------------------------------------------------------------


def open_database(kind: str) -> Bench:
    return open_bench(kind, prefix="bench-orch-", schema=PG_SCHEMA)


def scalar(db: Any, sql: str, **params: Any) -> Any:
    with db.reader.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def analyze(b: Bench) -> None:
    if b.pg:
        with b.db.writer.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            tables = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = %(s)s", {"s": PG_SCHEMA}).scalars().all()
            for table in tables:
                conn.exec_driver_sql(f'VACUUM ANALYZE {PG_SCHEMA}."{table}"')
    else:
        with b.db.writer.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


# --- data set --------------------------------------------------------------------------------


def build_cases(db: Any, n: int, what: str) -> list[int]:
    """n real cases in `publicity`, through the command path; returns their ids."""
    from services import demo

    driver = demo.Driver(db)
    app = demo.application(CODE)
    ids: list[int] = []
    t0 = time.perf_counter()
    for i in range(n):
        cid = driver.open(f"{CODE.lower()}_applicant", CODE, app)
        state = demo.drive_to(driver, CODE, cid, "publicity")
        if state != "publicity":
            raise SystemExit(f"case {cid} stopped in {state!r}, not publicity")
        ids.append(cid)
        if (i + 1) % 250 == 0 or i + 1 == n:
            elapsed = time.perf_counter() - t0
            print(f"  {what}: {i + 1}/{n} cases in publicity ({elapsed:.0f}s, "
                  f"{elapsed / (i + 1) * 1000:.0f} ms a case)", flush=True)
    return ids


def publicity_timers(db: Any, case_ids: list[int]) -> list[int]:
    """The pending publicity_end timer of each case, in case order."""
    from sqlmodel import select

    from services.store.tables import Timer

    with db.read() as session:
        rows = dict(session.exec(select(Timer.case_id, Timer.id).where(
            Timer.case_id.in_(case_ids), Timer.kind == "publicity_end", Timer.status == "pending")).all())
    missing = [c for c in case_ids if c not in rows]
    if missing:
        raise SystemExit(f"no pending publicity_end timer on cases {missing[:5]}…")
    return [rows[c] for c in case_ids]


def make_due(db: Any, timer_ids: list[int], now: datetime) -> None:
    """Move these timers into the past (a second apart, so the ORDER BY has work to do)."""
    from services.store.tables import Timer

    t = Timer.__table__
    stmt = (t.update().where(t.c.id == sa.bindparam("tid"))
            .values(fire_at=sa.bindparam("at", type_=t.c.fire_at.type)))
    with db.writer.begin() as conn:
        conn.execute(stmt, [{"tid": tid, "at": now - timedelta(seconds=len(timer_ids) - i)}
                            for i, tid in enumerate(timer_ids)])


def load_fillers(b: Bench, n_timers: int, now: datetime) -> tuple[int, int]:
    """FILLER_CASES bulk-inserted cases and n_timers pending timers on them, due in the future."""
    from services.store.tables import Case

    cases = Case.__table__
    with b.db.writer.begin() as conn:
        before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(cases.c.id), 0))).scalar()
        conn.execute(cases.insert(), [
            {"procedure": "project_registration", "jurisdiction": CODE, "state": "publicity", "version": 1,
             "subject_kind": "project", "application": {"title": f"bench filler {i}"}, "created_at": now,
             "updated_at": now, "audit_seq": 0, "audit_hash": "0" * 64} for i in range(FILLER_CASES)])
        lo, hi, count = conn.execute(
            sa.select(sa.func.min(cases.c.id), sa.func.max(cases.c.id), sa.func.count())
            .where(cases.c.id > before)).one()
        if count != FILLER_CASES or hi - lo + 1 != FILLER_CASES:
            raise SystemExit(f"filler case ids are not contiguous: {lo}..{hi}, {count} rows")
        start = now + FILLER_FROM
        columns = ('INSERT INTO timers (case_id, jurisdiction, kind, "trigger", state, fire_at, provisional, '
                   "status) ")
        if b.pg:
            conn.exec_driver_sql("SELECT setseed(0.42)")
            conn.execute(sa.text(
                columns
                + "SELECT :lo + (g % :nc), :code, 'publicity_end', 'publicity_end', 'publicity', "
                "       CAST(:start AS timestamptz) + random() * make_interval(days => :span), "
                "       false, 'pending' "
                "FROM generate_series(0, :n - 1) AS g"),
                {"lo": lo, "nc": FILLER_CASES, "code": CODE, "start": start, "span": FILLER_SPAN_DAYS,
                 "n": n_timers})
        else:
            # naive UTC text in the format SQLAlchemy's SQLite DATETIME stores (so comparisons agree)
            conn.execute(sa.text(
                "WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < :n - 1) "
                + columns
                + "SELECT :lo + (x % :nc), :code, 'publicity_end', 'publicity_end', 'publicity', "
                "       strftime('%Y-%m-%d %H:%M:%S', :start, "
                "                '+' || (abs(random()) % :span_s) || ' seconds') || '.000000', "
                "       0, 'pending' FROM g"),
                {"lo": lo, "nc": FILLER_CASES, "code": CODE, "start": start.strftime("%Y-%m-%d %H:%M:%S"),
                 "span_s": FILLER_SPAN_DAYS * 86400, "n": n_timers})
    return lo, hi


# --- SQL capture and plans -------------------------------------------------------------------


@dataclass
class SqlLog:
    statements: list[tuple[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    _t0: list[float] = field(default_factory=list)


@contextmanager
def recording(db: Any) -> Iterator[SqlLog]:
    """Every statement sent to the driver (both engines on SQLite), and the time spent executing them."""
    log = SqlLog()
    engines = [db.writer] if db.reader is db.writer else [db.writer, db.reader]

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        log.statements.append((statement, parameters))
        log._t0.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        log.seconds += time.perf_counter() - log._t0.pop()

    for e in engines:
        event.listen(e, "before_cursor_execute", before)
        event.listen(e, "after_cursor_execute", after)
    try:
        yield log
    finally:
        for e in engines:
            event.remove(e, "before_cursor_execute", before)
            event.remove(e, "after_cursor_execute", after)


def shape(statement: str) -> str:
    """`VERB table` of a statement (SELECT … FOR UPDATE marked), for counting what a unit of work sends."""
    text = " ".join(statement.split())
    verb = text.split(" ", 1)[0].upper()
    m = {"SELECT": re.search(r"\bFROM \"?(\w+)", text), "UPDATE": re.match(r"UPDATE \"?(\w+)", text, re.I),
         "INSERT": re.match(r"INSERT INTO \"?(\w+)", text, re.I),
         "DELETE": re.match(r"DELETE FROM \"?(\w+)", text, re.I)}.get(verb)
    locked = " FOR UPDATE" if verb == "SELECT" and " FOR UPDATE" in text.upper() else ""
    return f"{verb}{locked} {m.group(1)}" if m else verb


def statement_mix(log: SqlLog, units: int) -> tuple[str, str]:
    """Statements per unit of work: ('SELECT 7, UPDATE 8, …', 'UPDATE cases 1, …'), by verb and by verb
    and table."""
    verbs: dict[str, int] = {}
    shapes: dict[str, int] = {}
    for statement, _ in log.statements:
        sh = shape(statement)
        verbs[sh.split(" ")[0]] = verbs.get(sh.split(" ")[0], 0) + 1
        shapes[sh] = shapes.get(sh, 0) + 1
    def fmt(counts: dict[str, int]) -> str:
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{k} {v / units:.2g}" for k, v in ordered)

    return fmt(verbs), fmt(shapes)


def explain(b: Bench, statement: str, params: Any, analyze_it: bool = False) -> list[str]:
    with b.db.reader.connect() as conn:
        if b.pg:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze_it else "EXPLAIN "
            return list(conn.exec_driver_sql(prefix + statement, params).scalars())
        return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]


def full_scans(b: Bench, plan: list[str], table: str) -> list[str]:
    if b.pg:
        return [line.strip() for line in plan if f"Seq Scan on {table}" in line]
    return [line for line in plan if line.startswith((f"SCAN {table}", f"SCAN TABLE {table}"))]


@contextmanager
def no_index_scans(b: Bench, conn: Any) -> Iterator[None]:
    if b.pg:
        for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")
    yield


def capture_due_query(db: Any, now: datetime, limit: int) -> tuple[str, Any, list[int]]:
    from services.orchestration.timers import _due_ids

    with recording(db) as log:
        ids = _due_ids(db, now, limit)
    found = [(s, p) for s, p in log.statements if s.lstrip().upper().startswith("SELECT") and "timers" in s]
    if len(found) != 1:
        raise SystemExit(f"expected one SELECT on timers from run_due_timers' selection, saw {len(found)}")
    return found[0][0], found[0][1], ids


# --- measurement helpers ---------------------------------------------------------------------


def runs(n: int, fn: Callable[[], Any]) -> list[float]:
    """Seconds for each of n calls (after one untimed warm-up call)."""
    fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def spread(values: list[float], fmt: str = ".1f", scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    if len(v) == 1:
        return f"{v[0]:{fmt}}"
    return f"{statistics.median(v):{fmt}} [{min(v):{fmt}}–{max(v):{fmt}}]"


@dataclass
class Row:
    measurement: str
    value: str
    unit: str
    runs: str
    note: str = ""


HEAD = ("measurement", "median [min–max]", "unit", "runs", "note")


def render_text(rows: list[Row]) -> str:
    cells = [HEAD, *[(r.measurement, r.value, r.unit, r.runs, r.note) for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEAD))]
    fmt = lambda c: "  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip()  # noqa: E731 - a one-line helper, named where it is used
    return "\n".join([fmt(cells[0]), "  ".join("-" * w for w in widths), *map(fmt, cells[1:])])


def render_md(rows: list[Row]) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731 - a one-line helper, named where it is used
    return "\n".join(["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD),
                      *[f"| {esc(r.measurement)} | {r.value} | {r.unit} | {r.runs} | {esc(r.note)} |"
                        for r in rows]])


# --- the benchmark ---------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    due_plan: list[str] = field(default_factory=list)
    due_sql: str = ""
    full_plan_top: str = ""
    other_plans: list[str] = field(default_factory=list)
    profile: str = ""
    failures: list[str] = field(default_factory=list)
    load_at_start: str = ""
    mixes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        note = f"; {row.note}" if row.note else ""
        print(f"  → {row.measurement}: {row.value} {row.unit} ({row.runs}){note}", flush=True)


def measure_due_query(b: Bench, r: Report, now: datetime, due: int, timers: int) -> None:
    from services.orchestration.sweep import next_timer_at
    from services.orchestration.timers import _due_ids

    statement, params, ids = capture_due_query(b.db, now, 1000)
    if len(ids) != min(due, 1000):
        raise SystemExit(f"the due-timer query found {len(ids)} timers, expected {min(due, 1000)}")
    r.due_sql = statement.strip()
    r.due_plan = explain(b, statement, params, analyze_it=True)
    scans = full_scans(b, r.due_plan, "timers")
    index = any("ix_timers_due" in line for line in r.due_plan)
    print("\nplan of the due-timer query:", *["    " + line for line in r.due_plan], "", sep="\n", flush=True)
    if scans or not index:
        r.failures.append("the due-timer query " + (f"scans the timers table: {scans}" if scans
                                                    else "does not use ix_timers_due"))
        print(f"FAIL: {r.failures[-1]}", file=sys.stderr, flush=True)
    # the statement alone on a connection, against the same statement made to read the whole table. On
    # PostgreSQL the reference text differs by a comment: psycopg prepares a statement after a few runs and
    # the server's cached plan would ignore `SET LOCAL enable_indexscan = off`.
    ref_statement = ("/* full-scan reference */ " + statement if b.pg
                     else statement.replace("FROM timers", "FROM timers NOT INDEXED", 1))

    def execute(sql: str, force_full: bool) -> Callable[[], None]:
        def run() -> None:
            with b.db.reader.begin() as conn:
                if force_full:
                    with no_index_scans(b, conn):
                        conn.exec_driver_sql(sql, params).all()
                else:
                    conn.exec_driver_sql(sql, params).all()
        return run

    with b.db.reader.begin() as conn, no_index_scans(b, conn):
        ref_plan = (list(conn.exec_driver_sql("EXPLAIN " + ref_statement, params).scalars()) if b.pg else
                    [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + ref_statement, params)])
    r.full_plan_top = next((line.strip().removeprefix("->").strip() for line in ref_plan
                            if "Scan" in line or "SCAN" in line), ref_plan[0])
    indexed = runs(QUERY_RUNS, execute(statement, False))
    full = runs(QUERY_RUNS, execute(ref_statement, True))
    call = runs(QUERY_RUNS, lambda: _due_ids(b.db, now, 1000))
    r.add(Row(f"due-timer selection (run_due_timers' query), {due:,} of {timers:,} open timers due",
              spread(indexed, ".2f", 1000), "ms", f"{QUERY_RUNS} runs",
              ("index range scan on ix_timers_due" if index and not scans else "FULL SCAN")
              + f"; as _due_ids() with its session: {spread(call, '.2f', 1000)} ms"))
    r.add(Row("  reference: the same statement with index scans disabled", spread(full, ".1f", 1000), "ms",
              f"{QUERY_RUNS} runs", f"{r.full_plan_top.split('  (')[0]}; index/full = "
              f"{statistics.median(indexed) / statistics.median(full):.4f}"))
    with recording(b.db) as log:
        next_timer_at(b.db)
    for sql, prm in log.statements:
        if sql.lstrip().upper().startswith("SELECT"):
            top = [line.strip().removeprefix("->").strip() for line in explain(b, sql, prm)
                   if "Scan" in line or "SCAN" in line or "SEARCH" in line]
            r.other_plans.append(f"next_timer_at: {shape(sql)}: "
                                 + " / ".join(t.split("  (")[0] for t in top))
    nxt = runs(QUERY_RUNS, lambda: next_timer_at(b.db))
    r.add(Row("next_timer_at (embedded scheduler's wake-up query)", spread(nxt, ".2f", 1000), "ms",
              f"{QUERY_RUNS} runs"))


def measure_reminders_breaches(b: Bench, r: Report, now: datetime) -> None:
    from services.orchestration.sweep import record_breaches, send_reminders

    open_tasks = scalar(b.db, "SELECT count(*) FROM tasks WHERE status = 'open'")
    all_tasks = scalar(b.db, "SELECT count(*) FROM tasks")
    for name, fn in (("send_reminders", send_reminders), ("record_breaches", record_breaches)):
        with recording(b.db) as log:
            result = fn(b.db, now)  # also the warm-up: writes what is new, later calls find nothing new
        for statement, params in log.statements:
            if statement.lstrip().upper().startswith("SELECT"):
                scans = [line.strip().removeprefix("->").strip() for line in explain(b, statement, params)
                         if "Scan" in line or "SCAN" in line or "SEARCH" in line]
                entry = f"{name}: {shape(statement)}: " + " / ".join(s.split("  (")[0] for s in scans)
                if entry not in r.other_plans:
                    r.other_plans.append(entry)
        times = runs(QUERY_RUNS, lambda fn=fn: fn(b.db, now))
        r.add(Row(f"{name} alone ({open_tasks} open of {all_tasks} tasks)", spread(times, ".2f", 1000), "ms",
                  f"{QUERY_RUNS} runs", f"first call: {result}"))


def timed_sweep(db: Any, now: datetime) -> tuple[float, dict[str, float], dict[str, Any]]:
    """`sweep(db, now)` with its three parts timed (module globals wrapped for the call, then restored)."""
    import services.orchestration.sweep as sw

    parts: dict[str, float] = {}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                parts[name] = time.perf_counter() - t0
        return timed

    names = ("run_due_timers", "send_reminders", "record_breaches")
    originals = {n: getattr(sw, n) for n in names}
    for n in names:
        setattr(sw, n, wrap(n, originals[n]))
    try:
        t0 = time.perf_counter()
        result = sw.sweep(db, now)
        total = time.perf_counter() - t0
    finally:
        for n in names:
            setattr(sw, n, originals[n])
    return total, parts, result


def measure_sweeps(b: Bench, r: Report, batches: list[list[int]], due: int, timers: int) -> float:
    from services.engine.clock import clock

    totals, fire, rem, bre, per = [], [], [], [], []
    for i, timer_ids in enumerate(batches):
        make_due(b.db, timer_ids, clock.now())
        pending = scalar(b.db, "SELECT count(*) FROM timers WHERE status = 'pending'")
        total, parts, result = timed_sweep(b.db, clock.now())
        expected = min(len(timer_ids), 1000)
        if result["timers_fired"] != expected or result["timers_cancelled"]:
            raise SystemExit(f"sweep fired {result['timers_fired']} and cancelled "
                             f"{result['timers_cancelled']}, expected {expected} fired")
        totals.append(total)
        fire.append(parts["run_due_timers"])
        rem.append(parts["send_reminders"])
        bre.append(parts["record_breaches"])
        per.append(parts["run_due_timers"] / expected)
        print(f"  sweep round {i + 1}/{len(batches)}: {pending:,} open timers, {expected} due: {total:.2f}s "
              f"(fire {parts['run_due_timers']:.2f}s, {per[-1] * 1000:.1f} ms a timer)", flush=True)
    n = plural(len(batches), "round")
    med = statistics.median(totals)
    met = "met" if med < TARGET_SWEEP_S else "MISSED"
    r.add(Row(f"one sweep(): {due:,} due of {timers:,} open timers", spread(totals, ".2f"), "s", n,
              f"target < {TARGET_SWEEP_S:g} s: {met} ({med / TARGET_SWEEP_S:.1f}× the target)"))
    from services.orchestration.timers import BATCH

    r.add(Row(f"  fire the due timers (run_due_timers, {BATCH} a transaction)", spread(fire, ".2f"), "s", n,
              f"{statistics.median(per) * 1000:.1f} ms a timer; "
              f"{statistics.median(fire) / med:.0%} of the sweep"))
    r.add(Row("  send_reminders", spread(rem, ".1f", 1000), "ms", n))
    r.add(Row("  record_breaches", spread(bre, ".1f", 1000), "ms", n))
    return med


def profile_firing(b: Bench, r: Report, count_ids: list[int], prof_ids: list[int]) -> None:
    from services.engine.clock import clock
    from services.orchestration.timers import run_due_timers

    make_due(b.db, count_ids, clock.now())
    with recording(b.db) as log:
        t0 = time.perf_counter()
        result = run_due_timers(b.db, clock.now())
        elapsed = time.perf_counter() - t0
    n = len(result["fired"])
    mix, shapes = statement_mix(log, n)
    r.mixes.append(f"one fired timer ({n} timers, run_due_timers): {shapes}")
    r.add(Row(f"  one fired timer, statement count run ({n} timers)", f"{elapsed / n * 1000:.1f}", "ms",
              "1 run", f"{len(log.statements) / n:.1f} SQL statements a timer ({mix}); "
              f"{log.seconds / n * 1000:.1f} ms in cursor.execute, "
              f"{(elapsed - log.seconds) / n * 1000:.1f} ms Python + commit"))
    make_due(b.db, prof_ids, clock.now())
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    result = run_due_timers(b.db, clock.now())
    prof.disable()
    elapsed = time.perf_counter() - t0
    out = io.StringIO()
    out.write(f"cProfile of run_due_timers firing {len(result['fired'])} timers: "
              f"{elapsed:.2f}s under the profiler\n")
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(20)
    out.write("\nby own time (tottime), top 12:\n")
    stats.sort_stats("tottime").print_stats(12)
    r.profile = "\n".join(line.rstrip() for line in out.getvalue().splitlines()).strip()
    print("\n" + r.profile + "\n", flush=True)


def insert_outbox(db: Any, n: int, tag: str, case_ids: list[int]) -> None:
    from services.engine.clock import clock
    from services.store.tables import Outbox

    at = clock.now() - timedelta(seconds=1)
    with db.writer.begin() as conn:
        conn.execute(Outbox.__table__.insert(), [
            {"key": f"bench:{tag}:{i}", "kind": "notify", "case_id": case_ids[i % len(case_ids)],
             "payload": {"case_id": case_ids[i % len(case_ids)], "target": "applicant", "jurisdiction": CODE,
                         "event": "entered:submitted", "roles": []},
             "status": "pending", "attempts": 0, "created_at": at, "available_at": at} for i in range(n)])


def set_aside_outbox(db: Any) -> int:
    """Rows the case building and the sweeps queued (assign, convene_panel, notices…) are not what the
    dispatch figure is about: mark them done so each drain sees only the bench's own notify rows."""
    with db.writer.begin() as conn:
        return conn.execute(sa.text("UPDATE outbox SET status = 'done', locked_until = NULL "
                                    "WHERE status = 'pending'")).rowcount


def check_drained(db: Any, tag: str, n: int) -> None:
    done = scalar(db, "SELECT count(*) FROM outbox WHERE key LIKE :k AND status = 'done'", k=f"bench:{tag}:%")
    if done != n:
        raise SystemExit(f"outbox rows {tag}: {done} of {n} done")


def measure_dispatch(b: Bench, r: Report, rounds: int, n: int, case_ids: list[int]) -> None:
    from services.orchestration.dispatch import Channels, drain

    channels = Channels(smtp_host=None)
    insert_outbox(b.db, BATCH, "warm0", case_ids)
    drain(b.db, channels, batch=BATCH, max_batches=1)
    # a second warm-up batch, counted: statements and database time a row
    insert_outbox(b.db, BATCH, "warm1", case_ids)
    with recording(b.db) as log:
        t0 = time.perf_counter()
        drain(b.db, channels, batch=BATCH, max_batches=1)
        warm = time.perf_counter() - t0
    check_drained(b.db, "warm1", BATCH)
    mix, shapes = statement_mix(log, BATCH)
    r.mixes.append(f"one dispatched notify row ({BATCH} rows, drain): {shapes}")
    r.add(Row(f"  dispatch, per row ({BATCH} rows, statement count run)", f"{warm / BATCH * 1000:.2f}", "ms",
              "1 run", f"{len(log.statements) / BATCH:.1f} SQL statements a row ({mix}); "
              f"{log.seconds / BATCH * 1000:.2f} ms in cursor.execute, "
              f"{(warm - log.seconds) / BATCH * 1000:.2f} ms Python + commits"))
    dispatch_detail = r.rows.pop()
    rates, per_row = [], []
    batches = math.ceil(n / BATCH)
    for i in range(rounds):
        insert_outbox(b.db, n, f"drain{i}", case_ids)
        t0 = time.perf_counter()
        counts = drain(b.db, channels, batch=BATCH, max_batches=batches)
        elapsed = time.perf_counter() - t0
        if counts.get("done") != n:
            raise SystemExit(f"drain delivered {counts}, expected {n} done")
        check_drained(b.db, f"drain{i}", n)
        rates.append(n / elapsed)
        per_row.append(elapsed / n)
        print(f"  dispatch round {i + 1}/{rounds}: {n} rows in {elapsed:.2f}s = {n / elapsed:,.0f} rows/s",
              flush=True)
    r.add(Row(f"dispatch: drain() of {n:,} notify rows, batch {BATCH}", spread(rates, ",.0f"), "rows/s",
              plural(rounds, "round"), f"{statistics.median(per_row) * 1000:.2f} ms a row (in-app "
              "notification to the applicant; no SMTP, no webhook endpoints)"))
    r.rows.append(dispatch_detail)


def measure_flows(b: Bench, r: Report, rounds: int, n: int, tiny: int, case_ids: list[int]) -> None:
    """Pairs, each measured back to back in every round (which goes first alternates):
    full:  n rows in batches of 100 — dispatch_flow against drain();
    empty: an empty outbox — a flow run with one (empty) task against one empty claim;
    tiny:  `tiny` rows in batches of 1 — `tiny` tasks that each deliver one row, against drain(batch=1);
    sweep: sweep_flow (3 tasks) against sweep(), nothing due."""
    from services.orchestration.dispatch import Channels, drain
    from services.orchestration.sweep import sweep

    os.environ.pop("SMTP_HOST", None)  # deliver_batch builds Channels() from the environment
    batches = math.ceil(n / BATCH)
    channels = Channels(smtp_host=None)
    times: dict[str, list[float]] = {}
    with ExitStack() as stack:
        t0 = time.perf_counter()
        from prefect.testing.utilities import prefect_test_harness

        stack.enter_context(prefect_test_harness(server_startup_timeout=120))
        started = time.perf_counter() - t0
        from flows.common import use_database
        from flows.dispatch import dispatch_flow
        from flows.sweep import sweep_flow

        use_database(b.db)
        stack.callback(use_database, None)
        print(f"  prefect_test_harness started in {started:.1f}s", flush=True)
        # the first runs register the flows and tasks: timed apart, not in the medians
        insert_outbox(b.db, BATCH, "flowwarm", case_ids)
        t0 = time.perf_counter()
        first = asyncio.run(dispatch_flow(reason="bench warm-up", batch_size=BATCH, max_batches=1))
        cold = time.perf_counter() - t0
        if first["done"] != BATCH:
            raise SystemExit(f"warm-up dispatch flow delivered {first}")
        asyncio.run(sweep_flow(reason="bench warm-up"))

        def timed(name: str, rows: int, tag: str, run: Callable[[], dict[str, Any]],
                  check: Callable[[dict[str, Any]], bool]) -> Callable[[], None]:
            def step() -> None:
                if rows:
                    insert_outbox(b.db, rows, tag, case_ids)
                t0 = time.perf_counter()
                result = run()
                times.setdefault(name, []).append(time.perf_counter() - t0)
                if not check(result):
                    raise SystemExit(f"{name}: unexpected result {result}")
                if rows:
                    check_drained(b.db, tag, rows)
            return step

        def plain_drain(size: int, count: int) -> Callable[[], dict[str, Any]]:
            return lambda: drain(b.db, channels, batch=size, max_batches=count)

        def flow_drain(reason: str, size: int, count: int) -> Callable[[], dict[str, Any]]:
            return lambda: asyncio.run(dispatch_flow(reason=reason, batch_size=size, max_batches=count))

        for i in range(rounds):
            pairs = [
                (timed("full drain", n, f"plain{i}", plain_drain(BATCH, batches),
                       lambda c: c.get("done") == n),
                 timed("full flow", n, f"flow{i}", flow_drain("bench", BATCH, batches),
                       lambda c: c["done"] == n and c["batches"] == batches)),
                (timed("empty drain", 0, "", plain_drain(BATCH, 1), lambda c: c.get("done") == 0),
                 timed("empty flow", 0, "", flow_drain("bench empty", BATCH, 1),
                       lambda c: c["batches"] == 0)),
                (timed("tiny drain", tiny, f"tinyplain{i}", plain_drain(1, tiny),
                       lambda c: c.get("done") == tiny),
                 timed("tiny flow", tiny, f"tinyflow{i}", flow_drain("bench tiny", 1, tiny),
                       lambda c: c["batches"] == tiny)),
                (timed("sweep plain", 0, "", lambda: sweep(b.db), lambda c: c["timers_fired"] == 0),
                 timed("sweep flow", 0, "", lambda: asyncio.run(sweep_flow(reason="bench")),
                       lambda c: c["timers_fired"] == 0)),
            ]
            for plain_step, flow_step in pairs:
                for step in ((plain_step, flow_step) if i % 2 == 0 else (flow_step, plain_step)):
                    step()
            last = {k: v[-1] * 1000 for k, v in times.items()}
            print(f"  flow round {i + 1}/{rounds}: {n} rows in {batches} batches: drain() "
                  f"{last['full drain']:.0f} ms, dispatch_flow {last['full flow']:.0f} ms; empty: "
                  f"{last['empty drain']:.0f} vs {last['empty flow']:.0f} ms; {tiny} batches of 1: "
                  f"{last['tiny drain']:.0f} vs {last['tiny flow']:.0f} ms; sweep, nothing due: "
                  f"{last['sweep plain']:.0f} vs {last['sweep flow']:.0f} ms", flush=True)

    def diff(name: str) -> list[float]:
        plain = times[f"{name} {'plain' if name == 'sweep' else 'drain'}"]
        return [f - p for f, p in zip(times[f"{name} flow"], plain, strict=True)]

    over, over0, over1 = diff("full"), diff("empty"), diff("tiny")
    per_task = [(t - e) / (tiny - 1) for t, e in zip(over1, over0, strict=True)]
    # what the fixed cost of the run and the per-task cost do not explain: the tasks' own work runs slower
    rest = [o - e - (batches - 1) * t for o, e, t in zip(over, over0, per_task, strict=True)]
    slow = [x / d for x, d in zip(rest, times["full drain"], strict=True)]
    k = plural(rounds, "round")
    ms = lambda v, f=".0f": spread(v, f, 1000)  # noqa: E731 - a one-line helper, named where it is used
    r.add(Row("prefect_test_harness start (once)", f"{started:.1f}", "s", "1 run",
              f"first dispatch_flow run after it: {cold * 1000:.0f} ms for {BATCH} rows"))
    ratio = statistics.median([f / p for f, p in zip(times["full flow"], times["full drain"], strict=True)])
    r.add(Row(f"dispatch_flow, {n:,} rows in {batches} batches (1 task a batch)",
              spread(times["full flow"], ".2f"), "s", k,
              f"drain() on the same rows: {spread(times['full drain'], '.2f')} s; "
              f"ratio flow/drain {ratio:.3f}"))
    r.add(Row("  overhead of the flow run (flow − drain)", ms(over), "ms", k,
              f"= {statistics.median(over) / batches * 1000:.0f} ms a batch of {BATCH}, "
              f"{statistics.median(over) / n * 1000:.2f} ms a row"))
    r.add(Row("  fixed: empty outbox, dispatch_flow − drain() (1 empty task)", ms(over0), "ms", k,
              f"flow {ms(times['empty flow'])} ms vs drain {ms(times['empty drain'], '.1f')} ms"))
    r.add(Row(f"  per task: {tiny} batches of 1 row, (flow − drain − fixed) / {tiny - 1}",
              ms(per_task, ".1f"), "ms", k,
              f"flow {ms(times['tiny flow'])} ms vs drain {ms(times['tiny drain'])} ms"))
    r.add(Row("  rest: tasks' own work slower inside a flow run", ms(rest), "ms", k,
              f"(flow − drain − fixed − {batches - 1} x per task) = {statistics.median(slow):+.0%} "
              "of drain()'s time"))
    r.add(Row("sweep_flow − sweep(), nothing due (3 tasks)", ms(diff("sweep")), "ms", k,
              f"flow {ms(times['sweep flow'])} ms vs sweep() {ms(times['sweep plain'], '.1f')} ms"))


# --- reporting -------------------------------------------------------------------------------


def machine(b: Bench) -> dict[str, str]:
    try:
        import prefect
        prefect_version = prefect.__version__
    except Exception:
        prefect_version = "?"
    return {"date": date.today().isoformat(), "cpus": str(os.cpu_count()),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": platform.platform(), "sqlalchemy": sa.__version__, "prefect": prefect_version,
            "database": b.version, "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def write_markdown(b: Bench, r: Report, args: argparse.Namespace, command: str) -> Path:
    m = machine(b)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"orchestration-{b.kind}-{m['date']}.md"
    lines = [
        f"# Orchestration benchmark — {b.kind} — {m['date']}",
        "",
        f"Run at {datetime.now().astimezone().isoformat(timespec='seconds')}: `{command}`",
        "",
        f"- database: {b.where}",
        f"- machine: {m['cpus']} CPUs, {m['python']}, {m['platform']}; load average at the start "
        f"{r.load_at_start}, at the end {m['load']}",
        f"- SQLAlchemy {m['sqlalchemy']}, Prefect {m['prefect']}, {m['database']}",
        *[f"- {fact}" for fact in r.facts],
        "- median [min–max] over runs; nothing about timing is asserted",
        "",
        render_md(r.rows),
        "",
        "Due-timer query, as `run_due_timers` sends it:",
        "",
        "```sql",
        r.due_sql,
        "```",
        "",
        "Its plan (`EXPLAIN (ANALYZE, BUFFERS)`):" if b.pg else "Its plan (`EXPLAIN QUERY PLAN`):",
        "",
        "```",
        *r.due_plan,
        "```",
        "",
        f"Full-scan reference plan (index scans disabled): `{r.full_plan_top}`",
        "",
        "Scans in the other sweep queries (plain `EXPLAIN`, for information):",
        "",
        *[f"- {line}" for line in r.other_plans],
        "",
    ]
    if r.mixes:
        lines += ["SQL statements per unit of work, by statement and table:", "",
                  *[f"- {m}" for m in r.mixes], ""]
    if r.profile:
        lines += ["Where the time of a fired timer goes:", "", "```", r.profile, "```", ""]
    if r.failures:
        lines += ["**FAILED:** " + "; ".join(r.failures), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--timers", type=int, default=None,
                   help="open (pending) timers in all (default 1,000,000 on PostgreSQL, 200,000 on SQLite)")
    p.add_argument("--due", type=int, default=1000, help="of those, due at the sweep (default 1000; a sweep "
                                                         "fires at most 1000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds for dispatch and flow figures (default 3)")
    p.add_argument("--sweep-rounds", type=int, default=1,
                   help="full sweeps, each on --due fresh real cases (~0.2 s a case to build; default 1)")
    p.add_argument("--dispatch-rows", type=int, default=1000,
                   help="outbox rows a dispatch round (default 1000)")
    p.add_argument("--flow-rows", type=int, default=1000,
                   help="outbox rows a flow-vs-drain round, in batches of 100 (default 1000)")
    p.add_argument("--tiny-batches", type=int, default=20,
                   help="flow runs of this many 1-row batches, for the cost of one task (default 20)")
    p.add_argument("--profile", type=int, default=100,
                   help="timers to fire under cProfile (and half as many for a statement count) when the "
                        "sweep misses its target (0: never; default 100)")
    p.add_argument("--no-flows", action="store_true", help="skip the Prefect part")
    args = p.parse_args(argv)
    timers = args.timers or (1_000_000 if args.db == "postgres" else 200_000)
    command = " ".join(["python bench/orchestration.py", *(argv if argv is not None else sys.argv[1:])])

    from services.engine.clock import clock

    t_start = time.perf_counter()
    b = open_database(args.db)
    m = machine(b)
    r = Report(load_at_start=m["load"])
    print(f"orchestration benchmark {m['date']}: {m['cpus']} CPUs, {m['python']}, {m['platform']}, "
          f"load average {m['load']}")
    print(f"database: {b.where}", flush=True)
    try:
        # real cases: the due sets, then the profile's (counted among the open timers until made due)
        t0 = time.perf_counter()
        n_sweep = args.due * args.sweep_rounds
        n_count = max(1, args.profile // 2) if args.profile else 0
        n_prof = args.profile + n_count
        real = build_cases(b.db, n_sweep + n_prof, "real cases")
        build_s = time.perf_counter() - t0
        timer_ids = publicity_timers(b.db, real)
        sweep_batches = [timer_ids[i * args.due:(i + 1) * args.due] for i in range(args.sweep_rounds)]
        prof_timers = timer_ids[n_sweep:]

        t0 = time.perf_counter()
        pending = scalar(b.db, "SELECT count(*) FROM timers WHERE status = 'pending'")
        filler = timers - pending
        if filler < 0:
            raise SystemExit(f"--timers {timers} is less than the {pending} real timers")
        lo, hi = load_fillers(b, filler, clock.now())
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        analyze(b)
        analyze_s = time.perf_counter() - t0
        pending = scalar(b.db, "SELECT count(*) FROM timers WHERE status = 'pending'")
        print(f"  loaded {filler:,} filler timers on cases {lo}..{hi} in {load_s:.1f}s; "
              f"{'VACUUM ANALYZE' if b.pg else 'ANALYZE'} {analyze_s:.1f}s; {pending:,} open timers",
              flush=True)
        size = (scalar(b.db, "SELECT pg_size_pretty(pg_total_relation_size('timers'))") if b.pg else None)
        r.facts += [
            f"data: {len(real):,} real {CODE} project registrations driven to publicity through the "
            f"command path ({build_s:.0f}s, {build_s / len(real) * 1000:.0f} ms a case); "
            f"{FILLER_CASES:,} filler cases and {filler:,} filler timers bulk-loaded in {load_s:.1f}s "
            f"(due 30 days–2 years ahead); {pending:,} open timers"
            + (f", timers table {size} with indexes" if size else ""),
            f"sweep: {plural(args.sweep_rounds, 'round')}; before each, exactly {args.due:,} real "
            "publicity_end timers moved into the past (fired timers cannot be un-fired, so each round "
            "needs fresh real cases)",
        ]

        # 1. the due-timer selection, its plan, and a full-scan reference
        make_due(b.db, sweep_batches[0], clock.now())
        measure_due_query(b, r, clock.now(), args.due, pending)
        # 3. reminders and breaches alone
        measure_reminders_breaches(b, r, clock.now())
        # 2. full sweeps
        sweep_s = measure_sweeps(b, r, sweep_batches, args.due, pending)
        # 6. why, when the target is missed
        if args.profile and sweep_s >= TARGET_SWEEP_S:
            profile_firing(b, r, prof_timers[:n_count], prof_timers[n_count:])
        # 4. dispatch throughput, then 5. flows
        aside = set_aside_outbox(b.db)
        r.facts.append(f"dispatch: {aside:,} outbox rows queued by case building and sweeps set aside "
                       "(marked done) first; rows are `notify` to the applicant of a real case, keys unique")
        measure_dispatch(b, r, args.rounds, args.dispatch_rows, real)
        if not args.no_flows:
            measure_flows(b, r, args.rounds, args.flow_rows, args.tiny_batches, real)
        r.facts.append(f"total run time {time.perf_counter() - t_start:.0f}s")
    finally:
        b.cleanup()

    path = write_markdown(b, r, args, command)
    print()
    print(render_text(r.rows))
    print(f"\nwritten {path.relative_to(ROOT)}")
    if r.failures:
        print("FAILED: " + "; ".join(r.failures), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
