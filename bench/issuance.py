"""Issuance benchmark: the annual campaign over 10,000 registered projects (time, flow runs,
idempotency) and ledger verification over 1,000,000 serial blocks.

    python bench/issuance.py [--db postgres|sqlite] [--projects N] [--blocks N] [--verify-rounds R]
                             [--no-flow] [--flow-again] [--clustered]
    python bench/issuance.py --profile 500 [--db …]   # cProfile of a direct campaign over 500 projects

Issue: "a campaign over 10,000 registered projects (time, flow runs, and that it stays idempotent);
ledger verification over 1,000,000 blocks." Figures are printed (median [min–max] where repeated);
nothing about timing is asserted. Results also go to bench/results/issuance-<db>-<date>.md.

Data set (a fresh `bench_iss` schema on PostgreSQL, dropped at the end; a temp SQLite file if asked),
after `setup(db)` and `seed_people(db)`:

* `--projects` Shanghai projects, bulk-inserted with plain SQL (PostgreSQL: one `INSERT … SELECT
  generate_series`; SQLite: one recursive CTE): status `registered`, kind `project`, owned by the demo
  applicant's organisation (user `sh_applicant`), registration numbers `SH-2025-P00001` ….

Measured:

1. campaign, direct: `services.procedures.issuance.run_campaign(db, "SH", 2025)` — one transaction per
   project (row lock, existence check, `open_case`: case, tasks, window timer, audit, outbox); it must
   open exactly one case per project. Then the same call again: it must open nothing (idempotency).
   Statements sent per opened case are counted, and their time and COMMIT's measured apart, with
   SQLAlchemy event listeners (the rest of the wall time is Python).
2. campaign, as a flow: inside `prefect_test_harness()`, `flows.campaign.campaign_flow("SH", 2026)` —
   the same projects, the next vintage, so a fresh set of (project, vintage) pairs — after a warm-up
   run on a jurisdiction without projects (Beijing), which also shows the flow's fixed cost. Flow runs
   and task runs are counted from the Prefect API (the harness has its own database). With
   `--flow-again` the flow runs a second time (idempotency through the flow; off by default to keep
   the run under ~8 minutes — the flow calls the same `run_campaign` the direct second run checks).
3. ledger: `--blocks` open serial blocks of 10 tonnes over the projects (consecutive, non-overlapping
   ranges per project and vintage 2025), in 8 holding accounts, and a journal that replays to them
   exactly (verify replays it): per project one `issue` of all its serials to the owner (its case: the
   campaign's, backed by an `approve` event appended to the case's chain), a `transfer` to each of the
   7 other accounts listing the blocks it holds (block k sits in account k mod 8), and one `retire` of
   the last tenth, left retired in the owner's account — 9 entries a project. The blocks are stored
   interleaved across projects (every project's block 0, then every block 1 …), as a ledger that grows
   issuance by issuance is, not in project order (`--clustered` stores them in project order, which
   flatters an index on project_id). Synthetic: only open blocks are stored (the closed blocks the
   transfers would have split are not). VACUUM ANALYZE / ANALYZE after loading.
   `services.procedures.ledger.verify(session, ["SH"])` is timed `--verify-rounds` times (ok must be True), with
   every statement it sends timed apart and the Python replay and comparison (the rest of the wall
   time, as rows stream in batches); then one block is shifted onto its neighbour inside a
   transaction that is rolled back, and verify must report that block (also timed).
   PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)` of the overlap query (the window-function statement,
   captured as sent); SQLite: `EXPLAIN QUERY PLAN`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# before anything imports prefect (flows/campaign.py imports prefect before flows/common.py sets these)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from bench.common import PG_URL, Bench, open_bench, pg_reachable

PG_SCHEMA = "bench_iss"
CODE = "SH"
VINTAGE = 2025          # the direct campaign; the flow campaign takes VINTAGE + 1
EMPTY_CODE = "BJ"       # a jurisdiction with no projects: the flow's warm-up run
BLOCK_SIZE = 10
ACCOUNTS = 8
RETIRED_SHARE = 10      # the last 1/10 of each project's blocks are retired
SLOW_VERIFY_S = 5.0
RESULTS = ROOT / "bench" / "results"
DEFAULTS = {"postgres": {"projects": 10_000, "blocks": 1_000_000},
            "sqlite": {"projects": 10_000, "blocks": 1_000_000}}


# --- database --------------------------------------------------------------------------------


def open_database(kind: str) -> Bench:
    return open_bench(kind, prefix="bench-iss-", schema=PG_SCHEMA)


def scalar(db: Any, sql: str, **params: Any) -> Any:
    with db.reader.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def analyze(b: Bench, tables: list[str]) -> None:
    if b.pg:
        with b.db.writer.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                conn.exec_driver_sql(f'VACUUM ANALYZE {PG_SCHEMA}."{table}"')
    else:
        with b.db.writer.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def numbers(b: Bench, n: int) -> tuple[str, str]:
    """(WITH prefix, FROM item) giving a column `g` = 0 … n-1, with the bind :n_numbers."""
    if b.pg:
        return "", "generate_series(0, :n_numbers - 1) AS s(g)"
    return ("WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < :n_numbers - 1) ", "s")


def db_now(b: Bench, now: datetime) -> datetime:
    """A bind value for a UTC column in hand-written SQL (SQLite stores naive UTC)."""
    return now if b.pg else now.astimezone(UTC).replace(tzinfo=None)


# --- SQL capture -----------------------------------------------------------------------------


@dataclass
class SqlLog:
    keep: bool = False
    statements: list[tuple[str, Any, float]] = field(default_factory=list)  # (statement, params, seconds)
    shapes: Counter[str] = field(default_factory=Counter)
    count: int = 0
    seconds: float = 0.0
    commits: int = 0
    commit_seconds: float = 0.0
    _t0: list[float] = field(default_factory=list)
    _c0: list[float] = field(default_factory=list)


@contextmanager
def recording(db: Any, keep: bool = False) -> Iterator[SqlLog]:
    """Every statement sent to the driver (both engines on SQLite) and the time spent executing it;
    with keep=True the statements themselves, else only their shapes."""
    log = SqlLog(keep=keep)
    engines = [db.writer] if db.reader is db.writer else [db.writer, db.reader]

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        log._t0.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - log._t0.pop()
        log.seconds += elapsed
        log.count += 1
        if keep:
            log.statements.append((statement, parameters, elapsed))
        else:
            log.shapes[shape(statement)] += 1

    # COMMIT goes through the DBAPI connection, not a cursor: from the engine's `commit` event (just
    # before it) to the ORM session's `after_commit` (just after it)
    def commit_begins(conn: Any) -> None:
        log._c0.append(time.perf_counter())

    def commit_ends(session: Any) -> None:
        if log._c0:
            log.commit_seconds += time.perf_counter() - log._c0.pop()
            log.commits += 1

    for e in engines:
        event.listen(e, "before_cursor_execute", before)
        event.listen(e, "after_cursor_execute", after)
        event.listen(e, "commit", commit_begins)
    event.listen(OrmSession, "after_commit", commit_ends)
    try:
        yield log
    finally:
        for e in engines:
            event.remove(e, "before_cursor_execute", before)
            event.remove(e, "after_cursor_execute", after)
            event.remove(e, "commit", commit_begins)
        event.remove(OrmSession, "after_commit", commit_ends)


def shape(statement: str) -> str:
    """`VERB table` of a statement (SELECT … FOR UPDATE marked)."""
    text = " ".join(statement.split())
    verb = text.split(" ", 1)[0].upper()
    m = {"SELECT": re.search(r"\bFROM \"?(\w+)", text), "UPDATE": re.match(r"UPDATE \"?(\w+)", text, re.I),
         "INSERT": re.match(r"INSERT INTO \"?(\w+)", text, re.I),
         "DELETE": re.match(r"DELETE FROM \"?(\w+)", text, re.I)}.get(verb)
    locked = " FOR UPDATE" if verb == "SELECT" and " FOR UPDATE" in text.upper() else ""
    return f"{verb}{locked} {m.group(1)}" if m else verb


def verify_part(statement: str, params: Any) -> str:
    """Which of verify's statements this is (the kind or the retired flag is a bind parameter)."""
    text = " ".join(statement.split()).lower()
    values = list(params.values()) if isinstance(params, dict) else list(params or ())
    if "lag(" in text:
        return "overlap (lag() window)"
    if "audit_events" in text:
        return "issue backing (approve events)"
    if "exists" in text:
        return "block references (anti-join)"
    if "sum(" in text and "ledger_entries" in text:
        kind = next((v for v in values if v in ("issue", "retire", "clawback")), "?")
        return f"journal sum, kind {kind}"
    if "sum(" in text and "serial_blocks" in text:
        return "open-block sum"  # verify sums held blocks first, then retired ones (see measure_verify)
    if "ledger_entries" in text:
        return "journal read (replayed in Python)"
    if "serial_blocks" in text and "limit" in text:
        return "block at a difference"
    if "serial_blocks" in text:
        return "open blocks read (compared in Python)"
    return shape(statement)


# --- data set --------------------------------------------------------------------------------


def owner_org(db: Any) -> int:
    org = scalar(db, "SELECT org_id FROM users WHERE username = :u", u=f"{CODE.lower()}_applicant")
    if org is None:
        raise SystemExit(f"seed_people did not create {CODE.lower()}_applicant with an organisation")
    return int(org)


def load_projects(b: Bench, n: int, org: int, now: datetime) -> float:
    """n registered Shanghai projects in one statement; returns seconds."""
    with_, from_ = numbers(b, n)
    code = "lpad(CAST(g + 1 AS text), 5, '0')" if b.pg else "printf('%05d', g + 1)"
    t0 = time.perf_counter()
    with b.db.writer.begin() as conn:
        conn.execute(sa.text(
            with_ + "INSERT INTO projects (jurisdiction, kind, title, owner_org_id, status, suspended, "
            "registration_number, registered_at, created_at) "
            f"SELECT :code, 'project', '基准减排项目 ' || (g + 1), :org, 'registered', :false, "
            f"       :prefix || {code}, :now, :now FROM {from_}"),
            {"n_numbers": n, "code": CODE, "org": org, "false": False, "prefix": f"{CODE}-{VINTAGE}-P",
             "now": db_now(b, now)})
    got = scalar(b.db, "SELECT count(*) FROM projects WHERE jurisdiction = :c AND status = 'registered'", c=CODE)
    if got != n:
        raise SystemExit(f"loaded {got} registered projects, expected {n}")
    return time.perf_counter() - t0


SLOTS = ACCOUNTS + 1  # a project's journal: its issue, a transfer to each other account, its retirement


def _journal(projects: list[tuple[int, int, str, int, str]], per: int, retired_per: int, accounts: list[int],
             entry0: int, at: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Per project: the issue of all its serials to the owner (accounts[0]), backed by an approve event
    on its campaign case as services.procedures.issuance.mint leaves it; a transfer of block k to accounts[k mod 8]
    for the blocks before the retired tail (each lists its ranges); the retirement of the tail, left
    in the owner's account. Entry ids are explicit: project i's slot s is entry0 + i * SLOTS + s."""
    from services.engine import audit

    first_retired = per - retired_per
    entries, events, heads = [], [], []
    for i, (pid, case_id, code, seq, head) in enumerate(projects):
        base = entry0 + i * SLOTS

        def entry(slot: int, kind: str, amount: int, serials: list[str], src: int | None, dst: int | None,
                  base: int = base, pid: int = pid, case_id: int = case_id) -> None:
            entries.append({"id": base + slot, "kind": kind, "jurisdiction": CODE, "amount": amount,
                            "from_account_id": src, "to_account_id": dst,
                            "case_id": case_id if kind in ("issue",) else None, "actor_id": None,
                            "reference": f"bench:{pid}:{slot}", "serials": serials, "at": at})

        def serial(lo: int, hi: int, code: str = code) -> str:
            return f"{CODE}-{VINTAGE}-{code}-{lo * BLOCK_SIZE + 1:06d}-{hi * BLOCK_SIZE:06d}"

        issued = [serial(0, per)]
        entry(0, "issue", per * BLOCK_SIZE, issued, None, accounts[0])
        row = audit._row(f"case:{case_id}", seq + 1, head, at=at, actor_id=None, actor_role="approver",
                         event="approve", case_id=case_id, from_state="decision", to_state="issued",
                         payload={"ledger_entry_id": base, "serials": issued})
        events.append(row)
        heads.append({"c": case_id, "s": row["seq"], "h": row["hash"]})
        for a in range(1, len(accounts)):
            moved = [serial(k, k + 1) for k in range(a, first_retired, len(accounts))]
            entry(a, "transfer", len(moved) * BLOCK_SIZE, moved, accounts[0], accounts[a])
        if retired_per:
            entry(SLOTS - 1, "retire", retired_per * BLOCK_SIZE, [serial(first_retired, per)], accounts[0], None)
    return entries, events, heads


def load_ledger(b: Bench, n_blocks: int, now: datetime, clustered: bool = False) -> dict[str, Any]:
    """Accounts, a journal that replays to the blocks (see `_journal`), n_blocks open blocks of BLOCK_SIZE."""
    from services.store.tables import AuditEvent, LedgerEntry

    projects = scalar(b.db, "SELECT count(*) FROM projects WHERE jurisdiction = :c", c=CODE)
    per = max(1, n_blocks // projects)
    retired_per = max(1, per // RETIRED_SHARE) if per > 1 else 0
    total = per * projects
    at = db_now(b, now)
    t0 = time.perf_counter()
    with b.db.writer.begin() as conn:
        # holding accounts: the owner's, and ACCOUNTS - 1 more organisations'
        owner = owner_org(b.db)
        for i in range(1, ACCOUNTS):
            conn.execute(sa.text("INSERT INTO organisations (uscc, name, created_at) VALUES (:u, :n, :at)"),
                         {"u": f"91310000BENCH{i:05d}", "n": f"基准持有单位 {i}", "at": at})
        conn.execute(sa.text(
            "INSERT INTO accounts (jurisdiction, org_id, opened_at) SELECT :code, id, :at FROM organisations "
            "WHERE id = :owner OR uscc LIKE '91310000BENCH%'"), {"code": CODE, "owner": owner, "at": at})
        owner_account = conn.execute(sa.text("SELECT id FROM accounts WHERE jurisdiction = :code AND org_id = :o"),
                                     {"code": CODE, "o": owner}).scalar()
        accounts = [owner_account, *(r[0] for r in conn.execute(sa.text(
            "SELECT id FROM accounts WHERE jurisdiction = :code AND id <> :o ORDER BY id"),
            {"code": CODE, "o": owner_account}))]
        # the journal, on each project's campaign case (the approve event extends the case's chain)
        rows = [(pid, cid, reg[-6:], seq, head) for pid, cid, reg, seq, head in conn.execute(sa.text(
            "SELECT p.id, c.id, p.registration_number, c.audit_seq, c.audit_hash FROM projects p "
            "JOIN cases c ON c.project_id = p.id AND c.procedure = 'issuance' AND c.vintage = :v "
            "WHERE p.jurisdiction = :code ORDER BY p.id"), {"code": CODE, "v": VINTAGE})]
        if len(rows) != projects or rows[-1][0] - rows[0][0] + 1 != projects:
            raise SystemExit(f"{len(rows)} campaign cases for {projects} projects, or project ids not contiguous")
        entry0 = (conn.execute(sa.text("SELECT max(id) FROM ledger_entries")).scalar() or 0) + 1
        entries, events, heads = _journal(rows, per, retired_per, accounts, entry0, now)
        conn.execute(LedgerEntry.__table__.insert(), entries)
        conn.execute(AuditEvent.__table__.insert(), events)
        conn.execute(sa.text("UPDATE cases SET audit_seq = :s, audit_hash = :h WHERE id = :c"), heads)
        if b.pg:
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), "
                                 "(SELECT max(id) FROM ledger_entries))"))
        # the blocks: block k of a project covers serials k*10+1 … k*10+10, held in account k mod 8 and
        # opened by the transfer there (the owner's: by the issue), but for the retired tail, retired in
        # the owner's account and opened by the retirement
        with_, from_ = numbers(b, per)
        code = "substr(p.registration_number, length(p.registration_number) - 5)"
        first_retired = per - retired_per
        acct_case = ("CASE " + f"WHEN g >= {first_retired} THEN {accounts[0]} "
                     + " ".join(f"WHEN g % {len(accounts)} = {i} THEN {a}" for i, a in enumerate(accounts)) + " END")
        slot = f"CASE WHEN g >= {first_retired} THEN {SLOTS - 1} ELSE g % {len(accounts)} END"
        t_blocks = time.perf_counter()
        conn.execute(sa.text(
            with_ + 'INSERT INTO serial_blocks (jurisdiction, project_id, project_code, vintage, "start", "end", '
            "account_id, retired, opened_by, closed_by) "
            f"SELECT :j, p.id, {code}, :v, g * :size + 1, g * :size + :size, {acct_case}, "
            "       CASE WHEN g >= :first_retired THEN :true ELSE :false END, "
            f"       :entry0 + (p.id - :pid0) * {SLOTS} + {slot}, NULL "
            f"FROM projects p CROSS JOIN {from_} WHERE p.jurisdiction = :code "
            # interleaved, as a ledger grows (every project's first issuance, then the next …): the
            # table is not stored in project order ( --clustered stores it so)
            + ("ORDER BY p.id, g" if clustered else "ORDER BY g, p.id")),
            {"n_numbers": per, "code": CODE, "j": CODE, "v": VINTAGE, "size": BLOCK_SIZE,
             "first_retired": first_retired, "entry0": entry0, "pid0": rows[0][0], "true": True, "false": False})
        blocks_s = time.perf_counter() - t_blocks
    got = scalar(b.db, "SELECT count(*) FROM serial_blocks WHERE closed_by IS NULL")
    if got != total:
        raise SystemExit(f"loaded {got} blocks, expected {total}")
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyze(b, ["organisations", "accounts", "ledger_entries", "serial_blocks", "projects", "cases", "audit_events"])
    with b.db.reader.connect() as conn:
        correlation = conn.execute(sa.text(
            "SELECT correlation FROM pg_stats WHERE schemaname = :s AND tablename = 'serial_blocks' "
            "AND attname = 'project_id'"), {"s": PG_SCHEMA}).scalar() if b.pg else None
    return {"blocks": total, "per_project": per, "clustered": clustered, "correlation": correlation,
            "retired_per_project": retired_per, "accounts": len(accounts),
            "entries": len(entries), "load_s": loaded, "blocks_s": blocks_s,
            "analyze_s": time.perf_counter() - t0}


def counts(db: Any, procedure_vintage: int | None = None) -> dict[str, int]:
    out = {t: scalar(db, f"SELECT count(*) FROM {t}") for t in
           ("cases", "tasks", "timers", "clock_segments", "outbox", "audit_events")}
    if procedure_vintage is not None:
        out["issuance cases"] = scalar(db, "SELECT count(*) FROM cases WHERE procedure = 'issuance' AND vintage = :v",
                                       v=procedure_vintage)
        out["distinct projects"] = scalar(db, "SELECT count(DISTINCT project_id) FROM cases WHERE "
                                              "procedure = 'issuance' AND vintage = :v", v=procedure_vintage)
    return out


# --- report ----------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    value: str
    unit: str
    runs: str
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plans: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.what}: {row.value} {row.unit} ({row.runs}){' — ' + row.note if row.note else ''}", flush=True)


def spread(values: list[float], fmt: str, scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    if len(v) == 1:
        return f"{v[0]:{fmt}}"
    return f"{statistics.median(v):{fmt}} [{min(v):{fmt}}–{max(v):{fmt}}]"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- 1. the campaign, direct -----------------------------------------------------------------


def measure_campaign(b: Bench, r: Report, n: int) -> float:
    """Returns the direct campaign's seconds."""
    from services.procedures.issuance import run_campaign

    before = counts(b.db)
    with recording(b.db) as log:
        t0 = time.perf_counter()
        first = run_campaign(b.db, CODE, VINTAGE)
        elapsed = time.perf_counter() - t0
    after = counts(b.db, VINTAGE)
    print(f"  direct campaign {CODE} {VINTAGE}: {first} in {elapsed:.1f}s", flush=True)
    if first["opened"] != n or after["issuance cases"] != n or after["distinct projects"] != n:
        raise SystemExit(f"campaign opened {first}, {after['issuance cases']} cases on "
                         f"{after['distinct projects']} projects; expected {n}")
    rows_per_case = ", ".join(f"{t} {(after[t] - before[t]) / n:.2g}" for t in before if after[t] != before[t])
    mix = ", ".join(f"{k} {v / n:.2g}" for k, v in sorted(log.shapes.items(), key=lambda kv: (-kv[1], kv[0])))
    r.add(Row(f"run_campaign({CODE}, {VINTAGE}) direct, {n:,} projects", f"{n / elapsed:,.0f}", "projects/s", "1 run",
              f"{elapsed:.1f} s in all, {elapsed / n * 1000:.2f} ms a case; opened {first['opened']:,}, "
              f"skipped {first['skipped']}, candidates {first['candidates']:,}"))
    r.add(Row("  of which statements (cursor execute, as seen by SQLAlchemy)", f"{log.seconds / n * 1000:.2f}",
              "ms a case", "1 run", f"{log.seconds / elapsed:.0%} of the wall time; {log.count / n:.1f} statements a "
              "case"))
    r.add(Row("  of which COMMIT", f"{log.commit_seconds / n * 1000:.2f}", "ms a case", "1 run",
              f"{log.commit_seconds / elapsed:.0%} of the wall time; {log.commits:,} commits (one a project, "
              "plus the candidates' read); the rest is Python"))
    r.notes.append(f"Rows written per opened case: {rows_per_case}.")
    r.notes.append("Statements per opened case (direct campaign; cursor executes, so SQLite's explicit BEGIN IMMEDIATE "
                   f"counts and COMMIT does not): {mix}.")

    t0 = time.perf_counter()
    again = run_campaign(b.db, CODE, VINTAGE)
    elapsed2 = time.perf_counter() - t0
    final = counts(b.db, VINTAGE)
    idem = again["opened"] == 0 and final["issuance cases"] == n and final == after
    print(f"  second run: {again} in {elapsed2:.1f}s; cases for {VINTAGE} still {final['issuance cases']:,}",
          flush=True)
    r.add(Row(f"run_campaign({CODE}, {VINTAGE}) again (idempotency)", f"{elapsed2:.1f}", "s", "1 run",
              f"opened {again['opened']}, skipped {again['skipped']:,}; {VINTAGE} cases still "
              f"{final['issuance cases']:,}, no other rows added: {'yes' if final == after else 'NO'} — "
              f"idempotent: {'yes' if idem else 'NO'}; {elapsed2 / n * 1000:.2f} ms a project"))
    if not idem:
        raise SystemExit(f"the campaign is not idempotent: second run {again}, counts {after} -> {final}")
    return elapsed


# --- 2. the campaign as a Prefect flow -------------------------------------------------------


async def _runs_since(known: set[Any], settle_s: float = 10.0) -> tuple[list[Any], list[Any]]:
    """Flow runs not in `known`, and the task runs of those flow runs. Task runs reach the API through
    Prefect's event pipeline, a little after the flow returns: poll until every new flow run has a
    final state and its task runs have stopped changing (at most `settle_s`)."""
    from prefect import get_client

    deadline = time.monotonic() + settle_s
    last: tuple[int, int] | None = None
    async with get_client() as client:
        while True:
            flows = [f for f in await client.read_flow_runs(limit=200) if f.id not in known]
            ids = {f.id for f in flows}
            tasks = [t for t in await client.read_task_runs(limit=200) if t.flow_run_id in ids]
            seen = (len(flows), len(tasks))
            final = all(x.state is not None and x.state.is_final() for x in flows + tasks)
            if (final and tasks and seen == last) or time.monotonic() > deadline:
                return flows, tasks
            last = seen
            await asyncio.sleep(0.5)


async def _flow_ids() -> set[Any]:
    from prefect import get_client

    async with get_client() as client:
        return {f.id for f in await client.read_flow_runs(limit=200)}


def measure_flow(b: Bench, r: Report, n: int, direct_s: float, again_too: bool) -> None:
    from contextlib import ExitStack

    vintage = VINTAGE + 1
    with ExitStack() as stack:
        t0 = time.perf_counter()
        from prefect.testing.utilities import prefect_test_harness

        stack.enter_context(prefect_test_harness(server_startup_timeout=120))
        started = time.perf_counter() - t0
        from flows.campaign import campaign_flow
        from flows.common import use_database

        use_database(b.db)
        stack.callback(use_database, None)
        print(f"  prefect_test_harness started in {started:.1f}s", flush=True)
        t0 = time.perf_counter()
        warm = asyncio.run(campaign_flow(EMPTY_CODE, vintage))
        cold = time.perf_counter() - t0
        if warm["candidates"] != 0:
            raise SystemExit(f"warm-up flow on {EMPTY_CODE} found candidates: {warm}")
        known = asyncio.run(_flow_ids())

        t0 = time.perf_counter()
        result = asyncio.run(campaign_flow(CODE, vintage))
        elapsed = time.perf_counter() - t0
        flows, tasks = asyncio.run(_runs_since(known))
        after = counts(b.db, vintage)
        print(f"  campaign_flow({CODE}, {vintage}): {result} in {elapsed:.1f}s; {len(flows)} flow run(s) "
              f"{[f.name for f in flows]}, {len(tasks)} task run(s) {[t.name for t in tasks]}", flush=True)
        if result["opened"] != n or after["issuance cases"] != n:
            raise SystemExit(f"flow opened {result}, {after['issuance cases']} cases for {vintage}; expected {n}")
        states = ", ".join(sorted({f"{x.state_name}" for x in flows + tasks}))

        if again_too:
            known |= {f.id for f in flows}
            t0 = time.perf_counter()
            again = asyncio.run(campaign_flow(CODE, vintage))
            elapsed2 = time.perf_counter() - t0
            flows2, tasks2 = asyncio.run(_runs_since(known))
            final = counts(b.db, vintage)
            idem = again["opened"] == 0 and final == after

    r.add(Row("prefect_test_harness start (once)", f"{started:.1f}", "s", "1 run",
              f"warm-up campaign_flow({EMPTY_CODE}, {vintage}) with no projects: {cold * 1000:.0f} ms"))
    r.add(Row(f"campaign_flow({CODE}, {vintage}), {n:,} projects", f"{n / elapsed:,.0f}", "projects/s", "1 run",
              f"{elapsed:.1f} s in all, {elapsed / n * 1000:.2f} ms a case; opened {result['opened']:,}; "
              f"{plural(len(flows), 'flow run')}, {plural(len(tasks), 'task run')} "
              f"({', '.join(t.name for t in tasks)}); states: {states}"))
    r.add(Row("  flow − direct run_campaign", f"{(elapsed - direct_s) * 1000:,.0f}", "ms", "1 run each",
              f"{(elapsed - direct_s) / n * 1000:+.2f} ms a case; the empty warm-up flow above is the fixed "
              "part; direct and flow ran at different times on a shared machine"))
    if again_too:
        r.add(Row(f"campaign_flow({CODE}, {vintage}) again (idempotency)", f"{elapsed2:.1f}", "s", "1 run",
                  f"opened {again['opened']}, skipped {again['skipped']:,}; no rows added: "
                  f"{'yes' if final == after else 'NO'}; idempotent: {'yes' if idem else 'NO'}; "
                  f"{plural(len(flows2), 'flow run')}, {plural(len(tasks2), 'task run')}"))
        if not idem:
            raise SystemExit(f"the campaign flow is not idempotent: second run {again}, counts {after} -> {final}")


# --- 3. ledger verification ------------------------------------------------------------------


def _verify(b: Bench, session: Any) -> tuple[dict[str, Any], float, SqlLog]:
    from services.procedures import ledger

    with recording(b.db, keep=True) as log:
        t0 = time.perf_counter()
        result = ledger.verify(session, [CODE])
        elapsed = time.perf_counter() - t0
    return result, elapsed, log


def explain_overlap(b: Bench, statement: str, params: Any) -> list[str]:
    with b.db.reader.connect() as conn:
        if b.pg:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        out = [" | ".join(str(c) for c in row) if not b.pg else row[0] for row in rows]
    return out


def plan_summary(b: Bench, plan: list[str]) -> str:
    text = "\n".join(plan)
    if not b.pg:
        scans = [line for line in plan if "SCAN" in line or "SEARCH" in line or "TEMP B-TREE" in line]
        return "; ".join(s.split(" | ")[-1] for s in scans)
    scans = sorted(set(re.findall(r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan)"
                                  r"(?: using \w+)? on \w+)", text)))
    parts = [", ".join(scans) or "no scan node found"]
    sorts = [(m, kind, int(kb)) for m, kind, kb in
             re.findall(r"Sort Method: ([\w-]+(?: merge)?)\s+(Disk|Memory|Peak Memory): (\d+)kB", text)]
    if "Incremental Sort" in text:
        peak = max((int(kb) for kb in re.findall(r"Peak Memory: (\d+)kB", text)), default=0)
        presorted = re.search(r"Presorted Key: ([\w.]+)", text)
        parts.append(f"Incremental Sort (presorted by {presorted.group(1) if presorted else '?'}; "
                     f"peak {peak} kB a group)")
    elif sorts:
        parts.append("Sort: " + ", ".join(f"{m} {kind.lower()} {kb / 1024:,.1f} MB" for m, kind, kb in sorts))
    elif " Sort " not in text and "->  Sort" not in text:
        parts.append("no sort node")
    if "Gather" in text:
        workers = re.search(r"Workers Launched: (\d+)", text)
        parts.append(f"parallel ({workers.group(1) if workers else '?'} workers launched)")
    read = re.findall(r"read=(\d+)", text)
    temp = re.findall(r"temp read=(\d+) written=(\d+)", text)
    if temp:
        parts.append(f"temp files {int(temp[0][1]) * 8 / 1024:,.0f} MB written")
    elif read:
        parts.append(f"{max(int(x) for x in read) * 8 / 1024:,.0f} MB read from disk/OS cache")
    exec_ms = re.search(r"Execution Time: ([\d.]+) ms", text)
    if exec_ms:
        parts.append(f"execution {float(exec_ms.group(1)):,.0f} ms")
    return "; ".join(parts)


def measure_verify(b: Bench, r: Report, rounds: int, ledger_info: dict[str, Any]) -> None:
    from sqlmodel import Session

    totals: list[float] = []
    per_run: dict[str, list[float]] = {}
    overlap_sql: tuple[str, Any] | None = None
    result: dict[str, Any] = {}
    for i in range(rounds):
        with b.db.read() as session:
            result, elapsed, log = _verify(b, session)
        if not result["ok"]:
            raise SystemExit(f"verify on the loaded ledger is not ok: {result}")
        totals.append(elapsed)
        this_run: Counter[str] = Counter()
        sums = iter(("held", "retired"))
        for statement, params, seconds in log.statements:
            key = verify_part(statement, params)
            if key == "open-block sum":
                key = f"open-block sum, {next(sums, '?')}"
            this_run[key] += seconds
            if "lag(" in statement.lower():
                overlap_sql = (statement, params)
        # the replay and the comparison run in Python while rows stream in (yield_per): that time
        # is the rest of the wall time, not any one statement's
        this_run["Python: replay, coalesce, compare (rows streamed in batches)"] = elapsed - log.seconds
        for key, seconds in this_run.items():
            per_run.setdefault(key, []).append(seconds)
        print(f"  verify round {i + 1}/{rounds}: {elapsed:.2f}s, ok={result['ok']}, "
              f"{log.count} statements, {log.seconds:.2f}s in the driver", flush=True)
    n = ledger_info["blocks"]
    r.add(Row(f"ledger.verify(session, [{CODE!r}]), {n:,} open blocks", spread(totals, ".2f"), "s",
              plural(rounds, "run"), f"ok={result['ok']}; issued {result['issued']:,}, held {result['held']:,}, "
              f"retired {result['retired']:,} (in blocks {result['retired_in_blocks']:,}); "
              f"{n / statistics.median(totals):,.0f} blocks/s"))
    med_total = statistics.median(totals)
    for key, values in sorted(per_run.items(), key=lambda kv: -statistics.median(kv[1])):
        share = statistics.median(values) / med_total
        what = key if key.startswith("Python") else f"statement: {key}"
        r.add(Row(f"  {what}", spread(values, ",.0f", 1000), "ms", plural(rounds, "run"),
                  f"{share:.0%} of verify"))

    # corrupt: shift one block (not a project's first) 5 serials down, onto its neighbour; size unchanged
    with b.db.reader.connect() as conn:
        victim = conn.execute(sa.text(
            "SELECT id, project_id, \"start\", \"end\" FROM serial_blocks WHERE closed_by IS NULL AND retired = :f "
            "AND \"start\" > :size ORDER BY id LIMIT 1 OFFSET :off"),
            {"f": False, "size": BLOCK_SIZE, "off": n // 2}).one()
    bad_times: list[float] = []
    with Session(b.db.writer, expire_on_commit=False) as session:
        session.begin()
        try:
            session.execute(sa.text('UPDATE serial_blocks SET "start" = "start" - 5, "end" = "end" - 5 WHERE id = :id'),
                            {"id": victim.id})
            for _ in range(rounds):
                bad, elapsed, _log = _verify(b, session)
                bad_times.append(elapsed)
        finally:
            session.rollback()
    # the overlap check names the block, and the replay finds the table disagreeing with the journal there
    found = (f"serials in two places: blocks {[victim.id]}" in bad["problems"]
             and any(f"#{victim.id} " in p or "no open serial block" in p for p in bad["problems"]))
    print(f"  corrupted block {victim.id} (project {victim.project_id}, serials {victim.start}–{victim.end} "
          f"-> {victim.start - 5}–{victim.end - 5}): ok={bad['ok']}, problems={bad['problems']}", flush=True)
    r.add(Row("  verify with one overlapping block (rolled back)", spread(bad_times, ".2f"), "s",
              plural(rounds, "run"), f"ok={bad['ok']}, problems={bad['problems']} — "
              f"{'reported exactly that block' if found else 'UNEXPECTED'}"))
    with b.db.read() as session:
        clean, _, _ = _verify(b, session)
    if not found or not clean["ok"]:
        raise SystemExit(f"corruption check failed: corrupted {bad}, after rollback {clean}")

    if overlap_sql is not None:
        plan = explain_overlap(b, *overlap_sql)
        summary = plan_summary(b, plan)
        label = "EXPLAIN (ANALYZE, BUFFERS)" if b.pg else "EXPLAIN QUERY PLAN"
        r.add(Row(f"  overlap query plan ({label})", "—", "", "1 run", summary))
        r.plans.append((f"The overlap query as sent by verify:\n\n```sql\n{' '.join(overlap_sql[0].split())}\n```\n\n"
                        f"params {overlap_sql[1]!r}; {label}:", plan))
        print("\n".join("    " + line for line in plan), flush=True)
        if b.pg:
            # a reference plan with the other strategy: no seq scan if it chose one, else no index scans
            seq = "Seq Scan" in "\n".join(plan)
            settings = ["enable_seqscan"] if seq else ["enable_indexscan", "enable_bitmapscan",
                                                       "enable_indexonlyscan"]
            with b.db.reader.connect() as conn:
                with conn.begin():
                    for name in settings:
                        conn.exec_driver_sql(f"SET LOCAL {name} = off")
                    other = [row[0] for row in conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + overlap_sql[0], overlap_sql[1])]
            what = ", ".join(f"{s} = off" for s in settings)
            r.add(Row(f"  same query with {what} (reference)", "—", "", "1 run", plan_summary(b, other)))
            r.plans.append((f"Reference only — the same statement with `{what}`:", other))
    if statistics.median(totals) > SLOW_VERIFY_S:
        top = max(per_run.items(), key=lambda kv: statistics.median(kv[1]))
        r.notes.append(f"verify took more than {SLOW_VERIFY_S:.0f} s: the dominating statement is `{top[0]}` "
                       f"({statistics.median(top[1]):.2f} s of {statistics.median(totals):.2f} s).")


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


HEAD = ("measurement", "value", "unit", "runs", "notes")


def render_text(rows: list[Row]) -> str:
    cells = [HEAD, *[(r.what, r.value, r.unit, r.runs, r.note) for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    out = []
    for c in cells:
        out.append("  ".join(x.ljust(w) for x, w in zip(c[:4], widths, strict=True)) + "  " + c[4])
        if c is HEAD:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 5)
    return "\n".join(out)


def render_md(rows: list[Row]) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731 - a one-line helper, named where it is used
    return "\n".join(["| " + " | ".join(HEAD) + " |", "|---|---:|---|---|---|",
                      *[f"| {esc(r.what).replace('  ', '&nbsp;&nbsp;')} | {esc(r.value)} | {r.unit} | {r.runs} | "
                        f"{esc(r.note)} |" for r in rows]])


def write_markdown(b: Bench, r: Report, command: str, info: dict[str, Any], seconds: float) -> Path:
    m = machine(b)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"issuance-{b.kind}-{m['date']}.md"
    lines = [
        f"# Issuance benchmark — {b.kind} — {m['date']}",
        "",
        f"Run at {datetime.now().astimezone().isoformat(timespec='seconds')}: `{command}` ({seconds:.0f} s in all)",
        "",
        f"- database: {b.where}",
        f"- machine: {m['cpus']} CPUs, {m['python']}, {m['platform']}, load average at the end {m['load']}",
        f"- SQLAlchemy {m['sqlalchemy']}, Prefect {m['prefect']}",
        f"- data: {info['projects']:,} registered {CODE} projects (bulk insert, {info['projects_s']:.1f} s); "
        f"ledger: {info['blocks']:,} open serial blocks of {BLOCK_SIZE} t ({info['per_project']} a project, the last "
        f"{info['retired_per_project']} retired) in {info['accounts']} accounts, {info['entries']:,} journal entries "
        f"(one issue and one retire per project); loaded in {info['load_s']:.1f} s (blocks "
        f"{info['blocks_s']:.1f} s), {'VACUUM ANALYZE' if b.pg else 'ANALYZE'} {info['analyze_s']:.1f} s; stored "
        + ("in project order (--clustered)" if info["clustered"] else
           "interleaved across projects (each project's block 0, then block 1 …), as a ledger grows")
        + (f"; pg_stats correlation of project_id {info['correlation']:.3f}" if info.get("correlation") is not None
           else ""),
        "- campaign: one transaction per project; the flow campaign runs the next vintage over the same projects",
        "- median [min–max] where repeated; nothing about timing is asserted",
        "",
        render_md(r.rows),
        "",
        *[f"- {n}" for n in r.notes],
        "",
    ]
    for title, plan in r.plans:
        lines += [title, "", "```", *plan, "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- profile ---------------------------------------------------------------------------------


def profile(kind: str, n: int) -> None:
    """cProfile of a direct campaign over n projects (top 25 by cumulative, then by own time)."""
    import cProfile
    import pstats

    from services.engine.clock import clock
    from services.procedures.issuance import run_campaign

    b = open_database(kind)
    try:
        load_projects(b, n, owner_org(b.db), clock.now())
        analyze(b, ["projects"])
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        result = run_campaign(b.db, CODE, VINTAGE)
        prof.disable()
        elapsed = time.perf_counter() - t0
        print(f"profile: run_campaign over {n} projects on {b.where}: {result} in {elapsed:.2f}s under cProfile "
              f"({elapsed / n * 1000:.1f} ms a case)")
        stats = pstats.Stats(prof).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)
    finally:
        b.cleanup()


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--projects", type=int, default=None,
                   help="registered projects for the campaign (default 10,000)")
    p.add_argument("--blocks", type=int, default=None, help="open serial blocks for verify (default 1,000,000)")
    p.add_argument("--verify-rounds", type=int, default=3, help="verify runs (default 3)")
    p.add_argument("--no-flow", action="store_true", help="skip the Prefect flow measurement")
    p.add_argument("--flow-again", action="store_true",
                   help="also run the flow campaign a second time (idempotency through the flow; "
                        "the direct second run always happens)")
    p.add_argument("--clustered", action="store_true",
                   help="store the serial blocks in project order (default: interleaved across projects)")
    p.add_argument("--profile", type=int, metavar="N", default=0,
                   help="instead: cProfile a direct campaign over N projects on --db and print the top functions")
    args = p.parse_args(argv)
    if args.profile:
        profile(args.db, args.profile)
        return 0
    projects = args.projects or DEFAULTS[args.db]["projects"]
    blocks = args.blocks or DEFAULTS[args.db]["blocks"]
    if args.db == "postgres":
        why = pg_reachable(PG_URL)
        if why:
            print(f"PostgreSQL at {PG_URL} is unreachable ({why})")
            return 1
    command = "python bench/issuance.py " + " ".join(argv if argv is not None else sys.argv[1:])
    t_all = time.perf_counter()
    b = open_database(args.db)
    r = Report()
    try:
        from services.engine.clock import clock

        m = machine(b)
        print(f"issuance benchmark {m['date']}: {m['cpus']} CPUs, {m['python']}, {m['platform']}")
        print(f"  {b.where}", flush=True)
        now = clock.now()
        info: dict[str, Any] = {"projects": projects}
        info["projects_s"] = load_projects(b, projects, owner_org(b.db), now)
        analyze(b, ["projects"])
        print(f"  {projects:,} projects loaded in {info['projects_s']:.1f}s", flush=True)
        direct_s = measure_campaign(b, r, projects)
        if not args.no_flow:
            measure_flow(b, r, projects, direct_s, args.flow_again)
        info.update(load_ledger(b, blocks, now, args.clustered))
        print(f"  ledger: {info['blocks']:,} blocks loaded in {info['load_s']:.1f}s "
              f"(+ {info['analyze_s']:.1f}s analyze)", flush=True)
        measure_verify(b, r, args.verify_rounds, info)
        seconds = time.perf_counter() - t_all
        path = write_markdown(b, r, command.strip(), info, seconds)
    finally:
        b.cleanup()
    print()
    print(render_text(r.rows))
    for n in r.notes:
        print(f"- {n}")
    print(f"\n{time.perf_counter() - t_all:.0f}s in all; written {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
