"""What one step of our engine costs, before and after a change: statements at the driver, Python calls,
CPU time, and which statements they are.

    python bench/step_profile.py [--db sqlite|postgres|both] [--cases N] [--top K] [--sql]

The workload is the peer benchmark's (bench/peers/spiff.py): Shanghai project registration, nine people's
steps through `services.engine.command.fire` and the publicity-end timer through
`services.orchestration.timers.run_due_timers`, ten steps a case. Per database, on fresh cases:

* statements per step: what the writer engine sends to the driver (an executemany counts once; BEGIN
  and COMMIT are not statements), per trigger and overall, with each statement's first words (--sql);
* CPU ms per step: this process's CPU time (time.process_time) over the steps, without the profiler;
* Python calls per step: cProfile's count of function calls over the same steps, on other fresh cases,
  and the top K functions by own time (--top).

PostgreSQL at BENCH_PG_URL (schema bench_profile). Prints only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.common import PG_URL, fresh_database, pg_reachable
from bench.peers.spiff import TIMER_ADVANCE, clock_advanced, make_steps, our_open, our_timers
from bench.peers.spiff_app import use_app_clock

PG_SCHEMA = "bench_profile"
TIMER = "publicity_end (timer)"


@dataclass
class Statements:
    """Statements the writer engine sends while `into` names a step; an executemany counts once."""

    into: str | None = None
    count: Counter[str] = field(default_factory=Counter)
    shapes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def listen(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any,
              executemany: bool) -> None:
        if self.into is None:
            return
        self.count[self.into] += 1
        self.shapes[self.into][_shape(statement) + (" [many]" if executemany else "")] += 1


def _shape(statement: str) -> str:
    """A statement's kind and table: `SELECT cases`, `UPDATE tasks`, `INSERT audit_events`."""
    s = " ".join(statement.split())
    verb = s.split(" ", 1)[0].upper()
    table = {"SELECT": r"\bFROM\s+(\w+)", "UPDATE": r"^UPDATE\s+(\w+)", "INSERT": r"^INSERT INTO\s+(\w+)",
             "DELETE": r"^DELETE FROM\s+(\w+)"}.get(verb)
    m = re.search(table, s, re.I) if table else None
    return f"{verb} {m.group(1) if m else ''}".strip()


def run_cases(db: Any, n: int, on_step: Callable[[str], None] | None = None) -> tuple[int, float]:
    """n fresh cases through the ten steps, phase by phase; (steps, CPU seconds). `on_step(name)` is
    called before each step (None after the last)."""
    steps, open_case = make_steps(db), our_open(db)
    ids = [open_case() for _ in range(n)]
    cpu, done = 0.0, 0
    for step in steps:
        for cid in ids:
            if on_step:
                on_step(step.name)
            c0 = time.process_time()
            step.ours(cid)
            cpu += time.process_time() - c0
            done += 1
    with clock_advanced(TIMER_ADVANCE) as now:
        if on_step:
            on_step(TIMER)
        c0 = time.process_time()
        fired = our_timers(db, now)
        cpu += time.process_time() - c0
        done += fired
    if on_step:
        on_step("")
    if fired != n:
        raise SystemExit(f"{fired} publicity timers fired for {n} cases")
    return done, cpu


def profile_database(kind: str, n: int, top: int, sql: bool) -> dict[str, float]:
    use_app_clock()
    fresh = fresh_database(kind, prefix="bench-profile-", schema=PG_SCHEMA)
    db = fresh.db
    try:
        run_cases(db, 2)  # warm-up: imports, statement caches, the pool
        seen = Statements()
        seen.listen(db.writer)
        per_step: Counter[str] = Counter()

        def on_step(name: str) -> None:
            seen.into = name or None
            if name:
                per_step[name] += 1

        steps, _ = run_cases(db, n, on_step)
        per_step[TIMER] = n  # one sweep fired n timers: statements per timer
        statements = sum(seen.count.values()) / steps
        done, cpu = run_cases(db, n)
        cpu_ms = cpu * 1000 / done
        profiler = cProfile.Profile()
        profiler.enable()
        called, _ = run_cases(db, n)
        profiler.disable()
        stats = pstats.Stats(profiler)
        calls = stats.total_calls / called
        print(f"\n[{kind}] {fresh.version}: {n} cases, {steps} steps")
        print(f"  statements/step {statements:.2f}   CPU ms/step {cpu_ms:.3f}   Python calls/step {calls:,.0f}")
        print(f"  {'step':<24}{'statements':>11}")
        for name, k in per_step.items():
            print(f"  {name:<24}{seen.count[name] / k:>11.2f}")
            if sql:
                for shape, c in sorted(seen.shapes[name].items(), key=lambda kv: -kv[1]):
                    print(f"      {c / k:5.2f}  {shape}")
        if top:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
            print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-(top + 2) * 200:])
        return {"statements_per_step": statements, "cpu_ms_per_step": cpu_ms, "calls_per_step": calls}
    finally:
        fresh.cleanup()


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--cases", type=int, default=30)
    p.add_argument("--top", type=int, default=0, help="the K functions with the most own time")
    p.add_argument("--sql", action="store_true", help="the statements of each step, by kind and table")
    args = p.parse_args(argv)
    out = {}
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        if kind == "postgres" and (why := pg_reachable(PG_URL)):
            print(f"PostgreSQL at {PG_URL} is unreachable ({why}); skipping it")
            continue
        out[kind] = profile_database(kind, args.cases, args.top, args.sql)
    return out


if __name__ == "__main__":
    main()
