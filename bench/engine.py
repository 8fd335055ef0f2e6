"""Engine benchmark: full commands per second against raw single-row insert+commit per second.

    python bench/engine.py [--db sqlite|postgres|both] [--cases N] [--rounds R] [--threads T]
    python bench/engine.py --profile 300      # cProfile of ~300 commands on SQLite, top 25 by cumulative

Target (issue): commands/s >= 0.5 x raw commits/s, on the same database, in the same run.

What is measured, per database (a fresh SQLite temp file; a fresh `bench` schema on PostgreSQL):

* raw:      one transaction per iteration on the app's own writer engine (`db.writer.begin()`, so on
            SQLite the same `BEGIN IMMEDIATE` + WAL + synchronous setting the commands use), inserting
            one row into `bench_raw` and committing.
* commands: `services.engine.command.fire(db, Command(...), respond)` — the whole command path with every
            effect (lock, role/task/form/rule checks, state machine, tasks with working-day due
            dates, timers, statutory clock, outbox, SHA-256 audit event, commit). The registration
            happy path of Shanghai project cases, fired phase by phase across the cases:
            submit, accept, pass_review, compose_panel, 3 x record_opinion, panel_pass, approve
            (9 commands a case). Cases are opened before the clock starts; Actor objects are
            resolved once before timing, so actor lookup is NOT counted.
            Two responders: a cheap one (`{"state": ...}`), the headline figure, and the API's own
            (`services.queries.cases.action_reply`: the case's read model and the result block, as
            `services/api/routes/cases.py` answers; HTTP is still not counted).
* threads:  T threads firing commands on disjoint cases vs T threads doing raw commits.
* floor:    the database's own limit for a command's statement count, no application at all: one
            transaction of S single-row statements on `bench_raw` through the same engine (a
            SELECT … FOR UPDATE by key, then SELECTs by key, UPDATEs by key and INSERTs in a
            command's proportions), where S is the mean number of statements the commands of the
            same round sent (counted at the driver, COMMIT not included). Its ratio to raw is the
            best ratio any command of S statements could reach on this machine.
            On PostgreSQL a second floor takes the database at its best: psycopg directly (no
            SQLAlchemy, no pool), the reads one by one (a command's reads each depend on the one
            before), the writes sent in one pipeline, then COMMIT; against raw insert+commit on
            the same psycopg connection. A third does the same with 5 statements, the fewest a
            command could send (lock its case, read its open tasks, then three writes: the case,
            a task, the audit event).

Each round runs raw and commands back to back (the order alternates between rounds) and the ratio
is taken within the round; the tables give median [min-max] over the rounds. Nothing is asserted
about timings: this script prints. Results also go to bench/results/engine-<db>-<date>.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.common import PG_URL, fresh_database, pg_reachable

PG_SCHEMA = "bench"
CODE = "SH"
TARGET = 0.5
RESULTS = ROOT / "bench" / "results"
PAYLOAD = "x" * 100  # a raw row: an integer key and 100 bytes of text

Respond = Callable[[Any, Any], tuple[int, dict[str, Any]]]


# --- setup -----------------------------------------------------------------------------------


def _app():
    from services import demo
    from services.bootstrap import setup
    from services.engine import command, opening
    from services.queries import cases as views
    from services.store.engine import Database

    return (command, opening), demo, views, setup, Database


def open_database(kind: str) -> tuple[Any, Callable[[], None], str]:
    """A fresh, migrated, seeded database plus the bench_raw table; returns (db, cleanup, where)."""
    fresh = fresh_database(kind, prefix="bench-engine-", schema=PG_SCHEMA)
    if kind == "sqlite":
        ddl = "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL)"
        where = f"SQLite {fresh.location} (WAL, synchronous={fresh.settings['synchronous']}, BEGIN IMMEDIATE)"
    else:
        ddl = "CREATE TABLE bench_raw (id SERIAL PRIMARY KEY, payload TEXT NOT NULL)"
        where = (f"{fresh.version} {fresh.location} (synchronous_commit={fresh.settings['synchronous_commit']}, "
                 f"fsync={fresh.settings['fsync']})")
    with fresh.db.writer.begin() as conn:
        conn.exec_driver_sql(ddl)
    return fresh.db, fresh.cleanup, where


# --- workload --------------------------------------------------------------------------------


@dataclass
class Workload:
    db: Any
    actors: dict[str, Any]
    steps: list[tuple[str, str, dict[str, Any]]]
    open_case: Callable[[], int]
    per_trigger: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def make_workload(db: Any) -> Workload:
    (_, opening), demo, _, _, _ = _app()
    low = CODE.lower()
    driver = demo.Driver(db)
    names = [f"{low}_{r}" for r in ("applicant", "case_officer", "review_centre", "operator", "approver")]
    names += [f"{low}_expert{n}" for n in (1, 2, 3)]
    actors = {n: driver.actor(n) for n in names}  # resolved once, before any timing
    experts = [actors[f"{low}_expert{n}"].user_id for n in (1, 2, 3)]
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (f"{low}_applicant", "submit", demo.commitments(CODE)),
        (f"{low}_case_officer", "accept", {}),
        (f"{low}_review_centre", "pass_review", {"opinion": "材料齐全，方法学适用"}),
        (f"{low}_case_officer", "compose_panel", {"members": experts, "chair": experts[0]}),
        *[(f"{low}_expert{n}", "record_opinion", {"opinion": "agree", "score": 80}) for n in (1, 2, 3)],
        (f"{low}_expert1", "panel_pass", {"conclusion": "同意通过"}),
        (f"{low}_approver", "approve", {}),
    ]
    applicant = actors[f"{low}_applicant"]
    app = demo.application(CODE)

    def open_case() -> int:
        _, body = opening.create(db, actor=applicant, procedure_name="project_registration", jurisdiction=CODE,
                                 application=app, respond=lambda s, o: (201, {"id": o.case.id}))
        return int(body["id"])

    return Workload(db=db, actors=actors, steps=steps, open_case=open_case)


def cheap_responder(_actor: Any) -> Respond:
    return lambda s, o: (200, {"state": o.case.state})


def api_responder(actor: Any) -> Respond:
    _, _, views, _, _ = _app()

    def respond(session: Any, outcome: Any) -> tuple[int, dict[str, Any]]:
        return 200, views.action_reply(session, outcome, actor)
    return respond


def _state(body: dict[str, Any]) -> str:
    state = body["state"]
    return state["name"] if isinstance(state, dict) else state


def fire_mix(w: Workload, case_ids: list[int], make_respond: Callable[[Any], Respond],
             record: bool = False) -> int:
    """Fire the happy path phase by phase across `case_ids`; returns the number of commands fired."""
    (command, _), _, _, _, _ = _app()
    responders = {name: make_respond(actor) for name, actor in w.actors.items()}
    operator = f"{CODE.lower()}_operator"
    fired = 0
    clock = time.perf_counter
    for user, trigger, form in w.steps:
        actor, respond = w.actors[user], responders[user]
        for cid in case_ids:
            t0 = clock()
            _, body = command.fire(w.db, command.Command(cid, trigger, actor, form), respond)
            fired += 1
            if trigger == "pass_review" and _state(body) == "technical_review":
                # Shanghai joint review (art. 13): the exchange's pass when the profile asks for it
                _, body = command.fire(w.db, command.Command(cid, trigger, w.actors[operator], form),
                                       responders[operator])
                fired += 1
            if record:
                w.per_trigger[trigger].append(clock() - t0)
    return fired


def check_done(w: Workload, case_ids: list[int]) -> None:
    """Correctness, not timing: every case must have reached publicity."""
    from sqlmodel import select

    from services.store.tables import Case

    with w.db.read() as session:
        states = {c.state for c in session.exec(select(Case).where(Case.id.in_(case_ids)))}
    if states != {"publicity"}:
        raise SystemExit(f"bench workload did not finish: states {sorted(states)}")


def raw_commits(db: Any, n: int) -> None:
    stmt = sa.text("INSERT INTO bench_raw (payload) VALUES (:p)")
    for _ in range(n):
        with db.writer.begin() as conn:
            conn.execute(stmt, {"p": PAYLOAD})


def _floor_shape(statements: int) -> tuple[int, int, int]:
    """(reads after the lock, updates, inserts) for a transaction of `statements` statements."""
    reads = max(0, round(statements * FLOOR_MIX[0][1]) - 1)
    updates = round(statements * FLOOR_MIX[1][1])
    return reads, updates, max(0, statements - 1 - reads - updates)


def pipelined_floor(db: Any, n: int, statements: int) -> tuple[float, float]:
    """PostgreSQL only: (floor transactions/s, raw insert+commit/s), both on one psycopg connection."""
    reads, updates, inserts = _floor_shape(statements)
    pooled = db.writer.raw_connection()
    try:
        conn = pooled.driver_connection
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(n):
                key = i % 50 + 1
                cur.execute("SELECT id, payload FROM bench_raw WHERE id = %s FOR UPDATE", (key,))
                cur.fetchall()
                for j in range(reads):
                    cur.execute("SELECT id, payload FROM bench_raw WHERE id = %s", ((key + j) % 50 + 1,))
                    cur.fetchall()
                with conn.pipeline():
                    for _ in range(updates):
                        cur.execute("UPDATE bench_raw SET payload = %s WHERE id = %s", (PAYLOAD, key))
                    for _ in range(inserts):
                        cur.execute("INSERT INTO bench_raw (payload) VALUES (%s)", (PAYLOAD,))
                conn.commit()
            floor = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(n):
                cur.execute("INSERT INTO bench_raw (payload) VALUES (%s)", (PAYLOAD,))
                conn.commit()
            raw = n / (time.perf_counter() - t0)
        return floor, raw
    finally:
        pooled.close()


class StatementCount:
    """Statements the writer engine sends to the driver while `on` (COMMIT is not one)."""

    def __init__(self, db: Any) -> None:
        self.on, self.count = False, 0
        sa.event.listen(db.writer, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        if self.on:
            self.count += 1


FEWEST = 5  # lock the case, read its open tasks; update the case and a task, insert the audit event
# a command's statements, by kind (from the statement mix of the happy path: about 4 reads, 3 updates, 4 inserts)
FLOOR_MIX = (("select", 0.4), ("update", 0.25))


def floor_commits(db: Any, n: int, statements: int) -> None:
    """n transactions of `statements` single-row statements each: the floor row's workload."""
    lock = sa.text("SELECT id, payload FROM bench_raw WHERE id = :k FOR UPDATE" if not db.is_sqlite
                   else "SELECT id, payload FROM bench_raw WHERE id = :k")
    read = sa.text("SELECT id, payload FROM bench_raw WHERE id = :k")
    update = sa.text("UPDATE bench_raw SET payload = :p WHERE id = :k")
    insert = sa.text("INSERT INTO bench_raw (payload) VALUES (:p)")
    reads, updates, inserts = _floor_shape(statements)
    for i in range(n):
        key = i % 50 + 1  # rows the warm-up inserted
        with db.writer.begin() as conn:
            conn.execute(lock, {"k": key}).all()
            for j in range(reads):
                conn.execute(read, {"k": (key + j) % 50 + 1}).all()
            for _ in range(updates):
                conn.execute(update, {"k": key, "p": PAYLOAD})
            for _ in range(inserts):
                conn.execute(insert, {"p": PAYLOAD})


def threaded(threads: int, work: Callable[[int], int]) -> tuple[int, float]:
    """Run work(i) on `threads` threads started together; (total count, elapsed seconds)."""
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            counts[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return sum(counts), elapsed


# --- measurement -----------------------------------------------------------------------------


@dataclass
class Series:
    """One table row: raw rate, command rate and their ratio, one value per round."""
    label: str
    raw: list[float] = field(default_factory=list)
    cmd: list[float] = field(default_factory=list)
    raw_n: int = 0
    cmd_n: int = 0
    raw_cpu: list[float] = field(default_factory=list)  # this process's CPU seconds per unit, per round
    cmd_cpu: list[float] = field(default_factory=list)
    reference: bool = False  # a limit to compare with, not a measurement of commands (no target)

    @property
    def ratios(self) -> list[float]:
        return [c / r for c, r in zip(self.cmd, self.raw, strict=True)]


def against_raw(db: Any, series: Series, work: Callable[[], int], raw_n: int) -> None:
    """One round of `series`: `work` (it returns how many units it did), then raw_n raw commits."""
    t0 = time.perf_counter()
    n = work()
    series.cmd.append(n / (time.perf_counter() - t0))
    series.cmd_n += n
    t0 = time.perf_counter()
    raw_commits(db, raw_n)
    series.raw.append(raw_n / (time.perf_counter() - t0))
    series.raw_n += raw_n


def bench_database(kind: str, cases_n: int, rounds: int, threads: int, api_cases: int,
                   thread_cases: int) -> tuple[str, list[Series], dict[str, list[float]]]:
    db, cleanup, where = open_database(kind)
    try:
        w = make_workload(db)
        seq = Series("sequential, cheap responder")
        api = Series("sequential, API responder (action_reply)")
        par = Series(f"{threads} threads, cheap responder")
        floor = Series("floor: a transaction of S single-row statements, S = the commands' mean, no application",
                       reference=True)
        best = Series("floor, PostgreSQL at its best: S statements by psycopg directly, the writes in one pipeline",
                      reference=True)
        fewest = Series(f"floor, PostgreSQL at its best, {FEWEST} statements (the fewest a command could send)",
                        reference=True)
        counted = StatementCount(db)
        statements: list[float] = []
        # warm-up: imports, caches, statement compilation, pool connections
        warm = [w.open_case() for _ in range(3)]
        fire_mix(w, warm, cheap_responder)
        fire_mix(w, [w.open_case() for _ in range(2)], api_responder)
        raw_commits(db, 50)  # also the rows the floor's reads and updates find
        per_round = lambda total: max(1, total // rounds)  # noqa: E731 - the case budget, split over rounds
        for r in range(rounds):
            # cases are opened before the clock starts; each round fires on fresh drafts
            ids = [w.open_case() for _ in range(per_round(cases_n))]
            api_ids = [w.open_case() for _ in range(per_round(api_cases))]
            par_ids = [w.open_case() for _ in range(max(threads, per_round(thread_cases)))] if threads else []
            raw_n = len(ids) * len(w.steps)

            def commands(ids: list[int] = ids) -> None:
                counted.on, counted.count = True, 0
                c0, t0 = time.process_time(), time.perf_counter()
                n = fire_mix(w, ids, cheap_responder, record=True)
                seq.cmd.append(n / (time.perf_counter() - t0))
                seq.cmd_cpu.append((time.process_time() - c0) / n)
                seq.cmd_n += n
                counted.on = False
                statements.append(counted.count / n)

            def raw(n: int = raw_n) -> None:
                c0, t0 = time.process_time(), time.perf_counter()
                raw_commits(db, n)
                seq.raw.append(n / (time.perf_counter() - t0))
                seq.raw_cpu.append((time.process_time() - c0) / n)
                seq.raw_n += n

            for step in ((raw, commands) if r % 2 == 0 else (commands, raw)):
                step()
            check_done(w, ids)

            # the floor for this round's statement count, against a raw run of its own
            floor_n, per_command = max(1, raw_n // 2), round(statements[-1])
            against_raw(db, floor, lambda n=floor_n, k=per_command: (floor_commits(db, n, k), n)[1], floor_n)
            if not db.is_sqlite:
                for series, statements_n in ((best, per_command), (fewest, FEWEST)):
                    rates = pipelined_floor(db, floor_n, statements_n)
                    series.cmd.append(rates[0])
                    series.raw.append(rates[1])
                    series.cmd_n += floor_n
                    series.raw_n += floor_n

            # the API's responder, against a raw run of its own in the same round
            against_raw(db, api, lambda ids=api_ids: fire_mix(w, ids, api_responder), len(api_ids) * len(w.steps))
            check_done(w, api_ids)

            # threads: disjoint cases per thread; raw commits split the same way
            if par_ids:
                shares = [par_ids[i::threads] for i in range(threads)]
                per_thread_raw = max(1, len(par_ids) * len(w.steps) // threads)
                runs = [
                    ("cmd", lambda i, shares=shares: fire_mix(w, shares[i], cheap_responder)),
                    ("raw", lambda i, n=per_thread_raw: (raw_commits(db, n), n)[1]),
                ]
                for name, work in (runs if r % 2 else runs[::-1]):
                    n, elapsed = threaded(threads, work)
                    if name == "cmd":
                        par.cmd.append(n / elapsed)
                        par.cmd_n += n
                    else:
                        par.raw.append(n / elapsed)
                        par.raw_n += n
                check_done(w, par_ids)
            print(f"  [{kind}] round {r + 1}/{rounds}: raw {seq.raw[-1]:,.0f}/s, commands {seq.cmd[-1]:,.0f}/s, "
                  f"ratio {seq.ratios[-1]:.3f}", flush=True)
        floor.label = floor.label.replace("S =", f"S = {statistics.median(statements):.1f},")
        rows = [seq, api] + ([par] if par.cmd else []) + [floor] + ([best, fewest] if best.cmd else [])
        return where, rows, dict(w.per_trigger)
    finally:
        cleanup()


# --- reporting -------------------------------------------------------------------------------


def _spread(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}–{max(values):{fmt}}]"


HEAD = ("database", "measurement", "raw commits/s", "commands/s", "ratio commands/raw", "target", "met")


def table_rows(kind: str, rows: list[Series]) -> list[tuple[str, ...]]:
    out = []
    for s in rows:
        ratio = statistics.median(s.ratios)
        target, met = ("(limit)", "—") if s.reference else (f"≥ {TARGET}", "yes" if ratio >= TARGET else "no")
        out.append((kind, s.label, _spread(s.raw, ",.0f"), _spread(s.cmd, ",.0f"), _spread(s.ratios, ".3f"),
                    target, met))
    return out


def render_text(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEAD, *rows]) for i in range(len(HEAD))]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731 - a one-line helper, named where it is used
    return "\n".join([fmt(HEAD), line, *map(fmt, rows)])


def render_md(rows: list[tuple[str, ...]]) -> str:
    return "\n".join(["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD),
                      *["| " + " | ".join(r) + " |" for r in rows]])


def trigger_lines(per_trigger: dict[str, list[float]]) -> list[tuple[str, str, str]]:
    return [(t, f"{len(v)}", f"{statistics.mean(v) * 1000:.2f} / {statistics.median(v) * 1000:.2f}")
            for t, v in per_trigger.items()]


def cpu_lines(series: list[Series]) -> list[str]:
    """Where the time goes, as this process's CPU time (the wall-clock rates move with the machine's load;
    a command's CPU time hardly does): what is not CPU is waiting on the database and the disk."""
    s = next((s for s in series if s.cmd_cpu), None)
    if s is None:
        return []
    cpu, raw = statistics.median(s.cmd_cpu) * 1000, statistics.median(s.raw_cpu) * 1000
    wall = 1000 / statistics.median(s.cmd)
    return [f"Process CPU time ({s.label}), median over rounds: {cpu:.2f} ms a command of {wall:.2f} ms wall "
            f"({cpu / wall:.0%}); raw insert+commit {raw:.3f} ms CPU of {1000 / statistics.median(s.raw):.3f} ms wall.",
            ""]


def machine() -> dict[str, str]:
    return {"date": date.today().isoformat(), "cpus": str(os.cpu_count()),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": platform.platform(), "sqlalchemy": sa.__version__,
            "sqlite": __import__("sqlite3").sqlite_version}


def write_markdown(kind: str, where: str, rows: list[tuple[str, ...]], per_trigger: dict[str, list[float]],
                   args: argparse.Namespace, series: list[Series]) -> Path:
    m = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"engine-{kind}-{m['date']}.md"
    counts = "; ".join(f"{s.label}: {s.cmd_n} commands, {s.raw_n} raw commits" for s in series)
    lines = [
        f"# Engine benchmark — {kind} — {m['date']}",
        "",
        f"Run at {datetime.now().astimezone().isoformat(timespec='seconds')}: "
        f"`python bench/engine.py --db {args.db} --cases {args.cases} --rounds {args.rounds} "
        f"--threads {args.threads}`",
        "",
        f"- database: {where}",
        f"- machine: {m['cpus']} CPUs, {m['python']}, {m['platform']}",
        f"- SQLAlchemy {m['sqlalchemy']}, SQLite library {m['sqlite']}",
        f"- {args.cases} cases x 9 commands (Shanghai project registration happy path: submit … approve), "
        f"split over {args.rounds} rounds; raw = the same count of single-row insert+commit transactions "
        "in each round",
        f"- totals: {counts}",
        "- actor lookup is done once before timing and not counted; case creation is not timed",
        "- median [min–max] over rounds; ratio is per round (raw and commands measured back to back)",
        "",
        render_md(rows),
        "",
        *cpu_lines(series),
        "Per command (sequential, cheap responder), milliseconds mean / median:",
        "",
        "| trigger | n | ms mean / median |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in trigger_lines(per_trigger)],
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- profile ---------------------------------------------------------------------------------


def profile(commands: int) -> None:
    import cProfile
    import pstats

    db, cleanup, where = open_database("sqlite")
    try:
        w = make_workload(db)
        fire_mix(w, [w.open_case() for _ in range(2)], cheap_responder)  # warm-up
        ids = [w.open_case() for _ in range(max(1, round(commands / len(w.steps))))]
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        n = fire_mix(w, ids, cheap_responder)
        prof.disable()
        elapsed = time.perf_counter() - t0
        print(f"profile: {n} commands on {where}: {elapsed:.2f}s under cProfile ({n / elapsed:,.0f}/s)")
        pstats.Stats(prof).strip_dirs().sort_stats("cumulative").print_stats(25)
    finally:
        cleanup()


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--cases", type=int, default=200,
                   help="draft cases per database for the sequential figure, split over the rounds (default 200); "
                        "N/4 more for the API-responder figure and N/2 more for the threaded one")
    p.add_argument("--rounds", type=int, default=3, help="rounds per database (default 3)")
    p.add_argument("--threads", type=int, default=8, help="threads for the concurrent figure (0 skips it)")
    p.add_argument("--profile", type=int, metavar="N", default=0,
                   help="instead: cProfile ~N commands on SQLite and print the top 25 by cumulative time")
    args = p.parse_args(argv)
    if args.profile:
        profile(args.profile)
        return 0
    api_cases = max(1, args.cases // 4)
    thread_cases = max(args.threads, args.cases // 2) if args.threads else 0
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    m = machine()
    print(f"engine benchmark {m['date']}: {m['cpus']} CPUs, {m['python']}, {m['platform']}")
    print(f"per database: {args.cases} cases x 9 commands sequential, {api_cases} cases with the API responder, "
          f"{thread_cases} cases on {args.threads} threads, split over {args.rounds} rounds; "
          "actor lookup and case creation not timed")
    all_rows: list[tuple[str, ...]] = []
    for kind in kinds:
        if kind == "postgres":
            why = pg_reachable(PG_URL)
            if why:
                print(f"PostgreSQL at {PG_URL} is unreachable ({why}); skipping it")
                continue
        t0 = time.perf_counter()
        where, series, per_trigger = bench_database(kind, args.cases, args.rounds, args.threads, api_cases,
                                                    thread_cases)
        rows = table_rows(kind, series)
        all_rows += rows
        path = write_markdown(kind, where, rows, per_trigger, args, series)
        print(f"  [{kind}] {where}; {time.perf_counter() - t0:.0f}s; written {path.relative_to(ROOT)}")
        print("  " + " ".join(cpu_lines(series)).strip())
        print("  per command, ms mean / median: "
              + ", ".join(f"{t} {c}" for t, _, c in trigger_lines(per_trigger)))
    if all_rows:
        print()
        print(render_text(all_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
