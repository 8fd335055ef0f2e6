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
    # order is asked for where it matters (row numbers, the refused rows' file); elsewhere DuckDB may
    # run the scan and the Parquet writer in parallel
    con.execute("SET preserve_insertion_order = false")
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
    """The file as `src(row_no, <columns> as text)`; row_no counts from 1 in file order. Values are taken as
    sent (an empty one is missing; one with spaces around fails its check and is refused, not rewritten). Parquet
    numbers its rows itself, so `src` is a view read again by each pass (columnar, cheaper than holding
    every row); CSV and JSON Lines rows are numbered once, in file order, into a table."""
    cols = ", ".join(f"nullif(CAST({c} AS VARCHAR), '') AS {c}" for c in columns)
    try:
        if fmt == "parquet":
            con.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT file_row_number + 1 AS row_no, {cols} "
                        f"FROM {_source(raw, fmt, columns)}")
            con.execute("SELECT count(*) FROM src").fetchall()  # a file that is no Parquet fails here
            return
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"CREATE OR REPLACE TEMP TABLE src AS SELECT row_number() OVER () AS row_no, {cols} "
                    f"FROM {_source(raw, fmt, columns)}")
        con.execute("SET preserve_insertion_order = false")
    except duckdb.Error as exc:
        raise BatchUnreadable([("scenario_file_unreadable", {"format": fmt, "detail": str(exc).splitlines()[0][:200]})]
                              ) from exc


def _pii_kind(column: str) -> str:
    """The kind of personal identifier a value looks like (NULL: none), with one combined regular expression
    a row; which kind is asked only of the few values that match it (DuckDB's CASE is lazy)."""
    combined = "|".join(f"({p[1:-1]})" for p in PII_PATTERNS.values())
    kinds = " ".join(f"WHEN regexp_full_match({column}, '{p[1:-1]}') THEN '{code}'" for code, p in PII_PATTERNS.items())
    return f"CASE WHEN regexp_full_match({column}, '{combined}') THEN CASE {kinds} END END"


# A value of token characters with at least one that no identifier pattern uses (a letter other than X, or
# _ . : -) is a valid pseudonym and no personal identifier: one regular expression decides the usual case,
# the token and identifier patterns run only for the rest.
_PLAIN = r"[A-Za-z0-9_.:\-]*[A-WYZa-wyz_.:\-][A-Za-z0-9_.:\-]*"


def _token_checks(column: str) -> str:
    """`ok_<column>` (a valid token) and `pii_<column>` (the kind of identifier it looks like, or NULL)."""
    plain = f"(length({column}) <= 64 AND regexp_full_match({column}, '{_PLAIN}'))"
    return (f"CASE WHEN {plain} THEN true ELSE regexp_full_match({column}, '{TOKEN_PATTERN[1:-1]}') END "
            f"AS ok_{column}, CASE WHEN {plain} THEN NULL ELSE {_pii_kind(column)} END AS pii_{column}")


def _pii_conditions(*columns: str) -> list[tuple[str, str]]:
    """(reason, condition) per kind of personal identifier, over the derived `pii_<column>` kinds."""
    return [(code, " OR ".join(f"pii_{c} = '{code}'" for c in columns)) for code in PII_PATTERNS]


def _refusals(derived: str, conditions: Sequence[tuple[str, str]], columns: Sequence[str]) -> str:
    """The refused rows as sent (`row_no, <columns>, reasons`): a row is refused when any condition holds (one
    boolean a row); the reasons are spelled out only for those rows, not for the millions that pass."""
    parts = ", ".join(f"CASE WHEN {cond} THEN '{code}' END" for code, cond in conditions)
    refused = " OR ".join(f"({cond})" for _, cond in conditions)
    return (f"SELECT row_no, {', '.join(columns)}, concat_ws(';', {parts}) AS reasons FROM ({derived}) "
            f"WHERE {refused}")


def _write(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".part")
    # no dictionaries (record ids are unique and user ids nearly so within a row group: building one is
    # wasted work) and format 2's encodings: the writer is the larger part of intake's cost
    con.execute(f"COPY ({query}) TO '{_lit(str(tmp))}' (FORMAT parquet, PARQUET_VERSION V2, DICTIONARY_SIZE_LIMIT 1)")
    tmp.replace(path)


def _rejections(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute("SELECT r, count(*) FROM (SELECT unnest(string_split(reasons, ';')) AS r FROM bad) "
                       "GROUP BY r ORDER BY r").fetchall()
    return {str(r): int(n) for r, n in rows}


def _split(con: duckdb.DuckDBPyConnection, checks: str, accepted_query: str, columns: Sequence[str],
           accepted: Path, rejected: Path) -> tuple[int, int]:
    """Every check evaluated once a row (`checks` selects the refused rows as sent, with their reasons); only
    the refused rows are kept aside (`bad`), so the accepted rows stream from `src` to their file without
    their checks being held in memory, and the refused rows' file is written from `bad` alone. Returns (rows,
    refused)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE bad AS {checks}")
    _write(con, f"{accepted_query} ANTI JOIN bad USING (row_no)", accepted)
    _write(con, f"SELECT row_no, {', '.join(columns)}, reasons FROM bad ORDER BY row_no", rejected)
    total, refused = con.execute("SELECT (SELECT count(*) FROM src), (SELECT count(*) FROM bad)"
                                 # the ignore below: fetchone() is Optional; an aggregate gives a row
                                 ).fetchone()  # type: ignore[misc]
    return int(total), int(refused)


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    for kind in ("VIEW", "TABLE"):  # src is either
        try:
            con.execute(f"DROP {kind} IF EXISTS src")
        except duckdb.CatalogException:
            pass
    for table in ("bad", "dup_in", "dup_across"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _number_pattern(activities: Mapping[str, Activity]) -> str:
    """A plain decimal number with at most 15 significant digits once in steps (quantity x 10^decimals): a
    double holds it exactly enough that rounding quantity x scale gives the exact integer steps."""
    most = max((a.decimals for a in activities.values()), default=0)
    return rf"^-?[0-9]{{1,{max(15 - most, 1)}}}(\.[0-9]{{1,12}})?$"


def ingest_records(con: duckdb.DuckDBPyConnection, *, raw: Path, fmt: str, business_date: date,
                   activities: Mapping[str, Activity], earlier: Sequence[Path], late_days: int,
                   accepted: Path, rejected: Path) -> IntakeResult:
    """Check a batch of activity records; `earlier`: the accepted files of the scenario's earlier batches."""
    _check_columns(con, raw, fmt, RECORD_COLUMNS)
    _load(con, raw, fmt, RECORD_COLUMNS)
    if activities:
        decimals = "CASE activity_type " + " ".join(f"WHEN '{_lit(a.type)}' THEN {a.decimals}"
                                                    for a in activities.values()) + " END"
        scale = "CASE activity_type " + " ".join(f"WHEN '{_lit(a.type)}' THEN {a.scale}"
                                                 for a in activities.values()) + " END"
        known = ", ".join(f"'{_lit(t)}'" for t in activities)
    else:
        decimals, scale, known = "NULL", "1", "NULL"
    # duplicates of a source record id: within the batch (all but the first occurrence) and across batches
    con.execute("CREATE OR REPLACE TEMP TABLE dup_in AS SELECT record_id, min(row_no) AS first_row FROM src "
                "WHERE record_id IS NOT NULL GROUP BY record_id HAVING count(*) > 1")
    if earlier:
        con.execute(f"CREATE OR REPLACE TEMP TABLE dup_across AS SELECT DISTINCT record_id FROM read_parquet("
                    f"{_list(earlier)}) WHERE record_id IN (SELECT record_id FROM src)")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE dup_across (record_id VARCHAR)")
    number = _number_pattern(activities)
    # each check's ingredients once a row; the reasons read them
    derived = (f"SELECT s.*, try_cast(activity_date AS DATE) AS day, regexp_full_match(quantity, '{number}') AS num, "
               f"{_token_checks('record_id')}, {_token_checks('user_id')}, "
               f"d.first_row, x.record_id IS NOT NULL AS seen "
               f"FROM src s LEFT JOIN dup_in d USING (record_id) LEFT JOIN dup_across x USING (record_id)")
    conditions = [
        ("missing_field", " OR ".join(f"{c} IS NULL" for c in RECORD_COLUMNS)),
        ("bad_record_id", "NOT ok_record_id"),
        ("bad_user_id", "NOT ok_user_id"),
        *_pii_conditions("user_id", "record_id"),
        ("unknown_activity", f"activity_type NOT IN ({known})"),
        ("bad_quantity", "NOT num"),
        ("negative_quantity", "num AND quantity LIKE '-%'"),
        ("too_precise", f"num AND contains(quantity, '.') AND {decimals} IS NOT NULL "
                        f"AND length(quantity) - strpos(quantity, '.') > coalesce({decimals}, 0)"),
        ("bad_date", f"(day IS NULL OR day < DATE '{EARLIEST}') AND activity_date IS NOT NULL"),
        ("future_date", f"day > DATE '{business_date}'"),
        ("duplicate_in_batch", "first_row IS NOT NULL AND row_no <> first_row"),
        ("duplicate_across_batches", "seen"),
    ]
    # try_cast, not CAST, below: the refused rows are never written, but nothing stops DuckDB from computing
    # a projection before the anti join drops them
    late = f"try_cast(activity_date AS DATE) < DATE '{business_date}' - INTERVAL {int(late_days)} DAY"
    # exact integer steps (see _number_pattern): under 10^15, the double's error stays far below a half step
    steps = f"CAST(round(try_cast(quantity AS DOUBLE) * {scale}) AS BIGINT)"
    accepted_query = (f"SELECT record_id, user_id, activity_type, {steps} AS quantity_steps, "
                      f"try_cast(activity_date AS DATE) AS activity_date, DATE '{business_date}' AS business_date, "
                      f"{late} AS late FROM src")
    total, refused = _split(con, _refusals(derived, conditions, RECORD_COLUMNS),
                            accepted_query, RECORD_COLUMNS, accepted, rejected)
    late_n = con.execute(f"SELECT count(*) FILTER (late) FROM read_parquet('{_lit(str(accepted))}')"
                         # the ignore below: fetchone() is Optional; an aggregate gives a row
                         ).fetchone()[0]  # type: ignore[index]
    result = IntakeResult(rows_total=total, rows_accepted=total - refused, rows_rejected=refused, late=int(late_n),
                          rejections=_rejections(con))
    _drop(con)
    return result


def ingest_consents(con: duckdb.DuckDBPyConnection, *, raw: Path, fmt: str, business_date: date,
                    accepted: Path, rejected: Path) -> IntakeResult:
    """A consent feed (Ordos art. 13: each user's authorisation): user pseudonym, granted or withdrawn, from
    which date."""
    _check_columns(con, raw, fmt, CONSENT_COLUMNS)
    _load(con, raw, fmt, CONSENT_COLUMNS)
    statuses = ", ".join(f"'{s}'" for s in CONSENT_STATUSES)
    derived = f"SELECT *, try_cast(effective_date AS DATE) AS day, {_token_checks('user_id')} FROM src"
    conditions = [
        ("missing_field", " OR ".join(f"{c} IS NULL" for c in CONSENT_COLUMNS)),
        ("bad_user_id", "NOT ok_user_id"),
        *_pii_conditions("user_id"),
        ("bad_status", f"status NOT IN ({statuses})"),
        ("bad_date", f"(day IS NULL OR day < DATE '{EARLIEST}') AND effective_date IS NOT NULL"),
        ("future_date", f"day > DATE '{business_date}'"),
    ]
    total, refused = _split(con, _refusals(derived, conditions, CONSENT_COLUMNS),
                            "SELECT user_id, status, try_cast(effective_date AS DATE) AS effective_date FROM src",
                            CONSENT_COLUMNS, accepted, rejected)
    result = IntakeResult(rows_total=total, rows_accepted=total - refused, rows_rejected=refused, late=0,
                          rejections=_rejections(con))
    _drop(con)
    return result
