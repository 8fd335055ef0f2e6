"""Per-user, per-day reductions of a scenario over a window of days, from its accepted records, on one of
two engines that give the same figures: DuckDB (embedded, out of core) or Dask (scale-out).

    user_day_totals(records, activities=..., registered=..., start=..., end=..., out=...,
                    consents=None, engine="duckdb", memory_limit="1GB", threads=None, client=None)
        -> Totals

- `records`: accepted-record Parquet files written at intake (columns `user_id, activity_type,
  quantity_steps, activity_date`, …); only records whose activity date lies in [`start`, `end`] and whose
  activity type the methodology declares are read.
- `activities` / `registered`: the methodology's quantification (`states.scenarios.activities_of`) and its
  registered parameters; each day uses the parameter values in force on it (`parameter_in_force`).
- `consents`: accepted consent-feed Parquet files (`user_id, status, effective_date`), or None to apply no
  consent filter. A record counts only when the user's latest consent event on or before its date is a
  grant (Ordos art. 13); two events of the same day: the withdrawal wins. Others are `no_consent`.
- Per user, day and activity the quantities (integer steps) are summed and capped at the activity's
  plausibility cap (`capped` counts the capped groups), the formula is evaluated in doubles on the capped
  quantity and rounded half up to whole grams (`states.scenarios.grams`); a group with a parameter not in
  force is `no_parameter`, one whose formula is undefined (division by zero) `formula_undefined`; both are
  left out and their records counted.
- `out`: a Parquet file written with one row per user and day: `user_id, activity_date, grams, records`
  (sorted by user, then day). Both engines write the same rows.
- Returns `Totals`: records read, records used, exclusions by reason (`states.scenarios.EXCLUSIONS`),
  capped groups, users, total grams and the total per day (for the anomaly check).

Engines: "duckdb" runs one SQL statement a run of days over the files (memory limit and spilling to a
temporary directory next to `out`); "dask" runs the same steps as Dask tasks over the Parquet row groups
with pyarrow (read and aggregate each row group and split it by user hash, combine each bucket's partial
sums pairwise, then cap and evaluate the formula with `formula_eval` bucket by bucket); pass a
`distributed.Client` to run them on a cluster (e.g. the one a Prefect `DaskTaskRunner` starts), otherwise
Dask's local scheduler runs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from services.procedures.scenarios.intake import connect
from states.scenarios import GRAMS_PER_KG, QUANTITY, Activity, factor_table, formula_eval, formula_sql, grams_sql

Engine = Literal["duckdb", "dask"]
KEYS = ["user_id", "activity_date", "activity_type"]
FAR = date(9999, 12, 31)


@dataclass
class Totals:
    records: int  # in the window, of a declared activity
    used: int  # counted into the totals
    excluded: dict[str, int] = field(default_factory=dict)  # no_consent, no_parameter, formula_undefined
    capped: int = 0  # (user, day, activity) groups whose quantity was capped
    users: int = 0
    total_g: int = 0
    per_day: dict[date, int] = field(default_factory=dict)


def user_day_totals(records: Sequence[Path], *, activities: Mapping[str, Activity],
                    registered: Sequence[Mapping[str, object]], start: date, end: date, out: Path,
                    consents: Sequence[Path] | None = None, engine: Engine = "duckdb", memory_limit: str = "1GB",
                    threads: int | None = None, client: Any = None) -> Totals:
    """The per-user, per-day grams of `records` between `start` and `end` written to `out` (see the module)."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    con = connect(memory_limit=memory_limit, threads=threads, temp=out.parent / f".{out.name}.spill")
    try:
        intervals = _consent_intervals(con, consents) if consents is not None else None
        if engine == "duckdb":
            counts = _duckdb(con, records, activities, registered, intervals, start, end, out)
        elif engine == "dask":
            counts = _dask(records, activities, _factors(activities, registered, days), intervals, start, end, out,
                           client)
        else:
            raise ValueError(f"unknown engine {engine!r}")
        return _summary(con, out, counts)
    finally:
        con.close()


# --- shared by both engines -------------------------------------------------------------------------


def _consent_intervals(con: duckdb.DuckDBPyConnection, consents: Sequence[Path]) -> pa.Table:
    """Each user's granted intervals [since, until) from the consent events (withdrawal wins a tie)."""
    schema = pa.schema([("user_id", pa.string()), ("since", pa.date32()), ("until", pa.date32())])
    if not consents:
        return schema.empty_table()
    files = "[" + ", ".join(f"'{_lit(str(p))}'" for p in consents) + "]"
    table = con.sql(f"""
        WITH e AS (SELECT user_id, effective_date AS since, bool_or(status = 'withdrawn') AS withdrawn
                   FROM read_parquet({files}) GROUP BY user_id, effective_date),
             iv AS (SELECT user_id, since, withdrawn, coalesce(lead(since) OVER (PARTITION BY user_id ORDER BY since),
                           DATE '{FAR}') AS until FROM e)
        SELECT user_id, since, until FROM iv WHERE NOT withdrawn ORDER BY user_id, since""").to_arrow_table()
    return table.cast(schema)


def _factors(activities: Mapping[str, Activity], registered: Sequence[Mapping[str, object]],
             days: Sequence[date]) -> pa.Table:
    """(activity, day) -> cap, scale and every bound parameter in force (null when none is)."""
    rows = factor_table(activities, registered, days)
    names = sorted({f"p_{local}" for a in activities.values() for local in a.bind})
    columns: dict[str, list[object]] = {
        "activity_type": [r["activity_type"] for r in rows],
        "activity_date": [r["activity_date"] for r in rows],
        "cap_steps": [activities[str(r["activity_type"])].cap_steps for r in rows],
        "scale": [float(activities[str(r["activity_type"])].scale) for r in rows],
    }
    for name in names:
        columns[name] = [r.get(name) for r in rows]
    types = {"activity_type": pa.string(), "activity_date": pa.date32(), "cap_steps": pa.int64(),
             "scale": pa.float64(), **{n: pa.float64() for n in names}}
    return pa.table({k: pa.array(v, type=types[k]) for k, v in columns.items()})


def _summary(con: duckdb.DuckDBPyConnection, out: Path, counts: dict[str, int]) -> Totals:
    path = _lit(str(out))
    users, total = con.execute(f"SELECT count(DISTINCT user_id), coalesce(sum(grams), 0) "
                               # the ignore below: fetchone() is Optional; an aggregate gives a row
                               f"FROM read_parquet('{path}')").fetchone()  # type: ignore[misc]
    per_day = con.execute(f"SELECT activity_date, sum(grams) FROM read_parquet('{path}') GROUP BY 1 ORDER BY 1"
                          ).fetchall()
    excluded = {k: int(counts.get(k, 0)) for k in ("no_consent", "no_parameter", "formula_undefined")}
    return Totals(records=int(counts["records"]), used=int(counts["used"]), excluded=excluded,
                  capped=int(counts["capped"]), users=int(users), total_g=int(total),
                  per_day={d: int(g) for d, g in per_day})


def _lit(text: str) -> str:
    return text.replace("'", "''")


# --- DuckDB -----------------------------------------------------------------------------------------


ROWS_PER_PASS = 20_000_000  # records grouped in one DuckDB pass: ~1 GB of groups at worst, spilled beyond


def _passes(records: Sequence[Path], start: date, end: date) -> list[tuple[date, date]]:
    """The window cut into runs of consecutive days, each reading at most `ROWS_PER_PASS` rows by the files'
    row-group statistics (a run is at least one day): a day of a city (one file, a few days' activity dates)
    is one pass over its file, a month a pass a day or so, so memory holds one pass's groups whatever the
    window. Rows of [a, b] = rows of groups starting by b - rows of groups ending before a (which all start
    before b)."""
    n, bound = (end - start).days + 1, ROWS_PER_PASS
    starts, ends = [0] * n, [0] * n
    for lo, hi, rows in (g for p in records for g in _row_groups(p, start, end)):
        starts[max((lo - start).days, 0)] += rows
        ends[min((hi - start).days, n - 1)] += rows
    by, before, passes, a = [0] * n, [0] * (n + 1), [], 0
    for i in range(n):  # by[i]: rows of groups starting on or before day i; before[i]: ending before day i
        by[i] = (by[i - 1] if i else 0) + starts[i]
        before[i + 1] = before[i] + ends[i]
    while a < n:
        b = a
        while b + 1 < n and by[b + 1] - before[a] <= bound:
            b += 1
        passes.append((start + timedelta(days=a), start + timedelta(days=b)))
        a = b + 1
    return passes


def _row_groups(path: Path, start: date, end: date) -> list[tuple[date, date, int]]:
    """(first, last activity date, rows) of each row group of a file that can hold a day of the window (the
    whole window where the statistics are missing)."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("activity_date")
    out = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(column).statistics
        lo, hi = (stats.min, stats.max) if stats is not None and stats.has_min_max else (start, end)
        if lo <= end and hi >= start:
            out.append((max(lo, start), min(hi, end), group.num_rows))
    return out


def _duckdb(con: duckdb.DuckDBPyConnection, records: Sequence[Path], activities: Mapping[str, Activity],
            registered: Sequence[Mapping[str, object]], intervals: pa.Table | None, start: date, end: date,
            out: Path) -> dict[str, int]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    con.register("params", _parameters_by_day(activities, registered, days))
    if intervals is not None:
        con.register("consent", intervals)
    # one row per user and day with what was counted and what was left out, a run of days at a time (the
    # groups of a day are independent of another's; see _passes), so that memory holds one run's groups and
    # the Parquet statistics skip the files of other days
    con.execute("CREATE OR REPLACE TEMP TABLE daily (user_id VARCHAR, activity_date DATE, counted BOOLEAN, "
                "grams BIGINT, records BIGINT, no_consent BIGINT, no_parameter BIGINT, formula_undefined BIGINT, "
                "capped BIGINT)")
    query = _user_days(records, activities, intervals is not None)
    for first, last in _passes(records, start, end):
        con.execute(f"INSERT INTO daily {query}", {"first": first, "last": last})
    tmp = out.with_suffix(out.suffix + ".part")
    # a user-day none of whose groups counted (all left out) is in the figures, not in the file
    con.execute(f"COPY (SELECT user_id, activity_date, grams, records FROM daily WHERE counted "
                f"ORDER BY user_id, activity_date) TO '{_lit(str(tmp))}' (FORMAT parquet, COMPRESSION zstd)")
    tmp.replace(out)
    row = con.execute("SELECT coalesce(sum(records), 0), coalesce(sum(no_consent), 0), coalesce(sum(no_parameter), 0), "
                      "coalesce(sum(formula_undefined), 0), coalesce(sum(capped), 0) FROM daily").fetchone()
    used, no_consent, no_parameter, undefined, capped = (int(v) for v in row or (0, 0, 0, 0, 0))
    con.execute("DROP TABLE daily")
    return {"used": used, "no_consent": no_consent, "no_parameter": no_parameter, "formula_undefined": undefined,
            "capped": capped, "records": used + no_consent + no_parameter + undefined}


def _parameters_by_day(activities: Mapping[str, Activity], registered: Sequence[Mapping[str, object]],
                       days: Sequence[date]) -> pa.Table:
    """Day -> the value in force of each activity's bound parameters (`a<i>_<local>`, null when none is)."""
    rows = {(r["activity_type"], r["activity_date"]): r for r in factor_table(activities, registered, days)}
    columns = {"activity_date": pa.array(days, pa.date32())}
    for i, activity in enumerate(activities.values()):
        for local in activity.bind:
            columns[f"a{i}_{local}"] = pa.array([rows[activity.type, d][f"p_{local}"] for d in days], pa.float64())
    return pa.table(columns)


def _user_days(records: Sequence[Path], activities: Mapping[str, Activity], consent: bool) -> str:
    """A run of days' rows of `daily` (parameters $first, $last). The records are grouped once per user and
    day, with a sum and a count per activity type (the methodology declares a handful), so that no second
    grouping is needed; per activity the capped quantity, the formula on it, the grams, or why the group is
    left out (no_consent, no_parameter, formula_undefined) are columns of that row. Consent depends on the
    user and the day alone: it is looked up once per user-day, not per record."""
    kinds = list(activities.values())
    sums = "".join(f", sum(quantity_steps) FILTER (activity_type = '{_lit(a.type)}') AS s{i}, "
                   f"count(*) FILTER (activity_type = '{_lit(a.type)}') AS n{i}" for i, a in enumerate(kinds))
    known = ", ".join(f"'{_lit(t)}'" for t in activities) or "NULL"
    files = "[" + ", ".join(f"'{_lit(str(p))}'" for p in records) + "]"
    table = (f"read_parquet({files})" if records else
             "(SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS activity_type, NULL::DATE AS activity_date, "
             "NULL::BIGINT AS quantity_steps WHERE false)")
    source = (f"SELECT user_id, activity_date{sums} FROM {table} WHERE activity_date BETWEEN $first AND $last "
              f"AND activity_type IN ({known}) GROUP BY user_id, activity_date")
    ok = ("EXISTS (SELECT 1 FROM consent c WHERE c.user_id = d.user_id AND d.activity_date >= c.since "
          "AND d.activity_date < c.until)" if consent else "true")
    kg = "".join(f", CAST(least(s{i}, {a.cap_steps}) AS DOUBLE) / {a.scale}.0 AS q{i}, "
                 f"{' OR '.join(f'a{i}_{local} IS NULL' for local in a.bind) or 'false'} AS missing{i}"
                 for i, a in enumerate(kinds))
    formula = "".join(f", {formula_sql(a.tree, _columns(a, i))} AS kg{i}" for i, a in enumerate(kinds))
    status = "".join(f", CASE WHEN n{i} = 0 THEN NULL WHEN NOT ok THEN 'no_consent' "
                     f"WHEN missing{i} THEN 'no_parameter' WHEN kg{i} IS NULL OR NOT isfinite(kg{i}) "
                     f"THEN 'formula_undefined' ELSE 'used' END AS st{i}"
                     for i in range(len(kinds)))

    def total(of: str, status: str) -> str:
        return " + ".join(f"CASE WHEN st{i} = '{status}' THEN {of.format(i=i)} ELSE 0 END"
                          for i in range(len(kinds))) or "0"

    counted = " OR ".join(f"st{i} = 'used'" for i in range(len(kinds))) or "false"
    capped = " + ".join(f"CASE WHEN ok AND s{i} > {a.cap_steps} THEN 1 ELSE 0 END" for i, a in enumerate(kinds)) or "0"
    return f"""
        WITH d AS ({source}),
             c AS (SELECT *, {ok} AS ok FROM d JOIN params USING (activity_date)),
             q AS (SELECT *{kg} FROM c),
             k AS (SELECT *{formula} FROM q),
             s AS (SELECT *{status} FROM k)
        SELECT user_id, activity_date, {counted}, {total(grams_sql('kg{i}'), 'used')}, {total('n{i}', 'used')},
               {total('n{i}', 'no_consent')}, {total('n{i}', 'no_parameter')}, {total('n{i}', 'formula_undefined')},
               {capped}
        FROM s"""


def _columns(activity: Activity, i: int) -> dict[str, str]:
    return {QUANTITY: f"q{i}", **{local: f"a{i}_{local}" for local in activity.bind}}


# --- Dask -------------------------------------------------------------------------------------------

ARROW_OPS = {"+": pc.add, "-": pc.subtract, "*": pc.multiply, "/": pc.divide, "neg": lambda a, _: pc.negate(a)}
SUMS = [("steps", "sum"), ("n", "sum")]


ROWS_PER_BUCKET = 4_000_000  # the Dask engine's final work is split by user hash into buckets of about this


def _partial(path: str, row_group: int, known: list[str], start: date, end: date,
             intervals: pa.Table | None, buckets: int) -> tuple[list[pa.Table], int]:
    """One row group: the records in the window, consented, summed per user, day and activity, split by the
    hash of the user (DuckDB's `hash`, the same on every worker) into `buckets` tables."""
    table = pq.ParquetFile(path).read_row_group(
        row_group, columns=["user_id", "activity_type", "activity_date", "quantity_steps"])
    day = table["activity_date"]
    table = table.filter(pc.and_(pc.and_(pc.greater_equal(day, pa.scalar(start)), pc.less_equal(day, pa.scalar(end))),
                                 pc.is_in(table["activity_type"], value_set=pa.array(known, pa.string()))))
    n_in = table.num_rows
    if intervals is not None:
        joined = table.join(intervals, keys="user_id", join_type="inner")
        inside = pc.and_(pc.greater_equal(joined["activity_date"], joined["since"]),
                         pc.less(joined["activity_date"], joined["until"]))
        table = joined.filter(inside).select(table.column_names)
    table = table.append_column("n", pa.array([1] * table.num_rows, pa.int64()))
    grouped = table.rename_columns([*table.column_names[:3], "steps", "n"]).group_by(KEYS).aggregate(SUMS)
    grouped = grouped.rename_columns([*KEYS, "steps", "n"])
    con = duckdb.connect(config={"threads": 1})
    try:
        con.register("g", grouped.select(["user_id"]))
        bucket = con.sql(f"SELECT CAST(hash(user_id) % {int(buckets)} AS INTEGER) AS b FROM g").to_arrow_table()["b"]
    finally:
        con.close()
    return [grouped.filter(pc.equal(bucket, b)) for b in range(buckets)], n_in


def _piece(part: tuple[list[pa.Table], int], bucket: int) -> pa.Table:
    return part[0][bucket]


def _read(part: tuple[list[pa.Table], int]) -> int:
    return part[1]


def _combine(a: pa.Table, b: pa.Table) -> pa.Table:
    grouped = pa.concat_tables([a, b]).group_by(KEYS).aggregate(SUMS)
    return grouped.rename_columns([*KEYS, "steps", "n"])


DAILY = pa.schema([("user_id", pa.string()), ("activity_date", pa.date32()), ("grams", pa.int64()),
                   ("records", pa.int64())])


def _grams(table: pa.Table, activities: Mapping[str, Activity], factors: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """One bucket of users: cap, evaluate the formula (the same tree as the SQL), round to grams; the bucket's
    user-day rows and its counts."""
    counts = {"used": 0, "no_parameter": 0, "formula_undefined": 0, "capped": 0}
    parts = []
    for activity in activities.values():
        rows = table.filter(pc.equal(table["activity_type"], activity.type)).join(
            factors, keys=["activity_type", "activity_date"], join_type="inner")
        if rows.num_rows == 0:
            continue
        capped = pc.greater(rows["steps"], rows["cap_steps"])
        counts["capped"] += pc.sum(capped).as_py() or 0
        q = pc.divide(pc.cast(pc.min_element_wise(rows["steps"], rows["cap_steps"]), pa.float64()), rows["scale"])
        values: dict[str, object] = {QUANTITY: q, **{local: rows[f"p_{local}"] for local in activity.bind}}
        kg = formula_eval(activity.tree, values, ARROW_OPS)
        missing = pa.array([False] * rows.num_rows)
        for local in activity.bind:
            missing = pc.or_(missing, pc.is_null(rows[f"p_{local}"]))
        undefined = pc.and_(pc.invert(missing), pc.invert(pc.fill_null(pc.is_finite(kg), False)))
        ok = pc.invert(pc.or_(missing, undefined))
        counts["no_parameter"] += pc.sum(pc.if_else(missing, rows["n"], 0)).as_py() or 0
        counts["formula_undefined"] += pc.sum(pc.if_else(undefined, rows["n"], 0)).as_py() or 0
        kg_ok = pc.if_else(ok, kg, 0.0)  # grams(): floor(kg * 1000 + 0.5), never negative
        rounded = pc.floor(pc.add(pc.multiply(kg_ok, float(GRAMS_PER_KG)), 0.5))
        grams = pc.max_element_wise(pc.cast(rounded, pa.int64()), 0)
        kept = pa.table({"user_id": rows["user_id"], "activity_date": rows["activity_date"],
                         "grams": grams, "records": rows["n"]}).filter(ok)
        counts["used"] += pc.sum(kept["records"]).as_py() or 0
        parts.append(kept)
    daily = pa.concat_tables([p.cast(DAILY) for p in parts]) if parts else DAILY.empty_table()
    daily = daily.group_by(["user_id", "activity_date"]).aggregate([("grams", "sum"), ("records", "sum")])
    daily = daily.rename_columns(["user_id", "activity_date", "grams", "records"])
    return daily, counts


def _write(buckets: list[tuple[pa.Table, dict[str, int]]], read: list[int], out: str) -> dict[str, int]:
    """The buckets' user-day rows (one row per user and day: what is left once the grouping and the formula
    work are done, spread over the buckets) written sorted by user and day; the counts summed."""
    order = [("user_id", "ascending"), ("activity_date", "ascending")]
    daily = pa.concat_tables([b[0] for b in buckets]).sort_by(order)
    tmp = Path(out + ".part")
    pq.write_table(daily, tmp, compression="zstd")
    tmp.replace(out)
    counts = {k: sum(b[1][k] for b in buckets) for k in ("used", "no_parameter", "formula_undefined", "capped")}
    counts["records"] = sum(read)
    counts["no_consent"] = counts["records"] - counts["used"] - counts["no_parameter"] - counts["formula_undefined"]
    return counts


def _dask(records: Sequence[Path], activities: Mapping[str, Activity], factors: pa.Table,
          intervals: pa.Table | None, start: date, end: date, out: Path, client: Any) -> dict[str, int]:
    """Partial sums per row group, split by user hash; each bucket combined (pairwise, so no task holds more
    than two partial tables) and quantified on its own, wherever the scheduler puts it; then the rows
    written."""
    from dask.delayed import delayed  # imported here: the embedded engine does not need Dask loaded

    known = list(activities)
    files = [(p, pq.ParquetFile(p).metadata) for p in records]
    rows = sum(meta.num_rows for _, meta in files)
    n = max(2, -(-rows // ROWS_PER_BUCKET))
    parts = [delayed(_partial)(str(p), i, known, start, end, intervals, n)
             for p, meta in files for i in range(meta.num_row_groups)]
    empty = pa.table({"user_id": pa.array([], pa.string()), "activity_date": pa.array([], pa.date32()),
                      "activity_type": pa.array([], pa.string()), "steps": pa.array([], pa.int64()),
                      "n": pa.array([], pa.int64())})
    done = []
    for bucket in range(n):
        pieces = [delayed(_piece)(part, bucket) for part in parts] or [delayed(empty)]
        while len(pieces) > 1:
            pieces = [delayed(_combine)(pieces[i], pieces[i + 1]) if i + 1 < len(pieces) else pieces[i]
                      for i in range(0, len(pieces), 2)]
        done.append(delayed(_grams)(pieces[0], dict(activities), factors))
    job = delayed(_write)(done, [delayed(_read)(part) for part in parts], str(out))
    if client is not None:
        # the ignore below: dask's compute is untyped; the job returns the counts built by its last task
        return client.compute(job).result()  # type: ignore[no-any-return]
    # the ignore below: dask's compute is untyped; the job returns the counts built by its last task
    return job.compute()  # type: ignore[no-any-return]
