"""Issuance and retirement: their subjects, their effects on the ledger, holds, and the annual campaign.

Effects here run inside the command's transaction; the campaign and the hold/release of a suspended
project's cases go through the same command path as people.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import counters
from services.engine.actors import SYSTEM_ACTOR, Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.command import Command, fire_locked, lock_case
from services.engine.context import Ctx
from services.engine.errors import NotFound
from services.engine.opening import open_case as open_case_of
from services.engine.workdays import calendar
from services.procedures import double_claims, ledger
from services.procedures.certificates import CertificateData, fingerprint
from services.store.engine import Database
from services.store.records import AnyCase, CaseRecord
from services.store.tables import (
    Account,
    Case,
    Certificate,
    LedgerEntry,
    Organisation,
    Project,
    Verifier,
    id_column,
    pk,
)
from services.transparency import log as transparency_log
from states.effects import (
    AddressVerifier,
    ForgetHold,
    LinkSubject,
    Mint,
    OpenFirstIssuance,
    RecordForm,
    RecordHolder,
    RememberHold,
    RetireUnits,
)
from states.issuance import ISSUED
from states.machine import procedure
from states.messages import label, text
from states.profiles import Profile, all_profiles

# --- opening -------------------------------------------------------------------------------------


def link_subject(ctx: Ctx, effect: LinkSubject) -> None:
    """Link the case to its project, the applicant's own (another's is not found); in Jiaxing, file the
    project the first filing describes (arts. 14–17)."""
    case, app = ctx.case, dict(ctx.case.application)
    if app.get("new_project"):
        described = app["new_project"]
        assert case.applicant_org_id is not None  # an applicant's organisation opens the case (engine.opening)
        project = Project(jurisdiction=case.jurisdiction, kind=described["kind"], title=described["title"],
                          owner_org_id=case.applicant_org_id, status="draft", created_at=ctx.now)
        ctx.session.add(project)
        ctx.session.flush()
        app["project_id"] = project.id
    found = ctx.session.get(Project, app["project_id"])
    if found is None or (case.applicant_org_id is not None and found.owner_org_id != case.applicant_org_id):
        raise NotFound.of("project")
    case.project_id, case.vintage, case.subject_kind = found.id, app["vintage"], found.kind
    case.application = {**app, "title": text("title.issuance", project=found.title, vintage=app["vintage"]).zh}


def record_holder(ctx: Ctx, effect: RecordHolder) -> None:
    app = ctx.case.application
    ctx.case.application = {**app, "holder_org_id": ctx.case.applicant_org_id,
                            "title": text("title.retirement", amount=app["amount_tco2e"]).zh}


def open_case(session: Session, project: Project, vintage: int, why: dict[str, Any]) -> CaseRecord:
    """An issuance case the system opens (the campaign, Shanghai's first issuance with registration)."""
    case, _ = open_case_of(session, procedure("issuance", project.jurisdiction), jurisdiction=project.jurisdiction,
                           actor=SYSTEM_ACTOR, application={"project_id": project.id, "vintage": vintage},
                           applicant_org_id=project.owner_org_id, role="system",
                           payload={**why, "project_id": project.id, "vintage": vintage})
    return case


# --- effects -------------------------------------------------------------------------------------


def address_verifier(ctx: Ctx, effect: AddressVerifier) -> None:
    verifier = ctx.session.get(Verifier, ctx.case.application["report"]["verifier_id"])
    assert verifier is not None  # verifier_accredited_and_independent checked it
    for task in ctx.tasks:
        if task.kind == "verification":
            task.candidate_org_id = verifier.org_id


def record_form(ctx: Ctx, effect: RecordForm) -> None:
    assert ctx.form is not None
    ctx.case.application = {**ctx.case.application, effect.key: ctx.form.model_dump(mode="json")}


def remember_hold(ctx: Ctx, effect: RememberHold) -> None:
    ctx.case.held_from = ctx.case.state


def forget_hold(ctx: Ctx, effect: ForgetHold) -> None:
    ctx.case.held_from = None


def mint(ctx: Ctx, effect: Mint) -> None:
    """`issued` mints a serial block into the owner's account: project reductions to the applicant,
    scenario reductions to the scenario enterprise on the users' behalf (Ordos arts. 12, 16)."""
    project = ctx.session.get(Project, ctx.case.project_id)
    assert project is not None and ctx.case.vintage is not None
    amount = int(ctx.case.application["decision"]["issued_tco2e"])
    entry, block = ledger.mint(ctx.session, project=project, vintage=ctx.case.vintage, amount=amount,
                               owner_org_id=project.owner_org_id, case_id=ctx.case.id, actor_id=ctx.actor.user_id,
                               now=ctx.now)
    ctx.extra["serials"] = [block.serial]
    ctx.extra["ledger_entry_id"] = entry.id
    double_claims.record_declaration(ctx.session, ctx.profile, entry, project, ctx.case.application.get("report") or {},
                                     ctx.case.id, ctx.now)


def retire_units(ctx: Ctx, effect: RetireUnits) -> None:
    app = ctx.case.application
    account = ledger.account_for(ctx.session, ctx.case.jurisdiction, app["holder_org_id"], ctx.now)
    entry = ledger.retire(ctx.session, jurisdiction=ctx.case.jurisdiction, account_id=pk(account),
                          amount=app["amount_tco2e"], project_id=app.get("project_id"), vintage=app.get("vintage"),
                          case_id=ctx.case.id, actor_id=ctx.actor.user_id, now=ctx.now, serials=app.get("serials"))
    year = ctx.today.year
    sequence = counters.next_number(ctx.session, ctx.case.jurisdiction, year, "RET")
    number = f"{ctx.case.jurisdiction}-RET-{year}-{sequence:06d}"
    org = ctx.session.get(Organisation, app["holder_org_id"])
    assert org is not None
    base = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    data = CertificateData(
        number=number, jurisdiction_zh=ctx.profile.name_zh,
        operator_zh=text("text.operator", jurisdiction=ctx.profile.name_zh).zh,
        holder_name=org.name, holder_uscc=org.uscc, amount_tco2e=app["amount_tco2e"], serials=entry.serials,
        purpose_zh=text(f"purpose.{app['purpose']}").zh,
        purpose_detail=" ".join(x for x in (app["purpose_detail"], app.get("legal_document_ref") or "") if x),
        retired_on=ctx.today, verification_url=f"{base}/api/v1/public/certificates/{number}", sha256_of_data="")
    data = replace(data, sha256_of_data=fingerprint(data))
    ctx.session.add(Certificate(number=number, jurisdiction=ctx.case.jurisdiction, case_id=ctx.case.id,
                                holder_org_id=pk(org), amount=app["amount_tco2e"], purpose=app["purpose"],
                                data=json.loads(json.dumps(data.__dict__, default=str)),
                                fingerprint=data.sha256_of_data, issued_at=ctx.now))
    ctx.extra["certificate"] = number
    ctx.extra["serials"] = entry.serials


def open_first_issuance(ctx: Ctx, effect: OpenFirstIssuance) -> None:
    """Shanghai art. 15: 申请减排项目的同时，可以同步申请签发首次项目减排量 — registration opens it."""
    vintage = ctx.case.application.get("first_issuance_vintage")
    if vintage and ctx.profile.registration.first_issuance_with_registration:
        project = ctx.session.get(Project, ctx.case.project_id)
        assert project is not None
        case = open_case(ctx.session, project, vintage, {"with_registration": ctx.case.id})
        ctx.extra["first_issuance_case"] = case.id


def certificate_data(cert: Certificate) -> CertificateData:
    d = dict(cert.data)
    d["retired_on"] = date.fromisoformat(d["retired_on"])
    return CertificateData(**d)


def certificate_log(session: Session, cert: Certificate) -> dict[str, Any]:
    """The retirement's ledger entry in the signed transparency log: leaf index, tree size, root,
    inclusion proof and the signed checkpoint — or, until the sequencer has taken it, a note."""
    entry_id = session.exec(select(LedgerEntry.id).where(LedgerEntry.kind == "retire",
                                                         LedgerEntry.case_id == cert.case_id)).first()
    proof = transparency_log.entry_proof(session, entry_id) if entry_id is not None else None
    return {"log": proof, "log_note": None if proof else label("log.pending")}


# --- facts ---------------------------------------------------------------------------------------


# An issuance case still claims its vintage and its period while it is open, and for good once issued.
CLAIMS = sa.or_(col(Case.closed_at).is_(None), col(Case.state) == ISSUED)


def overlapping_periods(session: Session, case: AnyCase, start: date, end: date) -> list[tuple[int, date, date]]:
    out = []
    for cid, app in session.exec(select(id_column(Case), col(Case.application)).where(
            col(Case.procedure) == "issuance", col(Case.project_id) == case.project_id, col(Case.id) != case.id,
            CLAIMS)):
        report = app.get("report")
        if not report:
            continue
        s, e = date.fromisoformat(report["period_start"]), date.fromisoformat(report["period_end"])
        if s <= end and start <= e:
            out.append((cid, s, e))
    return out


def holding(session: Session, jurisdiction: str, org_id: int | None, project_id: int | None,
            vintage: int | None) -> int:
    if org_id is None:
        return 0
    account = session.exec(select(Account).where(col(Account.jurisdiction) == jurisdiction,
                                                 col(Account.org_id) == org_id)).first()
    return 0 if account is None else ledger.balance(session, pk(account), project_id, vintage)


def frozen_held(session: Session, jurisdiction: str, org_id: int | None, project_id: int | None,
                vintage: int | None) -> list[str]:
    account = None if org_id is None else session.exec(select(Account).where(
        col(Account.jurisdiction) == jurisdiction, col(Account.org_id) == org_id)).first()
    if account is None:
        return []
    held = ledger.live_blocks(session, pk(account), project_id, vintage)
    return [b.serial for b in ledger.frozen_blocks(session, held)]


# --- suspension: a project's open issuance cases wait on hold ----------------------------------


def hold_project(session: Session, project_id: int, reason_text: str, actor: Actor = SYSTEM_ACTOR,
                 release: bool = False) -> list[int]:
    """Suspend (or resume) a project in the caller's transaction: it shows as suspended, and every
    open issuance case of it goes on hold (or back where it was) through the command path. A case
    already on hold (or not) is left as it is, so a repeated suspension changes nothing. The
    rectification's outbox rows (`hold_project`, `release_project`) call the same function."""
    project = session.exec(select(Project).where(Project.id == project_id).with_for_update()).one()
    if project.status != "revoked":
        project.suspended = not release
        session.add(project)
    trigger = "release" if release else "hold"
    ids = list(session.exec(select(id_column(Case)).where(
        col(Case.procedure) == "issuance", col(Case.project_id) == project_id,
        col(Case.closed_at).is_(None)).order_by(col(Case.id))))
    moved = []
    for cid in ids:
        case = lock_case(session, cid)
        if procedure(case.procedure, case.jurisdiction).arrows(trigger, case.state):
            fire_locked(session, case, Command(cid, trigger, actor, {"reason": reason_text}))
            moved.append(cid)
    return moved


# --- the annual campaign -------------------------------------------------------------------------


def campaign_opens(profile: Profile, year: int, cal: Any) -> date:
    """The first working day on or after the profile's opening day (e.g. the first working day of the year)."""
    month, day = map(int, profile.issuance.window_opens.split("-"))
    start = date(year, month, day)
    return start if cal.is_workday(start, profile.code) else cal.add_working_days(start, 1, profile.code).end


def run_campaign(db: Database, jurisdiction: str, vintage: int) -> dict[str, int]:
    """Open an issuance case for every registered, unsuspended project of the jurisdiction that has
    none for the vintage. Idempotent: a second run opens nothing (each opening re-checks under the
    project's row lock)."""
    opened = skipped = 0
    with db.read() as session:
        # projects that already have a case for the vintage are left out here (a second run is one
        # query); the check is repeated under each project's lock below
        has_case = select(Case.id).where(Case.procedure == "issuance", Case.project_id == Project.id,
                                         col(Case.vintage) == vintage).exists()
        candidates = list(session.exec(select(col(Project.id)).where(
            col(Project.jurisdiction) == jurisdiction, col(Project.status) == "registered",
            col(Project.suspended).is_(False),
            sa.or_(col(Project.project_class).is_(None), col(Project.project_class) != 2), ~has_case)))
    for project_id in candidates:
        with db.write() as session:
            project = session.exec(select(Project).where(col(Project.id) == project_id).with_for_update()).one()
            exists = session.exec(select(col(Case.id)).where(
                col(Case.procedure) == "issuance", col(Case.project_id) == project_id,
                col(Case.vintage) == vintage)).first()
            if exists or project.suspended or project.status != "registered":
                skipped += 1
                continue
            open_case(session, project, vintage, {"campaign": vintage})
            opened += 1
    return {"opened": opened, "skipped": skipped, "candidates": len(candidates)}


def due_campaigns(db: Database, now: datetime | None = None) -> list[tuple[str, int]]:
    """(jurisdiction, vintage) pairs whose annual window is open today, for the scheduler."""
    now = now or clock.now()
    today = local_date(now)
    with db.read() as session:
        cal = calendar(session)
    due = []
    for code, profile in all_profiles().items():
        if profile.issuance.window != "annual":
            continue
        month, day = map(int, profile.issuance.window_closes.split("-"))
        closes = date(today.year, month, day)  # of the window of last year's vintage
        if campaign_opens(profile, today.year, cal) <= today <= closes:
            due.append((code, today.year - 1))
    return due


