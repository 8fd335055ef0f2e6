"""Documents of a case: upload (multipart, with a visibility), list and download what the asker may
read, the approver's publication mark; and withdrawing a filed methodology."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from services.api.deps import ActorDep, DbDep, IdemKey
from services.engine.errors import Invalid, NotFound
from services.engine.visibility import can_see
from services.procedures import documents
from services.procedures.methodologies import withdraw
from services.store.tables import Case, Document
from states.messages import Reason

router = APIRouter(prefix="/api/v1", tags=["documents"])


@router.post("/cases/{case_id}/documents", status_code=201,
             summary="Attach a document (multipart fields `file` and optional `visibility`: public | case | internal)")
async def upload(case_id: int, request: Request, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                 ) -> dict[str, Any]:
    form = await request.form(max_files=1)
    file, visibility = form.get("file"), form.get("visibility")
    if not isinstance(file, UploadFile):
        raise Invalid([Reason("missing", "缺少文件（multipart 字段 file）", "No file (multipart field `file`)", "file")])
    data = await file.read(documents.MAX_BYTES + 1)  # one byte past the limit is enough to refuse
    return await run_in_threadpool(documents.add, db, case_id=case_id, actor=actor, name=file.filename or "",
                                   content_type=file.content_type or "", data=data,
                                   visibility=visibility if isinstance(visibility, str) and visibility else None,
                                   idempotency_key=idempotency_key)


@router.get("/cases/{case_id}/documents", summary="The case's documents I may read")
def list_documents(case_id: int, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        case = session.get(Case, case_id)
        if case is None or not can_see(session, actor, case):
            raise NotFound.of("案件", "Case")
        return {"items": documents.of_case(session, case, actor)}


@router.post("/cases/{case_id}/documents/{document_id}/publication",
             summary="Mark a document of the case for publication (approver)")
def publish(case_id: int, document_id: int, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
            ) -> dict[str, Any]:
    return documents.set_publication(db, case_id=case_id, document_id=document_id, actor=actor, published=True,
                                     idempotency_key=idempotency_key)


@router.delete("/cases/{case_id}/documents/{document_id}/publication",
               summary="Take back the publication mark while the case is open (approver)")
def unpublish(case_id: int, document_id: int, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
              ) -> dict[str, Any]:
    return documents.set_publication(db, case_id=case_id, document_id=document_id, actor=actor, published=False,
                                     idempotency_key=idempotency_key)


def send(doc: Document) -> Response:
    """An attachment, never sniffed; opened in a tab anyway, it runs sandboxed: no script, no origin."""
    return Response(doc.data, media_type=doc.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(doc.name)}", "ETag": f'"{doc.sha256}"',
        "X-Content-SHA256": doc.sha256, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@router.get("/documents/{document_id}", summary="Download a document I may read")
def download(document_id: int, actor: ActorDep, db: DbDep) -> Response:
    with db.read() as session:
        return send(documents.readable(session, actor, document_id))


class WithdrawalReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/methodologies/{version_id}/withdraw", summary="Withdraw a filed methodology version (approver)")
def withdraw_methodology(version_id: int, body: WithdrawalReason, actor: ActorDep, db: DbDep,
                         idempotency_key: IdemKey = None) -> dict[str, Any]:
    return withdraw(db, version_id, actor, body.reason, idempotency_key)
