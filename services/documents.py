"""Documents attached to cases: size-limited, type-checked against their content, SHA-256 addressed.

The declared content type must be one we accept *and* match what the bytes are (a renamed .exe is
not a PDF). Adding a document is a change to the case: it is locked, versioned and audited.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from typing import Any

from sqlmodel import Session, select

from services import audit
from services.cases import STAFF_ROLES, can_see, is_owner, lock_case
from services.clock import clock
from services.errors import Forbidden, Invalid, NotFound
from services.identity import Actor
from services.store.engine import Database
from services.store.tables import Case, Document
from states.machine import procedure
from states.messages import Reason, reason

MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", str(20 * 1024 * 1024)))
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG, JPEG, CSV = "image/png", "image/jpeg", "text/csv"
ACCEPTED = (PDF, DOCX, XLSX, PNG, JPEG, CSV)
# States in which the applicant may still add material; staff may add in any open state.
APPLICANT_EDITABLE = ("draft", "supplement_requested", "revision_requested", "open")


# Markup a browser would act on. A file whose head carries one is a polyglot (a "PDF" that is also a
# page with a script): served documents are attachments with nosniff and a sandbox policy, and such a
# file is refused on the way in as well. Searched for without case in the first HEAD bytes, where
# browsers sniff.
MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<img", b"<object",
          b"<embed", b"<meta", b"<style", b"<link", b"<form", b"<base", b"javascript:")
HEAD = 1024


def detect(data: bytes) -> str:
    """What the bytes are, by their signature (not by the name or the declared type)."""
    head = data[:HEAD].lower()
    if any(marker in head for marker in MARKUP):
        return "text/html"
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "application/octet-stream"
        if any(n.startswith("word/") for n in names):
            return DOCX
        if any(n.startswith("xl/") for n in names):
            return XLSX
        return "application/zip"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return CSV if b"," in data.split(b"\n", 1)[0] else "text/plain"


def check(name: str, declared: str, data: bytes) -> list[Reason]:
    declared = (declared or "").split(";")[0].strip().lower()
    reasons = []
    if not data:
        reasons.append(reason("document_empty", field="file"))
    elif len(data) > MAX_BYTES:
        reasons.append(reason("document_too_large", field="file", limit=MAX_BYTES))
    detected = detect(data) if data else "-"
    if detected == "text/html":
        reasons.append(reason("document_markup", field="file"))
    elif data and (declared not in ACCEPTED or detected != declared):
        reasons.append(reason("document_type", field="file", declared=declared or "-", detected=detected))
    elif detected == PDF and b"%%EOF" not in data[-HEAD:]:  # a PDF ends with its trailer (ISO 32000-1 7.5.5)
        reasons.append(reason("document_truncated", field="file"))
    if "\x00" in name:
        reasons.append(reason("nul_character", field="name"))
    if not name.strip() or len(name) > 200:
        reasons.append(reason("document_type", field="name", declared=name[:40] or "-", detected="name"))
    return reasons


def view(d: Document) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "content_type": d.content_type, "size": d.size, "sha256": d.sha256,
            "uploaded_at": d.uploaded_at.isoformat()}


def may_add(actor: Actor, case: Case) -> bool:
    """Staff add material to any open case; the applicant only while the case is theirs to edit."""
    if procedure(case.procedure, case.jurisdiction).state(case.state).terminal:
        return False
    staff = any(actor.holds(r, case.jurisdiction) for r in STAFF_ROLES)
    owner = actor.holds("applicant", case.jurisdiction) and is_owner(actor, case)
    return staff or (owner and case.state in APPLICANT_EDITABLE)


def add(db: Database, *, case_id: int, actor: Actor, name: str, content_type: str, data: bytes) -> dict[str, Any]:
    reasons = check(name, content_type, data)
    if reasons:
        raise Invalid(reasons)
    with db.write() as session:
        case = lock_case(session, case_id)
        if not can_see(session, actor, case):
            raise NotFound.of("案件", "Case")
        if not may_add(actor, case):
            raise Forbidden([reason("document_not_editable")])
        owner = actor.holds("applicant", case.jurisdiction) and is_owner(actor, case)
        now = clock.now()
        doc = Document(case_id=case.id, name=name.strip(), content_type=content_type.split(";")[0].strip().lower(),
                       size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
                       uploaded_by=actor.user_id, uploaded_at=now)
        session.add(doc)
        session.flush()
        case.version += 1
        case.updated_at = now
        audit.append_case(session, case, at=now, actor_id=actor.user_id,
                          actor_role="applicant" if owner else "staff", event="document_added",
                          payload={"document_id": doc.id, "name": doc.name, "sha256": doc.sha256, "size": doc.size})
        return view(doc)


def of_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    return [view(d) for d in session.exec(select(Document).where(Document.case_id == case_id).order_by(Document.id))]
