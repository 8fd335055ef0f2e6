"""Work-queue latency: p50/p95/p99 of `GET /api/v1/tasks?view=team`, first page and a deep page, at
several data-set sizes, with the query plans.

    python bench/queue_latency.py [--db postgres|sqlite] [--scales 10000,100000,1000000] [--requests 300]
                                  [--user sh_case_officer] [--seed 7] [--keep]

For each scale a fresh schema (`bench_queue`) is filled by `bench.generate.generate` and the request goes
through the whole HTTP stack in process (FastAPI app over `fastapi.testclient`: token lookup, the query,
JSON rendering; no socket). The deep page is the one 90 % of the way down the queue, reached by
following `next_cursor` from the first page (keyset: it should cost what the first page costs). The plans
are `EXPLAIN (ANALYZE, BUFFERS)` of the exact statement the request sent, captured from the driver.
Target (issue 8): p95 <= 50 ms at 1,000,000 cases on PostgreSQL. Nothing is asserted; the script prints,
and writes bench/results/queue-<db>-<date>.md and a .json the suite reads. Exits 2 when a plan scans the
tasks table sequentially.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event

from bench.common import RESULTS, fresh_database, machine, md_table, percentile
from bench.generate import generate

SCHEMA = "bench_queue"
TARGET_P95_MS = 50.0
DEEP = 0.9  # the deep page: this far down the queue


def _client(db: Any) -> Any:
    from fastapi.testclient import TestClient

    from services.api import create_app

    return TestClient(create_app(db, orchestrate=False))


def _walk(client: Any, headers: dict[str, str]) -> tuple[int, int, str | None]:
    """(tasks in the queue, pages, the cursor of the page DEEP of the way down)."""
    cursors: list[str | None] = [None]
    total = 0
    while True:
        params = {"view": "team", **({"cursor": cursors[-1]} if cursors[-1] else {})}
        body = client.get("/api/v1/tasks", params=params, headers=headers).json()
        total += len(body["items"])
        if not body["next_cursor"]:
            break
        cursors.append(body["next_cursor"])
    return total, len(cursors), cursors[int((len(cursors) - 1) * DEEP)]


def _timed(client: Any, headers: dict[str, str], cursor: str | None, n: int) -> list[float]:
    params = {"view": "team", **({"cursor": cursor} if cursor else {})}
    for _ in range(5):  # warm-up: connections, statement cache
        client.get("/api/v1/tasks", params=params, headers=headers)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get("/api/v1/tasks", params=params, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"GET /api/v1/tasks answered {r.status_code}: {r.text[:300]}")
    return out


def _timed_query(db: Any, user: str, cursor: str | None, n: int) -> list[float]:
    """`services.queries.queues.list_tasks` alone in a read transaction (no HTTP, no token lookup, no JSON)."""
    from services.accounts.identity import authenticate
    from services.queries import queues

    with db.read() as session:
        actor = authenticate(session, f"demo-{user}")
    out = []
    for k in range(n + 5):
        t0 = time.perf_counter()
        with db.read() as session:
            queues.list_tasks(session, actor, view="team", cursor=cursor)
        if k >= 5:  # the first five warm up
            out.append((time.perf_counter() - t0) * 1000)
    return out


def _plan(db: Any, client: Any, headers: dict[str, str], cursor: str | None) -> tuple[str, list[str]]:
    """The listing statement one request sends, and its plan."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor_: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "FROM tasks" in statement and "ORDER BY" in statement:
            seen.append((statement, params))

    event.listen(db.reader, "before_cursor_execute", capture)
    try:
        client.get("/api/v1/tasks", params={"view": "team", **({"cursor": cursor} if cursor else {})},
                   headers=headers)
    finally:
        event.remove(db.reader, "before_cursor_execute", capture)
    if not seen:
        raise SystemExit("the listing statement was not seen")
    statement, params = seen[-1]
    with db.reader.connect() as conn:
        if db.is_sqlite:
            return statement, [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
        return statement, list(conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).scalars())


def key_lines(plan: list[str]) -> list[str]:
    words = ("Scan", "Sort", "Limit", "Append", "Join", "Execution Time", "SEARCH", "SCAN", "TEMP B-TREE")
    return [line.strip() for line in plan if any(w in line for w in words)]


def seq_scans(plan: list[str]) -> list[str]:
    return [line.strip() for line in plan if "Seq Scan on tasks" in line or line.startswith("SCAN tasks")]


def measure(kind: str, n_cases: int, args: argparse.Namespace) -> dict[str, Any]:
    fresh = fresh_database(kind, prefix="bench-queue-", schema=args.schema)
    try:
        t0 = time.perf_counter()
        stats = generate(fresh.db, n_cases, args.seed, progress=n_cases >= 200_000)
        gen_s = time.perf_counter() - t0
        print(f"  {n_cases:,} cases generated in {gen_s:.1f}s ({n_cases / gen_s:,.0f} cases/s); "
              f"{stats['rows'].get('tasks', 0):,} tasks", flush=True)
        client = _client(fresh.db)
        headers = {"Authorization": f"Bearer demo-{args.user}"}
        with client:
            total, pages, deep_cursor = _walk(client, headers)
            first = _timed(client, headers, None, args.requests)
            deep = _timed(client, headers, deep_cursor, args.requests)
            query = {"first": _timed_query(fresh.db, args.user, None, args.requests),
                     "deep": _timed_query(fresh.db, args.user, deep_cursor, args.requests)}
            plans = {"first": _plan(fresh.db, client, headers, None),
                     "deep": _plan(fresh.db, client, headers, deep_cursor)}
        return {"cases": n_cases, "generated_s": gen_s, "rows": stats["rows"], "queue": total, "pages": pages,
                "deep_page": int((pages - 1) * DEEP) + 1, "first_ms": first, "deep_ms": deep,
                "query_ms": query,
                "plans": {k: {"sql": s, "plan": p} for k, (s, p) in plans.items()},
                "database": fresh.version, "where": fresh.location}
    finally:
        if args.keep:
            print(f"  kept {fresh.location}")
        else:
            fresh.cleanup()


def _fmt(ms: list[float]) -> tuple[str, str, str, str]:
    return tuple(f"{percentile(ms, q):.1f}" for q in (50, 95, 99, 100))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--scales", default="10000,100000,1000000")
    p.add_argument("--requests", type=int, default=300, help="timed requests a page and scale (default 300)")
    p.add_argument("--user", default="sh_case_officer", help="whose team queue (demo token demo-<user>)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--suffix", default="", help="appended to the result file's name")
    p.add_argument("--schema", default=SCHEMA, help=f"PostgreSQL schema (default {SCHEMA}; dropped unless --keep)")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    print(f"queue latency {date.today()}: {machine()}", flush=True)
    results = []
    for n in scales:
        print(f"scale {n:,} cases ({args.db})", flush=True)
        r = measure(args.db, n, args)
        results.append(r)
        for page in ("first", "deep"):
            p50, p95, p99, mx = _fmt(r[f"{page}_ms"])
            print(f"  {page} page: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms, max {mx} ms "
                  f"({len(r[f'{page}_ms'])} requests; queue {r['queue']:,} tasks, {r['pages']} pages)", flush=True)
            for line in key_lines(r["plans"][page]["plan"]):
                print(f"    {line}")
    path = write(args, results)
    print(f"written {path.relative_to(ROOT)}")
    scans = [line for r in results for page in ("first", "deep") for line in seq_scans(r["plans"][page]["plan"])]
    if scans:
        print("FAILED: a plan scans the tasks table: " + "; ".join(scans), file=sys.stderr)
        return 2
    return 0


def rows_of(results: list[dict[str, Any]], db: str) -> list[tuple[Any, ...]]:
    out = []
    for r in results:
        for page in ("first", "deep"):
            ms = r[f"{page}_ms"]
            p50, p95, p99, mx = _fmt(ms)
            label = "first page" if page == "first" else f"deep page ({r['deep_page']} of {r['pages']})"
            target = ("≤ 50 ms: " + ("met" if percentile(ms, 95) <= TARGET_P95_MS else "MISSED")
                      if r["cases"] >= 1_000_000 and db == "postgres" else "")
            q = r.get("query_ms", {}).get(page)
            alone = f"{percentile(q, 50):.2f} / {percentile(q, 95):.2f}" if q else ""
            out.append((f"{r['cases']:,}", f"{r['queue']:,}", label, p50, p95, p99, mx, len(ms), target, alone))
    return out


HEAD = ("cases", "tasks in the queue", "page", "p50 ms", "p95 ms", "p99 ms", "max ms", "requests", "target p95",
        "list_tasks() alone p50 / p95 ms")


def write(args: argparse.Namespace, results: list[dict[str, Any]]) -> Path:
    today = date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"queue-{args.db}-{today}{args.suffix}.md"
    lines = [f"# Work-queue latency — {args.db} — {today}", "",
             f"`python bench/queue_latency.py {' '.join(sys.argv[1:])}`", "",
             f"- machine: {machine()}",
             f"- database: {results[0]['database'] if results else '?'}, {results[0]['where'] if results else ''}",
             f"- request: `GET /api/v1/tasks?view=team` as `{args.user}` (page size 50), in process through the "
             "FastAPI app (fastapi.testclient; no socket); the deep page follows next_cursor 90 % down the queue",
             "- data: `bench/generate.py` (seed {}); generation: {}".format(args.seed, "; ".join(
                 f"{r['cases']:,} cases in {r['generated_s']:.0f}s ({r['cases'] / r['generated_s']:,.0f} cases/s, "
                 f"{sum(r['rows'].values()):,} rows)" for r in results)),
             "- nothing about timing is asserted", "",
             md_table(HEAD, rows_of(results, args.db)), ""]
    for r in results:
        for page in ("first", "deep"):
            lines += [f"Plan at {r['cases']:,} cases, {page} page:", "", "```", *r["plans"][page]["plan"], "```", ""]
    if results:
        lines += ["The statement (largest scale, deep page):", "", "```sql", results[-1]["plans"]["deep"]["sql"],
                  "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    summary = [{"cases": r["cases"], "queue": r["queue"], "generated_s": r["generated_s"],
                "rows": sum(r["rows"].values()),
                **{f"{page}_p{q}": percentile(r[f"{page}_ms"], q) for page in ("first", "deep") for q in (50, 95, 99)},
                "plan_first": key_lines(r["plans"]["first"]["plan"]),
                "plan_deep": key_lines(r["plans"]["deep"]["plan"])}
               for r in results]
    path.with_suffix(".json").write_text(json.dumps({"db": args.db, "rows": rows_of(results, args.db), "head": HEAD,
                                                     "scales": summary}, ensure_ascii=False, indent=1))
    return path


if __name__ == "__main__":
    sys.exit(main())
