"""Intake of one batch with DuckDB: read the file as sent (Parquet, CSV or JSON Lines) as text, check every
row, and write the accepted rows (typed) and the refused rows (as sent, with every reason) to Parquet.

Nothing accepted is lost and nothing is counted twice: a row is accepted or refused with its reasons,
and the counts add up to the file's rows; a source record id already accepted in this batch (its first
occurrence is kept) or in an earlier batch of the scenario is refused as a duplicate (Ordos art. 14,
Shanghai art. 22: data true and traceable). Values that look like a phone, an identity-card number or
an e-mail address are refused wherever they appear (Shanghai art. 22; Ordos art. 14: 经数据脱敏).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from states.scenarios import CONSENT_COLUMNS, CONSENT_STATUSES, PII_PATTERNS, RECORD_COLUMNS, TOKEN_PATTERN, Activity

FORMATS = ("parquet", "csv", "jsonl")
EARLIEST = date(1990, 1, 1)


class BatchUnreadable(Exception):
    """The file as a whole cannot be taken: (reason code, params) for each problem."""

    def __init__(self, problems: list[tuple[str, dict[str, object]]]) -> None:
        super().__init__(problems)
        self.problems = problems


@dataclass
class IntakeResult:
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    late: int
    rejections: dict[str, int] = field(default_factory=dict)


def connect(memory_limit: str | None = None, threads: int | None = None, temp: Path | None = None
            ) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if temp:
        con.execute(f"SET temp_directory = '{_lit(str(temp))}'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _lit(text: str) -> str:
    return text.replace("'", "''")


def _list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(f"'{_lit(str(p))}'" for p in paths) + "]"


def _source(raw: Path, fmt: str, columns: Sequence[str]) -> str:
    path = _lit(str(raw))
    if fmt == "parquet":
        return f"read_parquet('{path}', file_row_number = true)"
    spec = ", ".join(f"{c!r}: 'VARCHAR'" for c in columns)
    if fmt == "csv":
        return (f"read_csv('{path}', header = true, all_varchar = true, delim = ',', quote = '\"', "
                f"escape = '\"', auto_detect = false, columns = {{{spec}}})")
    return f"read_json('{path}', format = 'newline_delimited', columns = {{{spec}}})"


def _columns_of(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str) -> list[str]:
    path = _lit(str(raw))
    if fmt == "parquet":
        query = f"DESCRIBE SELECT * FROM read_parquet('{path}')"
    elif fmt == "csv":
        query = f"DESCRIBE SELECT * FROM read_csv('{path}', header = true, all_varchar = true, delim = ',')"
    else:
        query = f"DESCRIBE SELECT * FROM read_json('{path}', format = 'newline_delimited', sample_size = -1)"
    return [row[0] for row in con.execute(query).fetchall()]


def _check_columns(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str, expected: Sequence[str]) -> None:
    try:
        present = _columns_of(con, raw, fmt)
    except duckdb.Error as exc:
        raise BatchUnreadable([("scenario_file_unreadable", {"format": fmt, "detail": str(exc).splitlines()[0][:200]})]
                              ) from exc
    problems: list[tuple[str, dict[str, object]]] = []
    missing = [c for c in expected if c not in present]
    extra = [c for c in present if c not in expected]
    if missing:
        problems.append(("scenario_columns_missing", {"columns": ", ".join(missing)}))
    if extra:  # a column nobody declared may carry what must not be sent (Shanghai art. 22)
        problems.append(("scenario_columns_unexpected", {"columns": ", ".join(extra)}))
    if problems:
        raise BatchUnreadable(problems)


def _load(con: duckdb.DuckDBPyConnection, raw: Path, fmt: str, columns: Sequence[str]) -> None:
    """The file as a table `src(row_no, <columns> as trimmed text)`; row_no counts from 1 in file order."""
    row_no = "file_row_number + 1" if fmt == "parquet" else "row_number() OVER ()"
    cols = ", ".join(f"nullif(trim(CAST({c} AS VARCHAR)), '') AS {c}" for c in columns)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE src AS SELECT {row_no} AS row_no, {cols} "
                    f"FROM {_source(raw, fmt, columns)}")
    except duckdb.Error as exc:
        raise BatchUnreadable([("scenario_file_unreadable", {"format": fmt, "detail": str(exc).splitlines()[0][:200]})]
                              ) from exc


def _pii(column: str) -> list[tuple[str, str]]:
    """(reason, condition) for each kind of personal identifier in a column; one combined pattern first
    (one regular-expression pass over most rows), the kind only for the few that match it."""
    combined = "|".join(f"({p[1:-1]})" for p in PII_PATTERNS.values())
    return [(code, f"(regexp_full_match({column}, '{combined}') AND regexp_full_match({column}, '{pattern[1:-1]}'))")
            for code, pattern in PII_PATTERNS.items()]


def _reasons_sql(conditions: Sequence[tuple[str, str]]) -> str:
    parts = ", ".join(f"CASE WHEN {cond} THEN '{code}' END" for code, cond in conditions)
    return f"concat_ws(';', {parts})"


def _write(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".part")
    con.execute(f"COPY ({query}) TO '{_lit(str(tmp))}' (FORMAT parquet, COMPRESSION zstd)")
    tmp.replace(path)


def _rejections(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute("SELECT r, count(*) FROM (SELECT unnest(string_split(reasons, ';')) AS r FROM checked "
                       "WHERE reasons <> '') GROUP BY r ORDER BY r").fetchall()
    return {str(r): int(n) for r, n in rows}


def ingest_records(con: duckdb.DuckDBPyConnection, *, raw: Path, fmt: str, business_date: date,
                   activities: Mapping[str, Activity], earlier: Sequence[Path], late_days: int,
                   accepted: Path, rejected: Path) -> IntakeResult:
    """Check a batch of activity records; `earlier`: the accepted files of the scenario's earlier batches."""
    _check_columns(con, raw, fmt, RECORD_COLUMNS)
    _load(con, raw, fmt, RECORD_COLUMNS)
    if activities:
        decimals = "CASE activity_type " + " ".join(f"WHEN '{_lit(a.type)}' THEN {a.decimals}"
                                                    for a in activities.values()) + " END"
        known = ", ".join(f"'{_lit(t)}'" for t in activities)
    else:
        decimals, known = "NULL", "NULL"
    # duplicates of a source record id: within the batch (all but the first occurrence) and across batches
    con.execute("CREATE OR REPLACE TEMP TABLE dup_in AS SELECT record_id, min(row_no) AS first_row FROM src "
                "WHERE record_id IS NOT NULL GROUP BY record_id HAVING count(*) > 1")
    if earlier:
        con.execute(f"CREATE OR REPLACE TEMP TABLE dup_across AS SELECT DISTINCT record_id FROM read_parquet("
                    f"{_list(earlier)}) WHERE record_id IN (SELECT record_id FROM src)")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE dup_across (record_id VARCHAR)")
    number = r"^-?[0-9]{1,15}(\.[0-9]{1,12})?$"
    conditions = [
        ("missing_field", " OR ".join(f"{c} IS NULL" for c in RECORD_COLUMNS)),
        ("bad_record_id", f"NOT regexp_full_match(record_id, '{TOKEN_PATTERN[1:-1]}')"),
        ("bad_user_id", f"NOT regexp_full_match(user_id, '{TOKEN_PATTERN[1:-1]}')"),
        *[(code, f"({a} OR {b})") for (code, a), (_, b) in zip(_pii("user_id"), _pii("record_id"), strict=True)],
        ("unknown_activity", f"activity_type NOT IN ({known})"),
        ("bad_quantity", f"NOT regexp_full_match(quantity, '{number}')"),
        ("negative_quantity", f"regexp_full_match(quantity, '{number}') AND quantity LIKE '-%'"),
        ("too_precise", f"regexp_full_match(quantity, '{number}') AND contains(quantity, '.') "
                        f"AND {decimals} IS NOT NULL "
                        f"AND length(quantity) - strpos(quantity, '.') > coalesce({decimals}, 0)"),
        ("bad_date", f"(try_cast(activity_date AS DATE) IS NULL OR try_cast(activity_date AS DATE) < DATE "
                     f"'{EARLIEST}') AND activity_date IS NOT NULL"),
        ("future_date", f"try_cast(activity_date AS DATE) > DATE '{business_date}'"),
        ("duplicate_in_batch", "d.first_row IS NOT NULL AND row_no <> d.first_row"),
        ("duplicate_across_batches", "x.record_id IS NOT NULL"),
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE checked AS SELECT s.*, {_reasons_sql(conditions)} AS reasons "
                f"FROM src s LEFT JOIN dup_in d USING (record_id) LEFT JOIN dup_across x USING (record_id)")
    scales = " ".join(f"WHEN '{_lit(a.type)}' THEN {a.scale}" for a in activities.values())
    scale = f"CASE activity_type {scales} END" if activities else "1"
    late = f"try_cast(activity_date AS DATE) < DATE '{business_date}' - INTERVAL {int(late_days)} DAY"
    steps = f"CAST(round(try_cast(quantity AS DECIMAL(28, 12)) * {scale}) AS BIGINT)"
    _write(con, f"SELECT record_id, user_id, activity_type, {steps} AS quantity_steps, "
                f"try_cast(activity_date AS DATE) AS activity_date, "
                f"DATE '{business_date}' AS business_date, {late} AS late FROM checked WHERE reasons = '' "
                f"ORDER BY row_no", accepted)
    _write(con, "SELECT row_no, record_id, user_id, activity_type, quantity, activity_date, reasons FROM checked "
                "WHERE reasons <> '' ORDER BY row_no", rejected)
    total, ok, late_n = con.execute(
        f"SELECT count(*), count(*) FILTER (reasons = ''), count(*) FILTER (reasons = '' AND {late}) FROM checked"
    ).fetchone()  # type: ignore[misc]
    result = IntakeResult(rows_total=int(total), rows_accepted=int(ok), rows_rejected=int(total) - int(ok),
                          late=int(late_n), rejections=_rejections(con))
    con.execute("DROP TABLE IF EXISTS checked; DROP TABLE IF EXISTS src; DROP TABLE IF EXISTS dup_in; "
                "DROP TABLE IF EXISTS dup_across")
    return result


def ingest_consents(con: duckdb.DuckDBPyConnection, *, raw: Path, fmt: str, business_date: date,
                    accepted: Path, rejected: Path) -> IntakeResult:
    """A consent feed (Ordos art. 13: each user's authorisation): user pseudonym, granted or withdrawn, from
    which date."""
    _check_columns(con, raw, fmt, CONSENT_COLUMNS)
    _load(con, raw, fmt, CONSENT_COLUMNS)
    statuses = ", ".join(f"'{s}'" for s in CONSENT_STATUSES)
    conditions = [
        ("missing_field", " OR ".join(f"{c} IS NULL" for c in CONSENT_COLUMNS)),
        ("bad_user_id", f"NOT regexp_full_match(user_id, '{TOKEN_PATTERN[1:-1]}')"),
        *_pii("user_id"),
        ("bad_status", f"status NOT IN ({statuses})"),
        ("bad_date", f"(try_cast(effective_date AS DATE) IS NULL OR try_cast(effective_date AS DATE) < DATE "
                     f"'{EARLIEST}') AND effective_date IS NOT NULL"),
        ("future_date", f"try_cast(effective_date AS DATE) > DATE '{business_date}'"),
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE checked AS SELECT s.*, {_reasons_sql(conditions)} AS reasons FROM src s")
    _write(con, "SELECT user_id, status, try_cast(effective_date AS DATE) AS effective_date FROM checked "
                "WHERE reasons = '' ORDER BY row_no", accepted)
    _write(con, "SELECT row_no, user_id, status, effective_date, reasons FROM checked WHERE reasons <> '' "
                "ORDER BY row_no", rejected)
    total, ok = con.execute("SELECT count(*), count(*) FILTER (reasons = '') FROM checked").fetchone()  # type: ignore[misc]
    result = IntakeResult(rows_total=int(total), rows_accepted=int(ok), rows_rejected=int(total) - int(ok), late=0,
                          rejections=_rejections(con))
    con.execute("DROP TABLE IF EXISTS checked; DROP TABLE IF EXISTS src")
    return result
