"""Documents attached to cases: size-limited, type-checked against their content, SHA-256 addressed,
and with a visibility decided when they are uploaded.

The declared content type must be one we accept *and* match what the bytes are (a renamed .exe is
not a PDF). Adding a document is a change to the case: it is locked, versioned and audited.

Who sees a document (Shanghai art. 22: 商业秘密、个人隐私 依法予以保密):
- `public`: the applicant's declared public materials (only the applicant chooses it);
- `case`: the applicant's other material, seen by the applicant and by those who review the case;
- `internal`: review material (opinions, internal notes, expert files), seen by staff and the case's
  panel experts, never by the applicant.
The public sees a document only when it is `public` or the approver marked it for publication
(Shanghai art. 11: the authority publishes the methodology), and only where a public page lists
the case's documents (a filed methodology version's): `PUBLISHABLE` is that one rule.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.command import lock_case
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, Reply, once
from services.engine.visibility import STAFF_ROLES, can_see, is_owner
from services.procedures.panels import PANEL_SEAT
from services.store.engine import Database
from services.store.records import AnyCase
from services.store.tables import AuditEvent, Case, Document
from states.machine import procedure
from states.messages import Reason, joined, label, reason, role_required
from states.profiles import get_profile
from states.spec import SYSTEM

MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", str(20 * 1024 * 1024)))
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG, JPEG, CSV = "image/png", "image/jpeg", "text/csv"
ACCEPTED = (PDF, DOCX, XLSX, PNG, JPEG, CSV)
# States in which the applicant may still add material; staff may add in any open state.
APPLICANT_EDITABLE = ("draft", "supplement_requested", "revision_requested", "open")

PUBLIC, CASE, INTERNAL = "public", "case", "internal"
VISIBILITIES = (PUBLIC, CASE, INTERNAL)
# The one rule for public pages: declared public by the applicant, or marked by the approver.
PUBLISHABLE = sa.or_(col(Document.visibility) == PUBLIC, col(Document.published_at).is_not(None))
# Audit events about one document: hidden from whoever may not see that document.
DOCUMENT_EVENTS = ("document_added", "document_published", "document_unpublished")


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
            "uploaded_at": d.uploaded_at.isoformat(), "visibility": d.visibility,
            "visibility_label": label(f"visibility.{d.visibility}"),
            "published_at": d.published_at.isoformat() if d.published_at else None,
            "kind": d.kind, "kind_label": label(f"doc_kind.{d.kind}") if d.kind else None}


def _staff(actor: Actor, case: AnyCase) -> bool:
    return any(actor.holds(r, case.jurisdiction) for r in STAFF_ROLES)


def _owner(actor: Actor, case: AnyCase) -> bool:
    return actor.holds("applicant", case.jurisdiction) and is_owner(actor, case)


def may_add(actor: Actor, case: AnyCase) -> bool:
    """Staff add material to any open case; the applicant only while the case is theirs to edit."""
    if procedure(case.procedure, case.jurisdiction).state(case.state).terminal:
        return False
    return _staff(actor, case) or (_owner(actor, case) and case.state in APPLICANT_EDITABLE)


def upload_choices(actor: Actor, case: AnyCase) -> tuple[str, ...]:
    """The visibilities this uploader may choose, the default first: the applicant declares what is
    public (staff never publish by uploading: publication is the approver's mark); staff and
    reviewers add internal material by default."""
    choices: tuple[str, ...] = ()
    if _staff(actor, case):
        choices += (INTERNAL, CASE)
    if _owner(actor, case):
        choices += tuple(v for v in (CASE, PUBLIC) if v not in choices)
    return choices


def sees_internal(session: Session, actor: Actor, case: AnyCase) -> bool:
    """Staff of the jurisdiction and the case's seated panel experts read review material."""
    if actor.kind == SYSTEM or _staff(actor, case):
        return True
    return actor.holds("expert", case.jurisdiction) and session.exec(
        PANEL_SEAT, params={"case_id": case.id, "user_id": actor.user_id}).first() is not None


def _readable(session: Session, actor: Actor, case: AnyCase) -> Any:
    """Which of a visible case's documents the actor reads: all of them, or (the applicant, a
    verifier) the applicant's material and whatever the approver published."""
    if sees_internal(session, actor, case):
        return sa.true()
    return sa.or_(col(Document.visibility).in_((PUBLIC, CASE)), col(Document.published_at).is_not(None))


def kinds_of(case: AnyCase) -> tuple[str, ...]:
    """The document types an upload to this case may name: its procedure's slots in the profile."""
    profile = get_profile(case.jurisdiction)
    return profile.documents.kinds(case.procedure) if profile else ("other",)


def add(db: Database, *, case_id: int, actor: Actor, name: str, content_type: str, data: bytes,
        visibility: str | None = None, kind: str | None = None, idempotency_key: str | None = None
        ) -> dict[str, Any]:
    """`visibility` None takes the uploader's default (`upload_choices`); `kind` names the document's
    type, one of the case's slots (`kinds_of`)."""
    reasons = check(name, content_type, data)
    if visibility is not None and visibility not in VISIBILITIES:
        reasons.append(reason("document_visibility", field="visibility", given=visibility[:20] or "-"))
    if reasons:
        raise Invalid(reasons)
    sha256 = hashlib.sha256(data).hexdigest()

    def command(session: Session) -> Reply:
        case = lock_case(session, case_id, actor)
        if not may_add(actor, case):
            raise Forbidden([reason("document_not_editable")])
        choices = upload_choices(actor, case)
        chosen = visibility or choices[0]
        if chosen not in choices:
            names = label(f"visibility.{chosen}")
            allowed = joined((label(f"visibility.{v}")["zh"], v) for v in choices)
            raise Invalid([reason("document_visibility_not_yours", field="visibility", given_zh=names["zh"],
                                  given_en=names["en"], allowed_zh=allowed.zh, allowed_en=allowed.en)])
        if kind is not None and kind not in kinds_of(case):
            allowed = joined((label(f"doc_kind.{k}")["zh"], k) for k in kinds_of(case))
            raise Invalid([reason("document_kind", field="kind", given=kind[:40], allowed_zh=allowed.zh,
                                  allowed_en=allowed.en)])
        owner = _owner(actor, case)
        now = clock.now()
        doc = Document(case_id=case.id, name=name.strip(), content_type=content_type.split(";")[0].strip().lower(),
                       size=len(data), sha256=sha256, data=data, uploaded_by=actor.user_id, uploaded_at=now,
                       visibility=chosen, kind=kind)
        session.add(doc)
        session.flush()
        case.version += 1
        case.updated_at = now
        audit.append_case(session, case, at=now, actor_id=actor.user_id,
                          actor_role="applicant" if owner else "staff", event="document_added",
                          payload={"document_id": doc.id, "name": doc.name, "sha256": doc.sha256, "size": doc.size,
                                   "visibility": chosen, **({"kind": kind} if kind else {})})
        return 201, view(doc)

    request = {"upload": case_id, "name": name, "content_type": content_type, "sha256": sha256,
               "visibility": visibility, "kind": kind}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


def of_case(session: Session, case: AnyCase, actor: Actor) -> list[dict[str, Any]]:
    """The case's documents this actor may read (the case itself already visible to them)."""
    return [view(d) for d in session.exec(select(Document).where(
        col(Document.case_id) == case.id, _readable(session, actor, case)).order_by(col(Document.id)))]


def readable(session: Session, actor: Actor, document_id: int) -> Document:
    """A document for download: 404 alike for one that does not exist, one of a case the actor may
    not see, and one the actor may not read (an applicant guessing an internal document's id)."""
    doc = session.get(Document, document_id)
    case = session.get(Case, doc.case_id) if doc is not None and doc.case_id else None
    if doc is None or case is None or not can_see(session, actor, case) or not session.exec(
            select(Document.id).where(Document.id == doc.id, _readable(session, actor, case))).first():
        raise NotFound.of("document")
    return doc


def visible_events(session: Session, actor: Actor, case: Case, events: list[AuditEvent]) -> list[AuditEvent]:
    """The case's timeline without the events about documents the actor may not read (their names
    would tell an applicant what the review material is)."""
    if sees_internal(session, actor, case):
        return events
    shown = set(session.exec(select(Document.id).where(Document.case_id == case.id, _readable(session, actor, case))))
    return [e for e in events if e.event not in DOCUMENT_EVENTS or e.payload.get("document_id") in shown]


def public_of_version(session: Session, version_id: int) -> list[Document]:
    """What a filed methodology version shows the public."""
    return list(session.exec(select(Document).where(col(Document.methodology_version_id) == version_id, PUBLISHABLE)
                             .order_by(col(Document.id))))


def public_document(session: Session, version_id: int, document_id: int) -> Document:
    doc = session.exec(select(Document).where(col(Document.id) == document_id,
                                              Document.methodology_version_id == version_id, PUBLISHABLE)).first()
    if doc is None:
        raise NotFound.of("document")
    return doc


def set_publication(db: Database, *, case_id: int, document_id: int, actor: Actor, published: bool,
                    idempotency_key: str | None = None) -> dict[str, Any]:
    """The approver marks a document of the case for publication, or takes the mark back while the
    case is open (once closed, what was public stays on the record). Audited on the case's chain."""
    def command(session: Session) -> Reply:
        case = lock_case(session, case_id, actor)
        doc = session.get(Document, document_id)
        if doc is None or doc.case_id != case.id:
            raise NotFound.of("document")
        if not actor.holds("approver", case.jurisdiction):
            raise Forbidden([role_required("approver")])
        closed = procedure(case.procedure, case.jurisdiction).state(case.state).terminal
        if not published and closed and doc.published_at is not None:
            raise Conflict([reason("publication_final")])
        if (doc.published_at is not None) == published:
            return 200, view(doc)  # already so: nothing to record
        now = clock.now()
        doc.published_at, doc.published_by = (now, actor.user_id) if published else (None, None)
        session.add(doc)
        case.version += 1
        case.updated_at = now
        audit.append_case(session, case, at=now, actor_id=actor.user_id, actor_role="approver",
                          event="document_published" if published else "document_unpublished",
                          payload={"document_id": doc.id, "name": doc.name, "sha256": doc.sha256})
        return 200, view(doc)

    request = {"publication": document_id, "case": case_id, "published": published}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]
