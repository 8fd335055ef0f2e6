"""Receiving a scenario's daily batch or consent feed file (Ordos arts. 13–14; Shanghai arts. 13, 22): the
metadata and the file's SHA-256 and record count checked, the raw file kept, every row checked by
`intake`, and the batch recorded; the batches listed; a batch's refused rows as CSV.

Idempotent per batch id: the same id with the same bytes answers the first receipt (200); the same id
with other bytes is refused (409) and changes nothing. Batches of one scenario are taken one at a time
(`files.scenario_lock`), so each is checked for duplicates against every batch accepted before it and two
concurrent sends of one batch id record it once. A refused file (metadata, hash, count, unreadable) leaves
nothing behind and may be sent again; an accepted one has accepted + refused rows = rows in the file."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import duckdb
from sqlmodel import Session, col, select

from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.errors import Conflict, Invalid, NotFound
from services.procedures.scenarios import files, intake
from services.procedures.scenarios.feeds import Feed, scenario
from services.store.engine import Database
from services.store.tables import MethodologyVersion, ScenarioBatch
from states.messages import CATALOGUE, Reason, joined, label, reason
from states.profiles import all_profiles
from states.scenarios import CONSENT_COLUMNS, RECORD_COLUMNS, activities_of

KINDS = ("records", "consents")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
COUNT = re.compile(r"^[0-9]{1,10}$")
SUFFIX = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Metadata:
    """What the enterprise declares with a file (form fields as sent, unchecked)."""

    batch_id: str
    business_date: str
    record_count: str
    sha256: str
    format: str  # parquet | csv | jsonl; empty: from the file name's suffix
    filename: str


@dataclass(frozen=True)
class Checked:
    batch_id: str
    business_date: date
    record_count: int
    sha256: str
    format: str


def check_metadata(meta: Metadata, today: date) -> tuple[Checked | None, list[Reason]]:
    """The metadata typed, or every reason it cannot be (each naming its field)."""
    problems: list[Reason] = []
    if not files.BATCH_ID.match(meta.batch_id):
        problems.append(reason("scenario_batch_id", field="batch_id"))
    business: date | None = None
    try:
        business = date.fromisoformat(meta.business_date)
    except ValueError:
        problems.append(reason("scenario_business_date", field="business_date"))
    if business is not None and business > today:  # a daily batch reports a day that has happened
        problems.append(reason("scenario_business_date_future", field="business_date", day=business.isoformat(),
                               today=today.isoformat()))
    if not COUNT.match(meta.record_count):
        problems.append(reason("scenario_record_count", field="record_count"))
    if not SHA256.match(meta.sha256.lower()):
        problems.append(reason("scenario_sha256_format", field="sha256"))
    fmt = meta.format.lower() or SUFFIX.get(Path(meta.filename).suffix.lower(), "")
    if fmt not in intake.FORMATS:
        problems.append(reason("scenario_format", field="format", formats=", ".join(intake.FORMATS)))
    if problems or business is None:
        return None, problems
    return Checked(meta.batch_id, business, int(meta.record_count), meta.sha256.lower(), fmt), []


def _existing(session: Session, project_id: int, kind: str, batch_id: str) -> ScenarioBatch | None:
    return session.exec(select(ScenarioBatch).where(
        col(ScenarioBatch.project_id) == project_id, col(ScenarioBatch.kind) == kind,
        col(ScenarioBatch.batch_id) == batch_id)).first()


def _activities(session: Session, project_id: int) -> dict[str, Any]:
    project = scenario(session, project_id)
    version_id = project.methodology_version_id
    version = session.get(MethodologyVersion, version_id) if version_id is not None else None
    if version is None or not version.quantification:  # the methodology declares how records are quantified
        raise Conflict([reason("scenario_no_quantification")])
    return activities_of(version.quantification)


def receive(db: Database, feed: Feed, kind: str, meta: Metadata, upload: Path, actual_sha256: str
            ) -> tuple[int, dict[str, Any]]:
    """Take a file already written to `upload` (its SHA-256 computed while it arrived); 201 for a new
    batch, 200 for the same batch again. The upload is moved into the scenario's `raw/` or deleted."""
    try:
        return _receive(db, feed, kind, meta, upload, actual_sha256)
    finally:
        upload.unlink(missing_ok=True)


def _receive(db: Database, feed: Feed, kind: str, meta: Metadata, upload: Path, actual_sha256: str
             ) -> tuple[int, dict[str, Any]]:
    checked, problems = check_metadata(meta, local_date(clock.now()))
    if checked is not None and checked.sha256 != actual_sha256:
        problems.append(reason("scenario_sha256_mismatch", field="sha256", declared=checked.sha256,
                               actual=actual_sha256))
    if checked is None or problems:
        raise Invalid(problems)
    with files.scenario_lock(feed.jurisdiction, feed.project_id):
        with db.read() as session:
            first = _existing(session, feed.project_id, kind, checked.batch_id)
            if first is not None:
                if first.sha256 != actual_sha256:
                    raise Conflict([reason("scenario_batch_reused", field="batch_id", batch_id=checked.batch_id,
                                           sha256=first.sha256)])
                return 200, view(first)
            activities = _activities(session, feed.project_id) if kind == "records" else {}
            earlier = [Path(b.accepted_path) for b in session.exec(select(ScenarioBatch).where(
                col(ScenarioBatch.project_id) == feed.project_id, col(ScenarioBatch.kind) == kind)
                .order_by(col(ScenarioBatch.id)))]
        row = _ingest(feed, kind, checked, upload, activities, earlier)
        with db.write() as session:
            session.add(row)
            session.flush()
            return 201, view(row)


def _ingest(feed: Feed, kind: str, checked: Checked, upload: Path, activities: dict[str, Any],
            earlier: list[Path]) -> ScenarioBatch:
    """Check every row into files under tmp/, then move them and the raw file into place."""
    j, pid, name = feed.jurisdiction, feed.project_id, f"{kind}-{checked.batch_id}"
    work = uuid.uuid4().hex
    ok_tmp = files.path_for(j, pid, "tmp", f"{work}-accepted.parquet")
    no_tmp = files.path_for(j, pid, "tmp", f"{work}-rejected.parquet")
    spill = files.path_for(j, pid, "tmp", f"{work}-spill")
    started = time.perf_counter()
    try:
        late_days = all_profiles()[j].scenarios.late_days
        result = _check_rows(kind, checked, upload, activities, earlier, late_days, spill, (ok_tmp, no_tmp))
    except BaseException:
        ok_tmp.unlink(missing_ok=True)
        no_tmp.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    raw = files.path_for(j, pid, "raw", f"{name}.{checked.format}")
    accepted = files.path_for(j, pid, "accepted", f"{name}.parquet")
    rejected = files.path_for(j, pid, "rejected", f"{name}.parquet")
    upload.replace(raw)
    ok_tmp.replace(accepted)
    no_tmp.replace(rejected)
    return ScenarioBatch(
        project_id=pid, kind=kind, batch_id=checked.batch_id, business_date=checked.business_date,
        format=checked.format, declared_count=checked.record_count, sha256=checked.sha256, raw_path=str(raw),
        accepted_path=str(accepted), accepted_sha256=files.sha256_file(accepted), rejected_path=str(rejected),
        rows_total=result.rows_total, rows_accepted=result.rows_accepted, rows_rejected=result.rows_rejected,
        late=result.late, rejections=result.rejections, received_at=clock.now(),
        seconds=round(time.perf_counter() - started, 3))


def _check_rows(kind: str, checked: Checked, upload: Path, activities: dict[str, Any], earlier: list[Path],
                late_days: int, spill: Path, out: tuple[Path, Path]) -> intake.IntakeResult:
    # a memory limit with spilling: a city's day (millions of rows) fits next to the web process
    con = intake.connect(memory_limit="1GB", threads=2, temp=spill)
    try:
        if kind == "records":
            result = intake.ingest_records(con, raw=upload, fmt=checked.format, business_date=checked.business_date,
                                           activities=activities, earlier=earlier,
                                           late_days=late_days,
                                           accepted=out[0], rejected=out[1])
        else:
            result = intake.ingest_consents(con, raw=upload, fmt=checked.format, business_date=checked.business_date,
                                            accepted=out[0], rejected=out[1])
    except intake.BatchUnreadable as exc:
        raise Invalid([reason(code, **cast(dict[str, Any], params)) for code, params in exc.problems]) from exc
    except duckdb.Error as exc:  # a file DuckDB reads the header of but not every row
        raise Invalid([reason("scenario_file_unreadable", format=checked.format,
                              detail=str(exc).splitlines()[0][:200])]) from exc
    finally:
        con.close()
    if result.rows_total != checked.record_count:
        raise Invalid([reason("scenario_count_mismatch", field="record_count", declared=checked.record_count,
                              actual=result.rows_total)])
    return result


def batch_status(batch: ScenarioBatch) -> str:
    if batch.rows_rejected == 0:
        return "accepted"
    return "rejected" if batch.rows_accepted == 0 else "partly_accepted"


def view(batch: ScenarioBatch) -> dict[str, Any]:
    status = batch_status(batch)
    return {
        "scenario_id": batch.project_id, "kind": batch.kind, "batch_id": batch.batch_id,
        "business_date": batch.business_date.isoformat(), "format": batch.format, "sha256": batch.sha256,
        "declared_count": batch.declared_count, "rows_total": batch.rows_total, "rows_accepted": batch.rows_accepted,
        "rows_rejected": batch.rows_rejected, "late": batch.late, "status": status,
        "status_label": label(f"scenario_batch_status.{status}"),
        "rejections": [{"code": code, "rows": rows, **label(f"reason.scenario_{code}")}
                       for code, rows in sorted(batch.rejections.items())],
        "received_at": batch.received_at.isoformat(), "seconds": batch.seconds,
        "rejected_rows_url": f"/api/v1/scenarios/{batch.project_id}/{batch.kind}/{batch.batch_id}/rejected.csv",
    }


def listing(session: Session, project_id: int, kind: str) -> list[dict[str, Any]]:
    rows = session.exec(select(ScenarioBatch).where(col(ScenarioBatch.project_id) == project_id,
                                                    col(ScenarioBatch.kind) == kind)
                        .order_by(col(ScenarioBatch.business_date).desc(), col(ScenarioBatch.id).desc())).all()
    return [view(b) for b in rows]


def one(session: Session, project_id: int, kind: str, batch_id: str) -> ScenarioBatch:
    batch = _existing(session, project_id, kind, batch_id)
    if batch is None:
        raise NotFound.of("scenario_batch")
    return batch


def rejected_csv(batch: ScenarioBatch, lang: str) -> bytes:
    """The refused rows as sent, each with its reasons (codes, and worded in Chinese and in English);
    the header in `lang`. UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese."""
    columns = RECORD_COLUMNS if batch.kind == "records" else CONSENT_COLUMNS
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(f"SELECT row_no, {', '.join(columns)}, reasons FROM read_parquet(?) ORDER BY row_no",
                           [batch.rejected_path]).fetchall()
    finally:
        con.close()
    out = io.StringIO()
    writer = csv.writer(out)
    keys = ("row_no", *columns, "reason_codes", "reasons_zh", "reasons_en")
    writer.writerow([label(f"scenario_column.{k}")["en" if lang == "en" else "zh"] for k in keys])
    for row in rows:
        codes = str(row[-1]).split(";")
        words = joined((CATALOGUE[f"reason.scenario_{c}"] for c in codes), sep="sep.items")
        writer.writerow([*("" if v is None else v for v in row[:-1]), ";".join(codes), words.zh, words.en])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
