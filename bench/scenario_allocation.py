"""Scenario issuance's file work per period (issue 17): the per-user allocation (states/scenarios.allocate),
its users file, the Merkle tree's levels and the carry — what `issued` does besides one ledger entry — and
one user's inclusion proof read from the levels file, against DuckDB's bare read-and-sum of the same
users file in the same run.

    .venv/bin/python -m bench.scenario_allocation --users 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from services.procedures.scenarios import allocation as files_of
from states.scenarios import allocation_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(42)
    reductions = {f"u{i:09d}": rng.randint(0, 40_000) for i in range(args.users)}  # up to 40 kg a user
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SCENARIO_DATA_DIR"] = tmp
        users_file = Path(tmp) / "users.parquet"
        pq.write_table(pa.table({"user_id": list(reductions), "reduction_g": list(reductions.values())}), users_file)
        t0 = time.perf_counter()
        total = duckdb.connect().execute("SELECT count(*), sum(reduction_g) FROM read_parquet(?)",
                                         [str(users_file)]).fetchone()
        bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        eligible = files_of.read_pairs(users_file, "reduction_g")
        block, rows = allocation_rows(eligible, {})
        written = files_of.write("ORD", 1, "2026-02", "bench", rows)
        files_of.write_carry("ORD", 1, "bench", {u: r["carry_out_g"] for u, r in rows.items()})
        issue = time.perf_counter() - t0
        picks = rng.sample(sorted(rows), min(args.proofs, len(rows)))
        t0 = time.perf_counter()
        for user in picks:
            found = files_of.user_row(written.path, user)
            assert found is not None
            files_of.inclusion(written.levels_path, found[0], written.users)
        proof_ms = (time.perf_counter() - t0) / len(picks) * 1000
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"users {args.users:,}; eligible {total[1]:,} g; block {block:,} t")  # type: ignore[index]
    print(f"bare DuckDB read-and-sum: {bare:.2f} s; allocation + files + tree + carry: {issue:.2f} s "
          f"({args.users / issue:,.0f} users/s; ratio bare/ours {bare / issue:.3f})")
    print(f"one user's row and inclusion proof: {proof_ms:.1f} ms; peak RSS {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
