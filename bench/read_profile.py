"""What one case read costs, against the reference endpoint (bench/reference_app.py), in process.

    python bench/read_profile.py [--db sqlite|postgres] [--cases N] [--requests K] [--top T]

A fresh database filled by `bench.generate.generate`; `GET /api/v1/cases/{id}` and `GET /bench/reference/{id}`
as `sh_case_officer` through the whole application (middleware included) over httpx's ASGI transport, with
the threadpool run inline so that cProfile sees the routes' work. Prints, per endpoint, this process's CPU
ms a request and the statements it sends (BEGIN counted on SQLite), then the case read's top functions
by cumulative time. Prints only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import anyio.to_thread
import sqlalchemy as sa

from bench.common import fresh_database, machine
from bench.generate import generate

PATHS = {"case": "/api/v1/cases/{}", "reference": "/bench/reference/{}"}


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    return func(*args)


async def measure(app: Any, ids: list[int], counted: list[int], top: int) -> None:
    import httpx

    headers = {"Authorization": "Bearer demo-sh_case_officer"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
        for path in PATHS.values():  # warm-up, and every answer must be 200
            for cid in ids[:20]:
                r = await client.get(path.format(cid))
                if r.status_code != 200:
                    raise SystemExit(f"{path.format(cid)} answered {r.status_code}: {r.text[:300]}")
        for name, path in [*PATHS.items(), *PATHS.items()]:
            counted[0] = 0
            c0 = time.process_time()
            for cid in ids:
                await client.get(path.format(cid))
            print(f"  {name:<10} CPU ms/request {(time.process_time() - c0) * 1000 / len(ids):6.2f}   "
                  f"statements/request {counted[0] / len(ids):5.1f}")
        profiler = cProfile.Profile()
        profiler.enable()
        for cid in ids:
            await client.get(PATHS["case"].format(cid))
        profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(str(ROOT / "services"), top)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args(argv)
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    from bench.reference_app import with_reference
    from services.api import create_app

    print(f"read profile: {machine()}")
    fresh = fresh_database(args.db, prefix="bench-read-", schema="bench_read")
    try:
        generate(fresh.db, args.cases, 7)
        with fresh.db.reader.connect() as conn:
            ids = list(conn.execute(sa.text("SELECT id FROM cases WHERE jurisdiction = 'SH' ORDER BY id")).scalars())
        ids = ids[:args.requests]
        counted = [0]
        sa.event.listen(fresh.db.reader, "before_cursor_execute", lambda *_: counted.__setitem__(0, counted[0] + 1))
        asyncio.run(measure(with_reference(create_app(fresh.db)), ids, counted, args.top))
    finally:
        fresh.cleanup()


if __name__ == "__main__":
    main()
