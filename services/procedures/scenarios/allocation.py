"""The per-user allocation of an issued scenario period, in files (states/scenarios.allocate decides it):
one Parquet of the users' rows (sorted by pseudonym: the leaf order), one of the Merkle tree's levels
(RFC 9162 hashing, services/transparency/merkle), and the scenario's current carry. The OLTP rows
(`scenario_allocations`, `scenario_carries`) keep the paths, their SHA-256 and the root.

An inclusion proof reads O(log n) hashes from the levels file, so a user's proof does not rebuild a
tree of millions of leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from services.procedures.scenarios.files import path_for, sha256_file
from services.transparency import merkle
from states.scenarios import allocation_leaf

# small row groups: the files are sorted (users by pseudonym, levels by level and index), so a proof's
# lookups skip all but a few groups by their min/max statistics
ROW_GROUP = 65_536
# issued_g: what the user was allocated at issuance (a correction lowers allocated_g, never issued_g)
USER_COLUMNS = ("user_id", "reduction_g", "carry_in_g", "allocated_g", "carry_out_g", "reversed_g", "issued_g")


def _row(values: Mapping[str, Any]) -> dict[str, int]:
    """A user's row; a file written before `issued_g` was kept reads as issued what it allocates."""
    row = {c: int(values[c]) for c in USER_COLUMNS[1:] if c in values}
    row.setdefault("issued_g", row["allocated_g"])
    return row


@dataclass(frozen=True)
class Written:
    path: Path
    sha256: str
    levels_path: Path
    root: str
    users: int


def _write_table(table: pa.Table, path: Path) -> str:
    tmp = path.with_suffix(path.suffix + ".part")
    pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
    tmp.replace(path)
    return sha256_file(path)


def leaf_hashes(project_id: int, period: str, users: list[str], allocated: Mapping[str, int]) -> list[bytes]:
    return [merkle.leaf_hash(allocation_leaf(project_id, period, u, allocated[u])) for u in users]


def write(jurisdiction: str, project_id: int, period: str, name: str, rows: Mapping[str, Mapping[str, int]]
          ) -> Written:
    """The users' rows (`rows[user][column]`) and the tree's levels, under `periods/<name>`."""
    users = sorted(rows)
    table = pa.table({"user_id": pa.array(users, pa.string()),
                      **{c: pa.array([rows[u].get(c, 0) for u in users], pa.int64()) for c in USER_COLUMNS[1:]}})
    path = path_for(jurisdiction, project_id, "periods", f"{name}-allocation.parquet")
    sha = _write_table(table, path)
    levels = merkle.all_levels(leaf_hashes(project_id, period, users, {u: rows[u]["allocated_g"] for u in users}))
    keys = sorted(levels)
    levels_path = path_for(jurisdiction, project_id, "periods", f"{name}-levels.parquet")
    _write_table(pa.table({"level": pa.array([k[0] for k in keys], pa.int16()),
                           "idx": pa.array([k[1] for k in keys], pa.int64()),
                           "hash": pa.array([levels[k] for k in keys], pa.binary(32))}), levels_path)
    root = merkle.root(len(users), lambda level, index: levels[(level, index)])
    return Written(path, sha, levels_path, root.hex(), len(users))


def read_users(path: str | Path) -> dict[str, dict[str, int]]:
    table = pq.read_table(path)
    columns = {c: table.column(c).to_pylist() for c in table.column_names}
    return {u: _row({c: v[i] for c, v in columns.items()}) for i, u in enumerate(columns["user_id"])}


def read_pairs(path: str | Path, value: str) -> dict[str, int]:
    """`user_id -> value` of a Parquet file (a verification report's users, a carry file)."""
    table = pq.read_table(path, columns=["user_id", value])
    return dict(zip(table.column("user_id").to_pylist(), (int(v) for v in table.column(value).to_pylist()),
                    strict=True))


def write_carry(jurisdiction: str, project_id: int, name: str, carry: Mapping[str, int]) -> tuple[Path, str]:
    users = sorted(u for u, g in carry.items() if g)
    path = path_for(jurisdiction, project_id, "periods", f"carry-{name}.parquet")
    table = pa.table({"user_id": pa.array(users, pa.string()),
                      "carry_g": pa.array([carry[u] for u in users], pa.int64())})
    return path, _write_table(table, path)


@cache
def _duckdb() -> duckdb.DuckDBPyConnection:
    """One in-memory database per process for the lookups (opening one costs more than a lookup); each
    call takes its own cursor, so threads do not share one."""
    return duckdb.connect(":memory:")


def user_row(path: str | Path, user: str) -> tuple[int, dict[str, int]] | None:
    """The user's leaf index and row in an allocation file."""
    con = _duckdb().cursor()
    try:
        found = con.execute("SELECT * FROM read_parquet(?, file_row_number = true) WHERE user_id = ?",
                            [str(path), user]).fetchone()
        names = [d[0] for d in con.description or ()]
    finally:
        con.close()
    if found is None:
        return None
    values = dict(zip(names, found, strict=True))
    return int(values["file_row_number"]), _row(values)


def inclusion(levels_path: str | Path, index: int, size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf `index`, reading only the subtrees it needs."""
    needed = sorted(merkle.wanted(lambda get: merkle.inclusion_proof(index, size, get)))
    found: dict[tuple[int, int], bytes] = {}
    if needed:
        con = _duckdb().cursor()
        try:
            values = ", ".join(f"({level}, {idx})" for level, idx in needed)
            rows = con.execute(f"SELECT l.level, l.idx, l.hash FROM read_parquet(?) l JOIN (VALUES {values}) "
                               "AS w(level, idx) ON l.level = w.level AND l.idx = w.idx",
                               [str(levels_path)]).fetchall()
        finally:
            con.close()
        found = {(int(lv), int(ix)): bytes(h) for lv, ix, h in rows}
    return merkle.inclusion_proof(index, size, lambda level, idx: found[(level, idx)])


def proof_view(project_id: int, period: str, user: str, index: int, size: int, allocated_g: int,
               root: str, proof: list[bytes]) -> dict[str, Any]:
    """What a user needs to check their allocation without us: the leaf's bytes, its index, the tree's size,
    the audit path and the root (RFC 9162 §2.1.3.2)."""
    leaf = allocation_leaf(project_id, period, user, allocated_g)
    return {"leaf": leaf.decode(), "leaf_hash": merkle.leaf_hash(leaf).hex(), "leaf_index": index,
            "tree_size": size, "root": root, "inclusion_proof": [p.hex() for p in proof]}
