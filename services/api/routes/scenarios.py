"""A registered scenario's data feed (issue 17; Ordos arts. 13–14, Shanghai arts. 13, 22): its credential,
the daily batches of activity records and the consent feed sent with it, their status and refused rows.

The enterprise's system sends files with `Authorization: Bearer scn_…` (the feed credential); people (the
owner's staff, the jurisdiction's officers) read the same lists with their own token."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.datastructures import UploadFile

from services.api.deps import DbDep, current_actor
from services.api.responses import errors, file
from services.engine.errors import Invalid
from services.procedures.scenarios import batches, feeds
from services.procedures.scenarios.files import MAX_BYTES, path_for
from services.queries.schemas import Bilingual, Public
from services.store.engine import Database
from states.messages import reason

router = APIRouter(prefix="/api/v1", tags=["scenarios"])


class CredentialPublic(Public):
    """A feed credential just issued: the token is shown here only (only its SHA-256 is kept)."""

    scenario_id: int
    token: str = Field(description="Send as `Authorization: Bearer <token>` with each file")
    issued_at: str = Field(description="ISO 8601 instant")
    rotated: bool = Field(description="A previous credential existed and no longer works")


class RejectionCount(Public):
    code: str = Field(description="Why rows were refused (`missing_field`, `pii_phone`, `duplicate_across_batches`, …)")
    rows: int
    zh: str
    en: str


class BatchPublic(Public):
    """One file received: what was declared, what was found, refusals by reason."""

    scenario_id: int
    kind: str = Field(description="records | consents")
    batch_id: str
    business_date: str = Field(description="YYYY-MM-DD")
    format: str = Field(description="parquet | csv | jsonl")
    sha256: str = Field(description="Hex SHA-256 of the file as sent")
    declared_count: int
    rows_total: int
    rows_accepted: int
    rows_rejected: int = Field(description="rows_accepted + rows_rejected = rows_total")
    late: int = Field(description="Accepted rows whose activity is older than the profile's late_days")
    status: str = Field(description="accepted | partly_accepted | rejected (every row refused)")
    status_label: Bilingual
    rejections: list[RejectionCount]
    received_at: str = Field(description="ISO 8601 instant")
    seconds: float = Field(description="Time the rows took to check")
    rejected_rows_url: str = Field(description="The refused rows as CSV")


class BatchList(Public):
    scenario_id: int
    kind: str
    credential_issued_at: str | None = Field(description="When the current credential was issued (None: none)")
    items: list[BatchPublic]
Kind = Literal["records", "consents"]
CHUNK = 1 << 20

UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "batch_id", "business_date", "record_count", "sha256"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "Parquet, CSV (UTF-8, header row) or JSON Lines; records: columns record_id, user_id, "
                                "activity_type, quantity, activity_date; consents: user_id, status, effective_date"},
        "batch_id": {"type": "string", "description": "Unique per scenario and kind; sending it again with the "
                                                      "same bytes answers the first receipt"},
        "business_date": {"type": "string", "format": "date", "description": "The day the batch reports"},
        "record_count": {"type": "integer", "description": "Rows in the file (checked)"},
        "sha256": {"type": "string", "description": "SHA-256 of the file, hex (checked)"},
        "format": {"type": "string", "enum": ["parquet", "csv", "jsonl"],
                   "description": "Default: from the file name's suffix"}}}}}}}


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _reader(request: Request, db: Database, project_id: int, authorization: str | None) -> None:
    """The feed's credential, or a person who may see the scenario (else 401/403/404)."""
    token = _bearer(authorization)
    with db.read() as session:
        if feeds.is_feed_token(token):
            feeds.authenticate(session, token, project_id)
            return
    actor = current_actor(request, authorization)
    with db.read() as session:
        feeds.visible_scenario(session, actor, project_id)


@router.post("/scenarios/{project_id}/feed/credential", status_code=201,
             summary="Issue or rotate the scenario's data-submission credential (an officer or the owner); the token "
                     "is shown in this reply only, and the previous one stops working",
             responses=errors(401, 403, 404, 409, 422))
def issue_credential(project_id: int, request: Request, db: DbDep,
                     authorization: Annotated[str | None, Header()] = None) -> CredentialPublic:
    return CredentialPublic.model_validate(feeds.issue(db, current_actor(request, authorization), project_id))


async def _upload(request: Request, db: Database, project_id: int, kind: str, authorization: str | None
                  ) -> JSONResponse:
    with db.read() as session:
        feed = feeds.authenticate(session, _bearer(authorization), project_id)
    form = await request.form(max_files=1, max_part_size=64 * 1024)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid([reason("scenario_file_missing", field="file")])
    meta = batches.Metadata(**{k: str(form.get(k) or "").strip() for k in (
        "batch_id", "business_date", "record_count", "sha256", "format")}, filename=upload.filename or "")
    target = path_for(feed.jurisdiction, feed.project_id, "tmp", f"upload-{uuid.uuid4().hex}.part")
    digest = await _spool(upload, target)
    status, body = await run_in_threadpool(batches.receive, db, feed, kind, meta, target, digest)
    return JSONResponse(body, status_code=status)


async def _spool(upload: UploadFile, target: Path) -> str:
    """Copy the upload to `target` (never whole in memory), hashing it on the way."""
    digest, size = hashlib.sha256(), 0
    try:
        with target.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise Invalid([reason("scenario_file_too_large", field="file", limit=MAX_BYTES)])
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


@router.post("/scenarios/{project_id}/{kind}", status_code=201,
             summary="Send a file with the feed credential: `records`, a day's batch of activity records (Ordos art. "
                     "14), or `consents`, the consent feed (art. 13: user_id, status granted | withdrawn, "
                     "effective_date); 201 received, 200 the same batch again; every row accepted or refused with "
                     "its reasons",
             response_model=BatchPublic, openapi_extra=UPLOAD,
             responses={200: {"model": BatchPublic, "description": "The same batch sent again: the first receipt"},
                        **errors(401, 403, 404, 409, 413, 422)})
async def send_batch(project_id: int, kind: Kind, request: Request, db: DbDep,
                     authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    return await _upload(request, db, project_id, kind, authorization)


@router.get("/scenarios/{project_id}/{kind}", summary="The scenario's batches of this kind, newest first, and the "
                                                     "credential's date", responses=errors(401, 403, 404, 422))
def list_batches(project_id: int, kind: Kind, request: Request, db: DbDep,
                 authorization: Annotated[str | None, Header()] = None) -> BatchList:
    _reader(request, db, project_id, authorization)
    with db.read() as session:
        return BatchList.model_validate({"scenario_id": project_id, "kind": kind, **feeds.status(session, project_id),
                                         "items": batches.listing(session, project_id, kind)})


@router.get("/scenarios/{project_id}/{kind}/{batch_id}", summary="One batch: counts, refusals by reason",
            responses=errors(401, 403, 404, 422))
def get_batch(project_id: int, kind: Kind, batch_id: str, request: Request, db: DbDep,
              authorization: Annotated[str | None, Header()] = None) -> BatchPublic:
    _reader(request, db, project_id, authorization)
    with db.read() as session:
        return BatchPublic.model_validate(batches.view(batches.one(session, project_id, kind, batch_id)))


@router.get("/scenarios/{project_id}/{kind}/{batch_id}/rejected.csv",
            summary="The batch's refused rows as sent, each with its reasons (codes, Chinese, English)",
            response_class=Response, responses={**file("text/csv"), **errors(401, 403, 404, 422, text=True)})
def rejected_rows(project_id: int, kind: Kind, batch_id: str, request: Request, db: DbDep,
                  lang: Annotated[Literal["zh", "en"], Query()] = "zh",
                  authorization: Annotated[str | None, Header()] = None) -> Response:
    _reader(request, db, project_id, authorization)
    with db.read() as session:
        batch = batches.one(session, project_id, kind, batch_id)
    name = f"{kind}-{batch_id}-rejected.csv"
    return Response(batches.rejected_csv(batch, lang), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

