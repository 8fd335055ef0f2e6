"""Where scenario data lives: files under `SCENARIO_DATA_DIR` (default `var/scenarios`), one directory per
scenario (`<jurisdiction>/<project id>/`) with `raw/` (each batch exactly as sent), `accepted/` and
`rejected/` (Parquet written at intake), `periods/` (per-user totals and allocations) and `tmp/`.
Analytical work reads these with DuckDB (or Dask); the OLTP database keeps only their metadata."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BATCH_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
# the largest file one batch may be: a city's day (10 million records) is about 0.5 GiB of CSV
MAX_BYTES = int(os.environ.get("SCENARIO_MAX_BYTES") or 8 << 30)


def data_dir() -> Path:
    return Path(os.environ.get("SCENARIO_DATA_DIR") or "var/scenarios")


def scenario_dir(jurisdiction: str, project_id: int) -> Path:
    return data_dir() / jurisdiction / str(project_id)


def path_for(jurisdiction: str, project_id: int, area: str, name: str) -> Path:
    """A file of a scenario's `area` (raw, accepted, rejected, consents, periods, tmp); directories made."""
    directory = scenario_dir(jurisdiction, project_id) / area
    directory.mkdir(parents=True, exist_ok=True)
    return directory / name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def scenario_lock(jurisdiction: str, project_id: int, name: str = ".lock") -> Iterator[None]:
    """One intake at a time per scenario, across processes on the same storage: a batch's duplicates
    are checked against every batch accepted before it. Another `name` is another lock of the scenario
    (issuance's file work holds its own, so a day's intake does not wait for a period's allocation)."""
    lock = path_for(jurisdiction, project_id, "tmp", name)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
