"""The benchmark suite (`make bench`): runs each benchmark script, collects its figures and writes one
Markdown summary, bench/results/suite-<db>-<date>.md, with the machine, the database and the date.

    python bench/suite.py [--scale small|full] [--db postgres|sqlite] [--only engine,orchestration,...]

`--scale` (or `BENCH_SCALE`): `small` (default; minutes) or `full` (the issue's sizes: 1,000,000 cases
for the work queue, 1,000,000 open timers for the sweep; an hour or more on two cores). Each script runs
in its own process, prints its figures and writes its own detailed file (plans, profiles) next to the
summary; the suite copies the headline table of each. At the small scale the engine's and the
orchestration's files are set aside as `suite-small-…` so their full runs' figures stay in place. A
script that fails is reported with the tail of its output; the others still run. Nothing about timing
is asserted. Without PostgreSQL (`BENCH_PG_URL`, default postgresql://postgres@127.0.0.1:5432/test) the
suite runs what it can on SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import PG_URL, RESULTS, machine, md_table, pg_reachable

SCALES = {
    "small": {
        "engine": ["--cases", "100", "--rounds", "2", "--threads", "0"],
        "orchestration": ["--timers", "100000", "--due", "100", "--rounds", "2", "--profile", "0", "--no-flows"],
        "queue": ["--scales", "10000,100000", "--requests", "200"],
        "http": ["--cases", "10000", "--workers", "1,2", "--duration", "10"],
        "peer": ["--cases", "60", "--rounds", "2"],
    },
    "full": {
        "engine": ["--cases", "200", "--rounds", "3"],
        "orchestration": ["--timers", "1000000", "--due", "1000"],
        "queue": ["--scales", "10000,100000,1000000", "--requests", "300"],
        "http": ["--cases", "100000", "--workers", "1,2,4", "--duration", "20"],
        "peer": ["--cases", "300", "--rounds", "3"],
    },
}
SCRIPTS = {"engine": "engine.py", "orchestration": "orchestration.py", "queue": "queue_latency.py",
           "http": "http_load.py", "peer": "peers/spiff.py"}
WHAT = {
    "engine": "Command throughput (bench/engine.py): full commands/s against raw insert+commit/s",
    "orchestration": "Sweep and dispatch (bench/orchestration.py): one sweep over the open timers, dispatch rows/s",
    "queue": "Work-queue latency (bench/queue_latency.py): `GET /api/v1/tasks?view=team`, in process",
    "http": "HTTP and memory (bench/http_load.py): `GET /api/v1/cases/{id}` under uvicorn workers, RSS",
    "peer": "A peer side by side (bench/peers/spiff.py): project registration in SpiffWorkflow vs our engine, per step",
}
TIMEOUT_S = {"small": 3600, "full": 4 * 3600}


@dataclass
class Step:
    name: str
    command: list[str]
    code: int | None = None
    seconds: float = 0.0
    tail: list[str] = field(default_factory=list)
    table: str = ""
    detail: str = ""
    notes: list[str] = field(default_factory=list)


def db_args(name: str, db: str) -> list[str]:
    if name == "engine":
        return ["--db", "both" if db == "postgres" else "sqlite"]
    return ["--db", db]


def run(step: Step, timeout: float) -> None:
    print(f"\n== {step.name}: {' '.join(step.command)}", flush=True)
    t0 = time.perf_counter()
    tail: list[str] = []
    try:
        with subprocess.Popen(step.command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
            deadline = time.time() + timeout
            for line in proc.stdout:
                print("   " + line.rstrip(), flush=True)
                tail = (tail + [line.rstrip()])[-25:]
                if time.time() > deadline:
                    proc.kill()
                    tail.append(f"(killed after {timeout:.0f}s)")
                    break
            step.code = proc.wait()
    except OSError as exc:
        step.code, tail = -1, [str(exc)]
    step.seconds = time.perf_counter() - t0
    step.tail = tail


def first_table(text: str) -> str:
    lines, out = text.splitlines(), []
    for line in lines:
        if line.startswith("|"):
            out.append(line)
        elif out:
            break
    return "\n".join(out)


def scans(plan: list[str]) -> str:
    """`Index Scan using ix_tasks_queue on tasks x2, …, 0.41 ms`: a plan's scans and its execution time."""
    found: dict[str, int] = {}
    took = ""
    for line in plan:
        text = line.replace("->", "").split("(cost")[0].split("(actual")[0].strip()
        if "Scan" in text or text.startswith(("SEARCH", "SCAN")):
            found[text] = found.get(text, 0) + 1
        elif line.startswith("Execution Time"):
            took = line.split(":", 1)[1].strip()
    listed = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in found.items())
    return f"{listed}{', executed in ' + took if took else ''}"


def collect(step: Step, db: str, today: str) -> None:
    """The step's headline table: its JSON sidecar (our scripts) or the first table of its result file."""
    kind = {"queue": "queue", "http": "http", "engine": "engine", "orchestration": "orchestration",
            "peer": "peer"}[step.name]
    dbs = ["postgres", "sqlite"] if step.name == "engine" and db == "postgres" else [db]
    tables = []
    since = time.time() - step.seconds - 5  # files this run wrote, not older ones
    for d in dbs:
        md = RESULTS / f"{kind}-{d}-{today}.md"
        js = md.with_suffix(".json")
        if js.exists() and js.stat().st_mtime >= since and step.name in ("queue", "http"):
            data = json.loads(js.read_text())
            tables.append(md_table(tuple(data["head"]), [tuple(r) for r in data["rows"]]))
            if step.name == "queue":
                step.notes += [
                    f"{s['cases']:,} cases: generated in {s['generated_s']:.0f}s "
                    f"({s['cases'] / s['generated_s']:,.0f} cases/s, {s['rows'] / s['generated_s']:,.0f} rows/s); "
                    f"plans: first page {scans(s['plan_first'])}; deep page {scans(s['plan_deep'])}"
                    for s in data["scales"]]
        elif md.exists() and md.stat().st_mtime >= since:
            table = first_table(md.read_text(encoding="utf-8"))
            if table:
                tables.append(table)
        if md.exists():
            step.detail += (", " if step.detail else "") + f"[{md.name}]({md.name})"
    step.table = "\n\n".join(tables)


def _result_files(name: str, db: str, today: str) -> list[Path]:
    dbs = ["postgres", "sqlite"] if name == "engine" and db == "postgres" else [db]
    return [RESULTS / f"{name}-{d}-{today}.md" for d in dbs]


def _keep_canonical(name: str, args: argparse.Namespace, today: str) -> dict[Path, bytes | None]:
    """A small run must not replace the engine and orchestration figures their own full runs wrote."""
    if args.scale == "full" or name not in ("engine", "orchestration"):
        return {}
    return {f: f.read_bytes() if f.exists() else None for f in _result_files(name, args.db, today)}


def _restore_canonical(step: Step, kept: dict[Path, bytes | None]) -> None:
    """The small run's file goes to suite-small-<name>-…; the file it replaced comes back."""
    for path, before in kept.items():
        if path.exists() and path.read_bytes() != before:
            aside = path.with_name(f"suite-small-{path.name}")
            path.replace(aside)
            step.detail = step.detail.replace(f"[{path.name}]({path.name})", f"[{aside.name}]({aside.name})")
        if before is not None and not path.exists():
            path.write_bytes(before)


def write(steps: list[Step], args: argparse.Namespace, database: str, started: datetime) -> Path:
    today = started.date().isoformat()
    path = RESULTS / f"suite-{args.db}-{today}.md"
    lines = [f"# Benchmark suite — {args.db} — {today}", "",
             f"`make bench BENCH_SCALE={args.scale}` (`python bench/suite.py --scale {args.scale} --db {args.db}`), "
             f"started {started.isoformat(timespec='seconds')}, finished "
             f"{datetime.now(UTC).isoformat(timespec='seconds')}", "",
             f"- machine: {machine()} (load average at the end; other processes shared the 2 CPUs)",
             f"- database: {database}",
             "- each figure comes from the script named in its section, which prints it and writes the detailed "
             "file linked there; nothing about timing is asserted", ""]
    for s in steps:
        status = "ok" if s.code == 0 else f"exit {s.code}"
        shown = " ".join("python" if c == sys.executable else c for c in s.command)
        lines += [f"## {WHAT[s.name]}", "", f"`{shown}` — {status}, {s.seconds:.0f}s"
                  + (f"; details: {s.detail}" if s.detail else ""), ""]
        if s.table:
            lines += [s.table, ""]
        lines += [f"- {n}" for n in s.notes]
        if s.notes:
            lines.append("")
        if s.code != 0:
            lines += ["Last lines of its output:", "", "```", *s.tail, "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=tuple(SCALES), default=os.environ.get("BENCH_SCALE", "small") or "small")
    p.add_argument("--db", choices=("postgres", "sqlite"), default=None,
                   help="default: postgres when it answers, else sqlite")
    p.add_argument("--only", default=",".join(SCRIPTS), help=f"comma-separated subset of {','.join(SCRIPTS)}")
    args = p.parse_args(argv)
    why = pg_reachable()
    if args.db is None:
        args.db = "postgres" if why is None else "sqlite"
    if args.db == "postgres" and why is not None:
        raise SystemExit(f"PostgreSQL at {PG_URL} does not answer: {why}")
    started = datetime.now(UTC)
    today = date.today().isoformat()
    database = PG_URL if args.db == "postgres" else "SQLite (temporary files)"
    if args.db == "postgres":
        import sqlalchemy as sa

        from services.store.engine import Database

        engine = sa.create_engine(Database(PG_URL).url)
        with engine.connect() as conn:
            database = f"PostgreSQL {conn.exec_driver_sql('SHOW server_version').scalar()} at {PG_URL}"
        engine.dispose()
    print(f"benchmark suite, scale {args.scale}, {database}; {machine()}", flush=True)
    steps = []
    for name in args.only.split(","):
        if name == "orchestration" and args.db == "sqlite":
            continue  # its figures are PostgreSQL's (FOR UPDATE SKIP LOCKED, a million timers)
        command = [sys.executable, f"bench/{SCRIPTS[name]}", *db_args(name, args.db), *SCALES[args.scale][name]]
        step = Step(name, command)
        kept = _keep_canonical(name, args, today)
        run(step, TIMEOUT_S[args.scale])
        collect(step, args.db, today)
        _restore_canonical(step, kept)
        steps.append(step)
    path = write(steps, args, database, started)
    print(f"\nwritten {path.relative_to(ROOT)}")
    return 0 if all(s.code == 0 for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
