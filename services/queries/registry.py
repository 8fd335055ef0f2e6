"""The public registry, read by anyone without an account: publicity notices and consultations, filed
methodologies, registered projects and their records, verifiers, issuances, retirements and their
certificates (with the retirement's inclusion proof in the transparency log)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from services.engine.calendar import local_date
from services.engine.clock import clock
from services.procedures import documents
from services.procedures.issuance import certificate_data, certificate_log
from services.queries.cases import (
    DocumentPublic,
    KindNoticePublic,
    NoticePublic,
    document_view,
    kind_notice_view,
    notice_fields,
    notice_view,
)
from services.queries.schemas import Bilingual, Instant, Items, Labelled, Public, labelled, not_found
from services.store.tables import (
    AuditEvent,
    BlockClaim,
    Case,
    Certificate,
    Comment,
    Disqualification,
    LedgerEntry,
    MethodologyVersion,
    Notice,
    Organisation,
    Project,
    SerialBlock,
    Task,
    Verifier,
    pk,
)
from states.messages import label
from states.parameters import stale_parameters
from states.profiles import get_profile

# --- notices and consultations ---------------------------------------------------------------------


class NoticeList(Items[NoticePublic]):
    """Publicity notices, open ones first."""


class KindNoticeList(Items[KindNoticePublic]):
    """Public notices of every kind, newest first."""


def publicity_notices(session: Session, jurisdiction: str | None = None, status: str | None = None) -> NoticeList:
    q = select(Notice).where(col(Notice.kind) == "publicity").order_by(col(Notice.status).desc(),
                                                                  col(Notice.closes_at))
    if jurisdiction:
        q = q.where(col(Notice.jurisdiction) == jurisdiction)
    if status:
        q = q.where(Notice.status == status)
    return NoticeList(items=[notice_view(n) for n in session.exec(q.limit(200))])


def notices(session: Session, jurisdiction: str | None = None, kind: str | None = None) -> KindNoticeList:
    q = select(Notice)
    if jurisdiction:
        q = q.where(col(Notice.jurisdiction) == jurisdiction)
    if kind:
        q = q.where(col(Notice.kind) == kind)
    notices = session.exec(q.order_by(col(Notice.id).desc()).limit(300))
    return KindNoticeList(items=[kind_notice_view(n) for n in notices])


class ConsultationNotice(NoticePublic):
    comments_href: str = Field(description="Where to comment while the consultation is open")


class ConsultationList(Items[ConsultationNotice]):
    """Public consultations on methodologies, open ones first."""


def consultations(session: Session, jurisdiction: str | None = None) -> ConsultationList:
    q = select(Notice).where(col(Notice.kind) == "consultation")
    if jurisdiction:
        q = q.where(col(Notice.jurisdiction) == jurisdiction)
    rows = session.exec(q.order_by(col(Notice.status).desc(), col(Notice.closes_at)).limit(200))
    return ConsultationList(items=[
        ConsultationNotice(**notice_fields(n), comments_href=f"/api/v1/public/consultations/{n.case_id}/comments")
        for n in rows])


class PublishedComment(Public):
    """A comment as published: never its contact; the answer once every comment has been disposed of."""

    id: int
    name: str
    organisation: str
    text: str
    received_at: Instant
    answer: str | None
    disposition: str | None


class ConsultationPublic(NoticePublic):
    comments: list[PublishedComment]


def consultation(session: Session, case_id: int) -> ConsultationPublic:
    notice = session.exec(select(Notice).where(col(Notice.case_id) == case_id, col(Notice.kind) == "consultation")
                          .order_by(col(Notice.id).desc())).first()
    if notice is None:
        raise not_found("consultation")
    rows = session.exec(select(Comment).where(col(Comment.case_id) == case_id).order_by(col(Comment.id)))
    # Contacts are never published; answers only once the review centre has disposed of them all.
    return ConsultationPublic(**notice_fields(notice), comments=[
        PublishedComment(id=pk(c), name=c.name, organisation=c.organisation, text=c.text, received_at=c.received_at,
                      answer=c.answer if c.published else None,
                      disposition=c.disposition if c.published else None) for c in rows])


# --- methodologies -----------------------------------------------------------------------------------

PUBLISHED = ("filed", "superseded")
# Filing-history events the public may see (never payloads: they hold internal opinions).
PUBLIC_EVENTS = ("submit", "accept", "pass_review", "panel_pass", "comment_period_end", "disposition_done",
                 "approve", "publicity_end", "dismiss_objections")


class MethodologyPublic(Public):
    """A filed (or superseded) methodology version."""

    id: int
    jurisdiction: str
    code: str
    version: str
    title: str
    kind: str = Field(description="project | scenario")
    tier: str | None = Field(description="The profile's class or level (Shanghai class I/II, Beijing level 1/2)")
    scope: str
    status: str = Field(description="filed | superseded")
    filed_on: date | None
    superseded_on: date | None
    superseded_by: str | None = Field(description="The version that superseded it")
    grace_until: date | None = Field(description="New projects may still cite a superseded version until then")


def version_fields(m: MethodologyVersion) -> dict[str, Any]:
    return {"id": m.id, "jurisdiction": m.jurisdiction, "code": m.code, "version": m.version, "title": m.title,
            "kind": m.kind, "tier": m.tier, "scope": m.scope, "status": m.status, "filed_on": m.filed_on,
            "superseded_on": m.superseded_on, "superseded_by": m.superseded_by, "grace_until": m.grace_until}


class MethodologyList(Items[MethodologyPublic]):
    """Methodology versions by jurisdiction, code and version."""


def methodologies(session: Session, *, jurisdiction: str | None = None, kind: str | None = None,
                  tier: str | None = None, status: str | None = None, code: str | None = None) -> MethodologyList:
    q = select(MethodologyVersion).where(col(MethodologyVersion.status).in_(
        (status,) if status else PUBLISHED))
    for column, value in ((col(MethodologyVersion.jurisdiction), jurisdiction), (col(MethodologyVersion.kind), kind),
                          (col(MethodologyVersion.tier), tier), (col(MethodologyVersion.code), code)):
        if value:
            q = q.where(column == value)
    rows = session.exec(q.order_by(MethodologyVersion.jurisdiction, MethodologyVersion.code,
                                   MethodologyVersion.version).limit(500))
    return MethodologyList(items=[MethodologyPublic(**version_fields(m)) for m in rows])


class FilingStep(Public):
    """A step of a version's filing history (never its payload)."""

    at: str = Field(description="ISO 8601: the event's instant, or the day it was superseded")
    event: str
    label: Bilingual
    to_state: str | None


class MethodologyDetail(MethodologyPublic):
    summary: str
    parameters: list[dict[str, Any]] = Field(description="Key parameters with their source and date "
                                                         "(Jiaxing art. 11)")
    documents: list[DocumentPublic] = Field(description="The published documents")
    history: list[FilingStep]
    stale_parameters: list[str] = Field(default_factory=list, description="Parameters whose source is older than "
                                        "the profile allows (Jiaxing art. 11: to be confirmed or updated)")


def published_version(session: Session, version_id: int) -> MethodologyVersion:
    m = session.get(MethodologyVersion, version_id)
    if m is None or m.status not in PUBLISHED:
        raise not_found("methodology")
    return m


def methodology(session: Session, version_id: int) -> MethodologyDetail:
    m = published_version(session, version_id)
    history = []
    if m.case_id:
        history = [FilingStep(at=e.at.isoformat(), event=e.event, label=Bilingual(**label(f"trigger.{e.event}")),
                              to_state=e.to_state)
                   for e in session.exec(select(AuditEvent).where(
                       col(AuditEvent.stream) == f"case:{m.case_id}",
                       col(AuditEvent.event).in_(PUBLIC_EVENTS)).order_by(col(AuditEvent.seq)))]
    if m.superseded_on:
        by = label("history.superseded_by")
        history.append(FilingStep(at=m.superseded_on.isoformat(), event="superseded",
                                  label=Bilingual(zh=by["zh"].format(version=m.superseded_by),
                                                  en=by["en"].format(version=m.superseded_by)),
                                  to_state="superseded"))
    profile = get_profile(m.jurisdiction)
    stale = stale_parameters(m.parameters, local_date(clock.now()),
                             profile.methodology.parameter_max_age_days if profile else None)
    return MethodologyDetail(**version_fields(m), summary=m.summary, parameters=m.parameters, stale_parameters=stale,
                             documents=[document_view(d) for d in documents.public_of_version(session, pk(m))],
                             history=history)


# --- projects --------------------------------------------------------------------------------------------

REGISTRY_STATUSES = ("registered", "disclosed", "revoked")
PUBLIC_HISTORY = ("publicity_end", "dismiss_objections", "issue_notice", "accept_report", "deadline_passed",
                  "revoke", "disclose")


class ProjectRow(Public):
    """A registered (or disclosed, or revoked) project or scenario."""

    id: int
    jurisdiction: str
    kind: str = Field(description="project | scenario")
    title: str
    status: str = Field(description="registered | disclosed | revoked")
    suspended: bool = Field(description="Suspended while a rectification runs")
    project_class: int | None = Field(description="Beijing: class 1 (registered, issued) or 2 (disclosed only)")
    record: str = Field(description="The project's public record")
    registration_number: str | None
    registered_at: Instant | None


class ProjectList(Items[ProjectRow]):
    """The registry of projects and scenarios."""


def projects(session: Session, jurisdiction: str | None = None) -> ProjectList:
    q = select(Project).where(col(Project.status).in_(REGISTRY_STATUSES))
    if jurisdiction:
        q = q.where(col(Project.jurisdiction) == jurisdiction)
    return ProjectList(items=[
        ProjectRow(id=pk(p), jurisdiction=p.jurisdiction, kind=p.kind, title=p.title, status=p.status,
                   suspended=p.suspended, project_class=p.project_class, record=f"/api/v1/public/projects/{p.id}",
                   registration_number=p.registration_number, registered_at=p.registered_at)
        for p in session.exec(q.order_by(col(Project.id)).limit(500))])


class ProjectStep(Public):
    at: Instant
    procedure: str
    event: str
    label: Bilingual
    to_state: str | None


class DisqualificationPublic(Public):
    """Jiaxing art. 26: an organisation barred from a jurisdiction's scheme (公开通报), with no end date."""

    org_id: int
    organisation: str
    uscc: str
    jurisdiction: str
    reason: str
    basis: str = Field(description="The seed article, e.g. 嘉兴办法第二十六条")
    decided_on: date
    case_id: int = Field(description="The rectification case that revoked and disqualified")
    project_id: int


class DisqualificationList(Items[DisqualificationPublic]):
    """Disqualified organisations, latest first."""


def disqualifications(session: Session, jurisdiction: str | None = None, org_id: int | None = None
                      ) -> DisqualificationList:
    q = select(Disqualification, Organisation).join(Organisation, col(Organisation.id) == col(Disqualification.org_id))
    if jurisdiction:
        q = q.where(col(Disqualification.jurisdiction) == jurisdiction)
    if org_id is not None:
        q = q.where(col(Disqualification.org_id) == org_id)
    return DisqualificationList(items=[
        DisqualificationPublic(org_id=d.org_id, organisation=o.name, uscc=o.uscc, jurisdiction=d.jurisdiction,
                               reason=d.reason, basis=d.basis, decided_on=d.decided_on, case_id=d.case_id,
                               project_id=d.project_id)
        for d, o in session.exec(q.order_by(col(Disqualification.decided_on).desc(), col(Disqualification.id).desc()))])


def owner_disqualification(session: Session, project: Project) -> DisqualificationPublic | None:
    """The project owner's disqualification in the project's jurisdiction, if any."""
    found = disqualifications(session, project.jurisdiction, project.owner_org_id).items
    return found[0] if found else None


class ProjectRecord(Public):
    """A project's public record: its status, the public steps of its cases and its notices."""

    id: int
    jurisdiction: str
    title: str
    kind: str
    status: str
    suspended: bool
    registration_number: str | None
    history: list[ProjectStep]
    notices: list[KindNoticePublic]
    owner_disqualified: DisqualificationPublic | None = Field(
        None, description="The owner's disqualification in this jurisdiction (Jiaxing art. 26)")


def project_record(session: Session, project_id: int) -> ProjectRecord:
    p = session.get(Project, project_id)
    if p is None or p.status not in REGISTRY_STATUSES:
        raise not_found("project")
    cases = {c.id: c for c in session.exec(select(Case).where(col(Case.project_id) == project_id))}
    events = session.exec(select(AuditEvent).where(col(AuditEvent.case_id).in_(list(cases)),
                                                   col(AuditEvent.event).in_(PUBLIC_HISTORY))
                          .order_by(col(AuditEvent.at)))
    history = [ProjectStep(at=e.at, procedure=cases[e.case_id].procedure, event=e.event,
                           label=Bilingual(**label(f"trigger.{e.event}")), to_state=e.to_state) for e in events]
    notices_ = session.exec(select(Notice).where(col(Notice.case_id).in_(list(cases))))
    return ProjectRecord(id=pk(p), jurisdiction=p.jurisdiction, title=p.title, kind=p.kind, status=p.status,
                         suspended=p.suspended, registration_number=p.registration_number, history=history,
                         notices=[kind_notice_view(n) for n in notices_],
                         owner_disqualified=owner_disqualification(session, p))


class RevenueAudit(Public):
    """A Beijing class-1 project's revenue-use audit for a year (≥ 90% of revenue returned to users)."""

    project_id: int
    registration_number: str | None
    project: str = Field(description="The project's title")
    year: int | None
    state: Labelled
    returned_share: str | None = Field(description="The share of revenue returned, as a decimal string")
    audit: dict[str, Any] | None = Field(description="The filed audit (without the report's hash)")


class RevenueAuditList(Items[RevenueAudit]):
    """Revenue-use audits, oldest first."""


def _project_cases(procedure: str, jurisdiction: str | None, project_id: int | None = None
                   ) -> Select[Case, Project]:
    """The cases of a project-level procedure with their projects, in a jurisdiction and for a project
    when given."""
    q = select(Case, Project).join(Project, col(Project.id) == col(Case.project_id)).where(
        col(Case.procedure) == procedure)
    if jurisdiction:
        q = q.where(col(Case.jurisdiction) == jurisdiction)
    if project_id is not None:
        q = q.where(col(Case.project_id) == project_id)
    return q


def revenue_audits(session: Session, jurisdiction: str | None = None) -> RevenueAuditList:
    q = _project_cases("revenue_audit", jurisdiction)
    return RevenueAuditList(items=[
        RevenueAudit(project_id=pk(p), registration_number=p.registration_number, project=p.title, year=c.vintage,
                     state=labelled("state", c.state), returned_share=c.application.get("returned_share"),
                     audit={k: v for k, v in (c.application.get("audit") or {}).items() if k != "report_sha256"}
                     or None)
        for c, p in session.exec(q.order_by(col(Case.id)))])


class OperationReportPublic(Public):
    """Beijing: a class-2 project's operation report for a year (revenue-management plan and how it ran)."""

    case_id: int
    project_id: int
    project: str = Field(description="The project's title")
    year: int | None
    state: Labelled
    due_on: str | None = Field(description="The report's deadline while it is due")
    report: dict[str, Any] | None = Field(description="The report as filed (plan, operation, figures)")


class OperationReportList(Items[OperationReportPublic]):
    """Class-2 operation reports, latest year first."""


def operation_reports(session: Session, jurisdiction: str | None = None, project_id: int | None = None
                      ) -> OperationReportList:
    q = _project_cases("operation_report", jurisdiction, project_id)
    rows = list(session.exec(q.order_by(col(Case.vintage).desc(), col(Case.id))))
    due = {t.case_id: t.due_on for t in session.exec(select(Task).where(
        col(Task.case_id).in_([c.id for c, _ in rows]), col(Task.status) == "open"))} if rows else {}
    return OperationReportList(items=[
        OperationReportPublic(case_id=pk(c), project_id=pk(p), project=p.title, year=c.vintage,
                              state=labelled("state", c.state), report=c.application.get("report"),
                              due_on=on.isoformat() if (on := due.get(pk(c))) else None)
        for c, p in rows])


# --- verifiers ----------------------------------------------------------------------------------------


class VerifierPublic(Public):
    """An accredited third-party verifier filed by the authority (Ordos art. 15)."""

    id: int
    jurisdiction: str
    name: str
    uscc: str | None = Field(description="The unified social credit code (统一社会信用代码)")
    scopes: list[str] = Field(description="What the verifier may verify")
    valid_from: date
    valid_until: date


def _verifier(v: Verifier, org: Organisation | None) -> VerifierPublic:
    return VerifierPublic(id=pk(v), jurisdiction=v.jurisdiction, name=v.name, uscc=org.uscc if org else None,
                          scopes=v.scopes, valid_from=v.valid_from, valid_until=v.valid_until)


def verifier_view(v: Verifier, org: Organisation | None) -> dict[str, Any]:
    """As JSON: the filing's audit payload and its stored reply hold it."""
    return _verifier(v, org).model_dump(mode="json")


class VerifierList(Items[VerifierPublic]):
    """Accredited verifiers."""


def verifiers(session: Session, jurisdiction: str | None = None) -> VerifierList:
    q = select(Verifier, Organisation).join(Organisation, col(Organisation.id) == col(Verifier.org_id))
    if jurisdiction:
        q = q.where(col(Verifier.jurisdiction) == jurisdiction)
    return VerifierList(items=[_verifier(v, o) for v, o in session.exec(q.order_by(col(Verifier.id)))])


# --- issuances, retirements, certificates ----------------------------------------------------------------


class IssuanceRow(Public):
    jurisdiction: str
    project_id: int
    registration_number: str | None
    project: str = Field(description="The project's title")
    vintage: int | None
    amount_tco2e: int
    serials: str = Field(description="The serial blocks issued, separated by spaces")
    issued_at: Instant
    methodology_tier: str | None = Field(None, description="The class of the methodology the units were issued "
                                         "under (Shanghai art. 17: class I may be used for ETS compliance)")
    declared_not_claimed_elsewhere: bool | None = Field(
        None, description="The owner's declaration at issuance (Ordos art. 17, Shanghai art. 14); null where not asked")
    claimed_in: str | None = Field(None, description="The other scheme the block was found claimed in")
    found_on: str | None = Field(None, description="When that was found")
    frozen: bool = Field(False, description="Frozen by that finding: its units may not be transferred or retired")


class IssuanceList(Items[IssuanceRow]):
    """Issued reductions, in the order they were issued."""


def issuances(session: Session, *, jurisdiction: str | None = None, project_id: int | None = None,
              vintage: int | None = None) -> IssuanceList:
    q = (sa.select(LedgerEntry, Case, Project, col(MethodologyVersion.tier), BlockClaim)  # five: past sqlmodel's select
         .join(Case, col(Case.id) == col(LedgerEntry.case_id))
         .join(Project, col(Project.id) == col(Case.project_id))
         .outerjoin(MethodologyVersion, col(MethodologyVersion.id) == col(Project.methodology_version_id))
         .outerjoin(BlockClaim, col(BlockClaim.issue_entry_id) == col(LedgerEntry.id))
         .where(col(LedgerEntry.kind) == "issue"))
    if jurisdiction:
        q = q.where(col(LedgerEntry.jurisdiction) == jurisdiction)
    if project_id:
        q = q.where(col(Project.id) == project_id)
    if vintage:
        q = q.where(col(Case.vintage) == vintage)
    return IssuanceList(items=[
        IssuanceRow(jurisdiction=e.jurisdiction, project_id=pk(p), registration_number=p.registration_number,
                    project=p.title, vintage=c.vintage, amount_tco2e=e.amount, serials=" ".join(e.serials),
                    issued_at=e.at, methodology_tier=tier, **_claim_fields(claim))
        for e, c, p, tier, claim in session.execute(q.order_by(col(LedgerEntry.id)).limit(5000))])


def _claim_fields(claim: BlockClaim | None) -> dict[str, Any]:
    if claim is None:
        return {}
    return {"declared_not_claimed_elsewhere": bool(claim.declaration.get("not_claimed_elsewhere")),
            "claimed_in": claim.claimed_in, "found_on": claim.finding.get("found_on"),
            "frozen": claim.freeze_entry_id is not None and claim.unfreeze_entry_id is None}


class RetirementRow(Public):
    number: str = Field(description="The retirement certificate's number")
    jurisdiction: str
    holder: str | None
    amount_tco2e: int
    purpose: str
    serials: str = Field(description="The serial blocks retired, separated by spaces")
    retired_on: date | None


class RetirementList(Items[RetirementRow]):
    """Retirements with their certificates."""


def retirements(session: Session, jurisdiction: str | None = None) -> RetirementList:
    q = select(Certificate)
    if jurisdiction:
        q = q.where(Certificate.jurisdiction == jurisdiction)
    return RetirementList(items=[
        RetirementRow(number=c.number, jurisdiction=c.jurisdiction, holder=c.data.get("holder_name"),
                      amount_tco2e=c.amount, purpose=c.purpose, serials=" ".join(c.data.get("serials", [])),
                      retired_on=c.data.get("retired_on"))
        for c in session.exec(q.order_by(col(Certificate.id)).limit(5000))])


class LogProof(Public):
    """The retirement's ledger entry in the signed transparency log (RFC 9162 §2.1.3)."""

    leaf_index: int
    tree_size: int = Field(description="The size of the first signed head that covers the entry")
    root: str = Field(description="That head's root hash, hex")
    leaf_hash: str | None
    inclusion_proof: list[str] = Field(description="Hex hashes, from the leaf up")
    checkpoint: str = Field(description="The signed head, as a C2SP checkpoint")


class CertificatePublic(Public):
    """A retirement certificate (注销证明, Ordos art. 23), as the registry holds it."""

    number: str
    valid: bool
    jurisdiction: str
    holder: str
    amount_tco2e: int
    purpose: str
    serials: list[str]
    retired_on: date
    fingerprint: str = Field(description="SHA-256 of the certificate's data, printed on it")
    pdf: str = Field(description="The certificate as a PDF")
    log: LogProof | None = Field(description="Its inclusion proof; null until the log has taken the entry")
    log_note: Bilingual | None = Field(description="Why there is no proof yet")
    methodology_tiers: list[str] = Field(default_factory=list, description="The classes of the methodologies the "
                                         "retired units were issued under (Shanghai art. 17)")


def _retired_tiers(session: Session, cert: Certificate, serials: list[str]) -> list[str]:
    """The methodology classes of the projects whose serials the certificate retired."""
    codes = {s.split("-")[2] for s in serials if s.count("-") >= 4}
    if not codes:
        return []
    rows = session.exec(select(col(MethodologyVersion.tier))
                        .join(Project, col(Project.methodology_version_id) == col(MethodologyVersion.id))
                        .join(SerialBlock, col(SerialBlock.project_id) == col(Project.id))
                        .where(col(SerialBlock.jurisdiction) == cert.jurisdiction,
                               col(SerialBlock.project_code).in_(codes)).distinct())
    return sorted(t for t in rows if t)


def certificate_row(session: Session, number: str) -> Certificate:
    cert = session.exec(select(Certificate).where(Certificate.number == number)).first()
    if cert is None:
        raise not_found("certificate")
    return cert


def certificate(session: Session, number: str) -> CertificatePublic:
    cert = certificate_row(session, number)
    data = certificate_data(cert)
    logged = certificate_log(session, cert)
    return CertificatePublic(number=cert.number, valid=True, jurisdiction=cert.jurisdiction, holder=data.holder_name,
                             amount_tco2e=cert.amount, purpose=cert.purpose, serials=data.serials,
                             retired_on=data.retired_on, fingerprint=cert.fingerprint,
                             pdf=f"/api/v1/public/certificates/{number}?format=pdf", log=logged["log"],
                             log_note=logged["log_note"],
                             methodology_tiers=_retired_tiers(session, cert, data.serials))


# --- what the public's and the registry's commands answer ----------------------------------------------


class ObjectionReceipt(Public):
    receipt: str = Field(description="Quote it when asking about the objection, or follow it (`check`)")
    case_id: int
    check: str = Field(description="Where the objector follows it: GET, no account needed")
    message: Bilingual


class ObjectionStatus(Public):
    """An objection as its objector follows it by the receipt: its status and where the case stands,
    nothing about the objector or anyone else (the notice and the case's state are public anyway)."""

    receipt: str
    status: Labelled = Field(description="open | dismissed | upheld (objection_status.<name>)")
    received_at: Instant
    decided_at: Instant | None
    case_id: int
    notice_title: str = Field(description="The publicity notice objected to")
    publicity_last_day: date | None
    case_state: Labelled = Field(description="Where the case stands now (state.<name>)")


class CommentReceipt(Public):
    comment_id: int
    case_id: int
    message: Bilingual


class MethodologyWithdrawn(Public):
    id: int
    code: str
    version: str
    status: Literal["withdrawn"]
