"""Documents of a case: upload (multipart, with a visibility), list and download what the asker may
read, the approver's publication mark; and withdrawing a filed methodology."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from services.api.deps import ActorDep, DbDep, IdemKey
from services.api.responses import errors, file
from services.engine.errors import Invalid
from services.procedures import documents
from services.procedures.methodologies import withdraw
from services.queries import cases
from services.queries.cases import DocumentList, DocumentPublic
from services.queries.registry import MethodologyWithdrawn
from services.queries.schemas import coded
from services.store.tables import Document

router = APIRouter(prefix="/api/v1", tags=["documents"])

UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "PDF, DOCX, XLSX, PNG, JPEG or CSV: the "
                                                                      "declared type must match the bytes"},
        "visibility": {"type": "string", "enum": list(documents.VISIBILITIES),
                       "description": "Default: internal for staff, case for the applicant"},
        "kind": {"type": "string", "description": "What the document is: one of the procedure's document types "
                                                  "in the jurisdiction's profile (`[documents]`), e.g. "
                                                  "implementation_plan; the submission needs the required ones"}}}}}}}


@router.post("/cases/{case_id}/documents", status_code=201, response_model=DocumentPublic,
             summary="Attach a document (multipart fields `file`, optional `visibility`: public | case | internal, "
                     "and optional `kind`: its document type)",
             responses=errors(401, 403, 404, 409, 413, 422), openapi_extra=UPLOAD)
async def upload(case_id: int, request: Request, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                 ) -> dict[str, Any]:
    form = await request.form(max_files=1)
    file_, visibility, kind = form.get("file"), form.get("visibility"), form.get("kind")
    if not isinstance(file_, UploadFile):
        raise Invalid([coded("missing", "document_file_missing", field="file")])
    data = await file_.read(documents.MAX_BYTES + 1)  # one byte past the limit is enough to refuse
    return await run_in_threadpool(documents.add, db, case_id=case_id, actor=actor, name=file_.filename or "",
                                   content_type=file_.content_type or "", data=data,
                                   visibility=visibility if isinstance(visibility, str) and visibility else None,
                                   kind=kind if isinstance(kind, str) and kind else None,
                                   idempotency_key=idempotency_key)


@router.get("/cases/{case_id}/documents", summary="The case's documents I may read", responses=errors(401, 404, 422))
def list_documents(case_id: int, actor: ActorDep, db: DbDep) -> DocumentList:
    with db.read() as session:
        return cases.case_documents(session, actor, case_id)


@router.post("/cases/{case_id}/documents/{document_id}/publication", response_model=DocumentPublic,
             summary="Mark a document of the case for publication (approver)",
             responses=errors(401, 403, 404, 409, 422))
def publish(case_id: int, document_id: int, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
            ) -> dict[str, Any]:
    return documents.set_publication(db, case_id=case_id, document_id=document_id, actor=actor, published=True,
                                     idempotency_key=idempotency_key)


@router.delete("/cases/{case_id}/documents/{document_id}/publication", response_model=DocumentPublic,
               summary="Take back the publication mark while the case is open (approver)",
               responses=errors(401, 403, 404, 409, 422))
def unpublish(case_id: int, document_id: int, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
              ) -> dict[str, Any]:
    return documents.set_publication(db, case_id=case_id, document_id=document_id, actor=actor, published=False,
                                     idempotency_key=idempotency_key)


def send(doc: Document) -> Response:
    """An attachment, never sniffed; opened in a tab anyway, it runs sandboxed: no script, no origin."""
    return Response(doc.data, media_type=doc.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.name, safe='')}", "ETag": f'"{doc.sha256}"',
        "X-Content-SHA256": doc.sha256, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'"})


DOWNLOAD = file("application/octet-stream", *documents.ACCEPTED,
                description="The document's bytes, as an attachment, with its declared type")


@router.get("/documents/{document_id}", summary="Download a document I may read", response_class=Response,
            responses={**DOWNLOAD, **errors(401, 404, 422)})
def download(document_id: int, actor: ActorDep, db: DbDep) -> Response:
    with db.read() as session:
        return send(documents.readable(session, actor, document_id))


class WithdrawalReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/methodologies/{version_id}/withdraw", summary="Withdraw a filed methodology version (approver)",
             response_model=MethodologyWithdrawn, responses=errors(401, 403, 404, 409, 413, 422))
def withdraw_methodology(version_id: int, body: WithdrawalReason, actor: ActorDep, db: DbDep,
                         idempotency_key: IdemKey = None) -> dict[str, Any]:
    return withdraw(db, version_id, actor, body.reason, idempotency_key)
