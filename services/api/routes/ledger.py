"""Verifiers, the registry ledger (accounts, transfers, verification), suspension, certificates and
the public registry of issuances and retirements."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from forms.issuance import Transfer, VerifierFiling
from services.accounts.identity import ensure_organisation
from services.api.deps import ActorDep, AdminDep, DbDep, IdemKey
from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.idempotency import Idem, Reply, claim, once, remember
from services.procedures import ledger
from services.procedures.certificates import render_pdf
from services.procedures.issuance import certificate_data, certificate_log, hold_project
from services.store.engine import Database
from services.store.tables import Account, Case, Certificate, LedgerEntry, Organisation, Project, SerialBlock, Verifier
from states.messages import Reason, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["ledger"])


def _need(actor: Actor, role: str, jurisdiction: str, zh: str) -> None:
    if not actor.holds(role, jurisdiction):
        raise Forbidden([reason("role_required", roles_zh=zh, roles_en=role)])


def _jurisdiction(code: str) -> str:
    if get_profile(code) is None:
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=code)])
    return code


# --- verifiers (Ordos art. 15: filed by the authority) --------------------------------------------


def verifier_view(v: Verifier, org: Organisation | None) -> dict[str, Any]:
    return {"id": v.id, "jurisdiction": v.jurisdiction, "name": v.name, "uscc": org.uscc if org else None,
            "scopes": v.scopes, "valid_from": v.valid_from.isoformat(), "valid_until": v.valid_until.isoformat()}


@router.post("/jurisdictions/{jurisdiction}/verifiers", status_code=201, summary="File an accredited verifier")
def file_verifier(jurisdiction: str, body: VerifierFiling, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                  ) -> dict[str, Any]:
    _need(actor, "approver", _jurisdiction(jurisdiction), "主管部门审定人")

    def command(session: Session) -> Reply:
        org = ensure_organisation(session, body.uscc, body.name)
        if session.exec(select(Verifier).where(Verifier.jurisdiction == jurisdiction,
                                               Verifier.org_id == org.id)).first():
            raise Conflict([Reason("verifier_exists", "该机构已在本辖区备案", "Already filed here", "uscc")])
        v = Verifier(jurisdiction=jurisdiction, org_id=org.id, name=body.name, scopes=body.scopes,
                     valid_from=body.valid_from, valid_until=body.valid_until, filed_at=clock.now())
        session.add(v)
        session.flush()
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="approver",
                     event="verifier_filed", payload=verifier_view(v, org))
        return 201, verifier_view(v, org)

    request = {"verifier": jurisdiction, **body.model_dump(mode="json")}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


@router.get("/public/verifiers", summary="Accredited verifiers")
def verifiers(db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(Verifier, Organisation).join(Organisation, Organisation.id == Verifier.org_id)
        if jurisdiction:
            q = q.where(Verifier.jurisdiction == jurisdiction)
        return {"items": [verifier_view(v, o) for v, o in session.exec(q.order_by(Verifier.id))]}


# --- accounts and transfers -----------------------------------------------------------------------


def _account_view(session: Any, account: Account) -> dict[str, Any]:  # noqa: ANN401
    blocks = ledger.live_blocks(session, account.id)
    retired = session.exec(select(SerialBlock).where(SerialBlock.account_id == account.id,
                                                     SerialBlock.closed_by.is_(None),  # type: ignore[union-attr]
                                                     SerialBlock.retired == True)).all()  # noqa: E712
    return {"id": account.id, "jurisdiction": account.jurisdiction, "org_id": account.org_id,
            "balance_tco2e": sum(b.size for b in blocks), "retired_tco2e": sum(b.size for b in retired),
            "blocks": [{"serial": b.serial, "project_id": b.project_id, "vintage": b.vintage, "size": b.size}
                       for b in blocks]}


@router.get("/ledger/accounts/mine", summary="My organisation's accounts, balances and serial blocks")
def my_accounts(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    if actor.org_id is None:
        raise Forbidden([reason("no_organisation")])
    with db.read() as session:
        accounts = session.exec(select(Account).where(Account.org_id == actor.org_id).order_by(Account.id))
        return {"items": [_account_view(session, a) for a in accounts]}


@router.get("/ledger/accounts/{account_id}", summary="An account (operator of its jurisdiction, or its holder)")
def account(account_id: int, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        a = session.get(Account, account_id)
        if a is None or not (actor.holds("operator", a.jurisdiction) or actor.org_id == a.org_id):
            raise NotFound.of("账户", "Account")
        return _account_view(session, a)


@router.post("/jurisdictions/{jurisdiction}/transfers", status_code=201,
             summary="Record a transfer the exchange settled (operator); blocks are split")
def transfer(jurisdiction: str, body: Transfer, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
             ) -> dict[str, Any]:
    """The exchange's trade reference names the transfer: recording it again (a retry, with or without
    an Idempotency-Key) answers the first record; the same reference for another transfer is refused."""
    _need(actor, "operator", _jurisdiction(jurisdiction), "运营管理机构")
    request = {"transfer": jurisdiction, **body.model_dump(mode="json")}
    settled = Idem(f"transfer:{jurisdiction}", body.reference, request)

    def command(session: Session) -> Reply:
        try:
            first = claim(session, settled)
        except Invalid as exc:
            entry = session.exec(select(LedgerEntry.id).where(
                LedgerEntry.kind == "transfer", LedgerEntry.jurisdiction == jurisdiction,
                LedgerEntry.reference == body.reference)).first()
            raise Invalid([reason("transfer_reference_used", field="reference", reference=body.reference,
                                  entry=entry)]) from exc
        if first is not None:
            return first
        accounts = {a.id: a for a in session.exec(select(Account).where(
            Account.id.in_((body.from_account_id, body.to_account_id))))}  # type: ignore[union-attr]
        problems = [Reason("account_unknown", f"账户 #{i} 不在本辖区", f"Account #{i} is not in this jurisdiction",
                           field) for i, field in ((body.from_account_id, "from_account_id"),
                                                   (body.to_account_id, "to_account_id"))
                    if i not in accounts or accounts[i].jurisdiction != jurisdiction]
        if body.from_account_id == body.to_account_id:
            problems.append(Reason("same_account", "转出与转入账户相同", "From and to are the same account",
                                   "to_account_id"))
        if problems:
            raise Invalid(problems)
        entry = ledger.transfer(session, jurisdiction=jurisdiction, from_account=body.from_account_id,
                                to_account=body.to_account_id, amount=body.amount_tco2e, project_id=body.project_id,
                                vintage=body.vintage, reference=body.reference, actor_id=actor.user_id,
                                now=clock.now(), serials=body.serials)
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="operator",
                     event="ledger_transfer", payload={"entry_id": entry.id, "amount": entry.amount,
                                                      "serials": entry.serials, "reference": body.reference})
        reply = (201, {"entry_id": entry.id, "amount_tco2e": entry.amount, "serials": entry.serials})
        remember(session, settled, reply)
        return reply

    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


@router.get("/admin/ledger/verify", summary="Open blocks = issued − retired; no serial in two places (my scope)")
def verify(scope: AdminDep, db: DbDep) -> dict[str, Any]:
    """The national administrator checks the whole ledger; a jurisdiction's, their jurisdictions' part."""
    with db.read() as session:
        result = ledger.verify(session, None if scope.national else scope.jurisdictions)
    return {**result, "scope": scope.as_dict()}


# --- suspension --------------------------------------------------------------------------------


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


def _suspend(project_id: int, body: Suspension, actor: Actor, db: Database, release: bool, key: str | None
             ) -> dict[str, Any]:
    def command(session: Session) -> Reply:
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound.of("项目", "Project")
        _need(actor, "case_officer", project.jurisdiction, "主管部门经办人")
        if project.status != "registered":
            raise Invalid([reason("project_not_registered", field="project_id", status=project.status)])
        moved = hold_project(session, project_id, body.reason, actor, release=release)
        return 200, {"project_id": project_id, "suspended": not release, "cases": moved}

    request = {"resume" if release else "suspend": project_id, "reason": body.reason}
    return once(db, Idem(actor.key, key, request), command)[1]


@router.post("/projects/{project_id}/suspend", summary="Suspend a project: its issuance cases wait on hold")
def suspend(project_id: int, body: Suspension, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
            ) -> dict[str, Any]:
    return _suspend(project_id, body, actor, db, release=False, key=idempotency_key)


@router.post("/projects/{project_id}/resume", summary="Resume a project: its cases go back where they were")
def resume(project_id: int, body: Suspension, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
           ) -> dict[str, Any]:
    return _suspend(project_id, body, actor, db, release=True, key=idempotency_key)


# --- certificates and the public registry ------------------------------------------------------


@router.get("/public/certificates/{number}", summary="Verify a retirement certificate (format=pdf for the PDF)")
def certificate(number: str, db: DbDep, format: Annotated[str, Query(pattern="^(json|pdf)$")] = "json"
                ) -> Any:  # noqa: ANN401
    with db.read() as session:
        cert = session.exec(select(Certificate).where(Certificate.number == number)).first()
        if cert is None:
            raise NotFound.of("注销证明", "Certificate")
        data = certificate_data(cert)
        if format == "pdf":
            proof = certificate_log(session, cert)["log"]
            return Response(render_pdf(data, proof), media_type="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})
        return {"number": cert.number, "valid": True, "jurisdiction": cert.jurisdiction, "holder": data.holder_name,
                "amount_tco2e": cert.amount, "purpose": cert.purpose, "serials": data.serials,
                "retired_on": data.retired_on.isoformat(), "fingerprint": cert.fingerprint,
                "pdf": f"/api/v1/public/certificates/{number}?format=pdf", **certificate_log(session, cert)}


def _rows_or_csv(rows: list[dict[str, Any]], fmt: str, name: str) -> Any:  # noqa: ANN401
    if fmt == "json":
        return {"items": rows}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["none"])
    writer.writeheader()
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


Fmt = Annotated[str, Query(pattern="^(json|csv)$")]


@router.get("/public/issuances", summary="Issued reductions by project and vintage (json or csv)")
def issuances(db: DbDep, jurisdiction: str | None = None, project_id: int | None = None, vintage: int | None = None,
              format: Fmt = "json") -> Any:  # noqa: ANN401
    with db.read() as session:
        q = select(LedgerEntry, Case, Project).join(Case, Case.id == LedgerEntry.case_id).join(
            Project, Project.id == Case.project_id).where(LedgerEntry.kind == "issue")
        if jurisdiction:
            q = q.where(LedgerEntry.jurisdiction == jurisdiction)
        if project_id:
            q = q.where(Project.id == project_id)
        if vintage:
            q = q.where(Case.vintage == vintage)
        rows = [{"jurisdiction": e.jurisdiction, "project_id": p.id, "registration_number": p.registration_number,
                 "project": p.title, "vintage": c.vintage, "amount_tco2e": e.amount, "serials": " ".join(e.serials),
                 "issued_at": e.at.isoformat()} for e, c, p in session.exec(q.order_by(LedgerEntry.id).limit(5000))]
    return _rows_or_csv(rows, format, "issuances")


@router.get("/public/retirements", summary="Retirements with their certificates (json or csv)")
def retirements(db: DbDep, jurisdiction: str | None = None, format: Fmt = "json") -> Any:  # noqa: ANN401
    with db.read() as session:
        q = select(Certificate)
        if jurisdiction:
            q = q.where(Certificate.jurisdiction == jurisdiction)
        rows = [{"number": c.number, "jurisdiction": c.jurisdiction, "holder": c.data.get("holder_name"),
                 "amount_tco2e": c.amount, "purpose": c.purpose, "serials": " ".join(c.data.get("serials", [])),
                 "retired_on": c.data.get("retired_on")} for c in session.exec(q.order_by(Certificate.id).limit(5000))]
    return _rows_or_csv(rows, format, "retirements")
