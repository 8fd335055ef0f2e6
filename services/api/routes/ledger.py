"""Verifiers, the registry ledger (accounts, transfers, verification), suspension, certificates and
the public registry of issuances and retirements."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from forms.issuance import DoubleClaimFinding, Transfer, VerifierFiling
from services.accounts.identity import ensure_organisation
from services.api.deps import ActorDep, AdminDep, DbDep, IdemKey
from services.api.responses import errors, file
from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid
from services.engine.idempotency import Idem, Reply, claim, once, remember
from services.procedures import double_claims, ledger
from services.procedures.certificates import render_pdf
from services.procedures.issuance import certificate_data, certificate_log, hold_project
from services.queries import ledger as ledger_queries
from services.queries import registry
from services.queries.ledger import (
    AccountList,
    AccountPublic,
    DoubleClaimRecorded,
    LedgerCheck,
    SuspensionPublic,
    TransferPublic,
)
from services.queries.registry import (
    CertificatePublic,
    IssuanceList,
    RetirementList,
    VerifierList,
    VerifierPublic,
    verifier_view,
)
from services.queries.schemas import Items, not_found, plain
from services.store.engine import Database
from services.store.tables import LedgerEntry, Project, Verifier, pk
from states.messages import label, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["ledger"])


def _need(actor: Actor, role: str, jurisdiction: str, named: str) -> None:
    """`named`: the catalogue's key of the role as the refusal names it."""
    if not actor.holds(role, jurisdiction):
        raise Forbidden([reason("role_required", roles_zh=label(named)["zh"], roles_en=role)])


def _jurisdiction(code: str) -> str:
    if get_profile(code) is None:
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=code)])
    return code


# --- verifiers (Ordos art. 15: filed by the authority) --------------------------------------------


@router.post("/jurisdictions/{jurisdiction}/verifiers", status_code=201, summary="File an accredited verifier",
             response_model=VerifierPublic, responses=errors(401, 403, 409, 413, 422))
def file_verifier(jurisdiction: str, body: VerifierFiling, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                  ) -> dict[str, Any]:
    _need(actor, "approver", _jurisdiction(jurisdiction), "role.approver")

    def command(session: Session) -> Reply:
        org = ensure_organisation(session, body.uscc, body.name)
        if session.exec(select(Verifier).where(col(Verifier.jurisdiction) == jurisdiction,
                                               col(Verifier.org_id) == org.id)).first():
            raise Conflict([reason("verifier_exists", field="uscc")])
        v = Verifier(jurisdiction=jurisdiction, org_id=pk(org), name=body.name, scopes=body.scopes,
                     valid_from=body.valid_from, valid_until=body.valid_until, filed_at=clock.now())
        session.add(v)
        session.flush()
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="approver",
                     event="verifier_filed", payload=verifier_view(v, org))
        return 201, verifier_view(v, org)

    request = {"verifier": jurisdiction, **body.model_dump(mode="json")}
    return once(db, Idem(actor.key, idempotency_key, request), command)[1]


@router.get("/public/verifiers", summary="Accredited verifiers", responses=errors(422))
def verifiers(db: DbDep, jurisdiction: str | None = None) -> VerifierList:
    with db.read() as session:
        return registry.verifiers(session, jurisdiction)


# --- accounts and transfers -----------------------------------------------------------------------


@router.get("/ledger/accounts/mine", summary="My organisation's accounts, balances and serial blocks",
            responses=errors(401, 403, 422))
def my_accounts(actor: ActorDep, db: DbDep) -> AccountList:
    with db.read() as session:
        return ledger_queries.my_accounts(session, actor)


@router.get("/ledger/accounts/{account_id}", summary="An account (operator of its jurisdiction, or its holder)",
            responses=errors(401, 404, 422))
def account(account_id: int, actor: ActorDep, db: DbDep) -> AccountPublic:
    with db.read() as session:
        return ledger_queries.account(session, actor, account_id)


@router.post("/jurisdictions/{jurisdiction}/transfers", status_code=201, response_model=TransferPublic,
             summary="Record a transfer the exchange settled (operator); blocks are split",
             responses=errors(401, 403, 409, 413, 422))
def transfer(jurisdiction: str, body: Transfer, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
             ) -> dict[str, Any]:
    """The exchange's trade reference names the transfer: recording it again (a retry, with or without
    an Idempotency-Key) answers the first record; the same reference for another transfer is refused."""
    _need(actor, "operator", _jurisdiction(jurisdiction), "noun.operator")
    request = {"transfer": jurisdiction, **body.model_dump(mode="json")}
    settled = Idem(f"transfer:{jurisdiction}", body.reference, request)

    def command(session: Session) -> Reply:
        try:
            first = claim(session, settled)
        except Invalid as exc:
            used = session.exec(select(col(LedgerEntry.id)).where(
                col(LedgerEntry.kind) == "transfer", col(LedgerEntry.jurisdiction) == jurisdiction,
                col(LedgerEntry.reference) == body.reference)).first()
            raise Invalid([reason("transfer_reference_used", field="reference", reference=body.reference,
                                  entry=used)]) from exc
        if first is not None:
            return first
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


@router.post("/jurisdictions/{jurisdiction}/blocks/claimed-elsewhere", status_code=201,
             response_model=DoubleClaimRecorded, responses=errors(401, 403, 404, 409, 413, 422),
             summary="Record that an issued block is claimed in another scheme: it is frozen and rectified")
def claimed_elsewhere(jurisdiction: str, body: DoubleClaimFinding, actor: ActorDep, db: DbDep,
                      idempotency_key: IdemKey = None) -> dict[str, Any]:
    """Ordos art. 17, Shanghai art. 14 (operator, case officer or administrator of the jurisdiction)."""
    return double_claims.mark_claimed_elsewhere(db, _jurisdiction(jurisdiction), actor, body, idempotency_key)


@router.get("/admin/ledger/verify", summary="Open blocks = issued − retired; no serial in two places (my scope)",
            responses=errors(401, 403, 422))
def verify(scope: AdminDep, db: DbDep) -> LedgerCheck:
    """The national administrator checks the whole ledger; a jurisdiction's, their jurisdictions' part."""
    with db.read() as session:
        return ledger_queries.verify(session, scope)


# --- suspension --------------------------------------------------------------------------------


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


def _suspend(project_id: int, body: Suspension, actor: Actor, db: Database, release: bool, key: str | None
             ) -> dict[str, Any]:
    def command(session: Session) -> Reply:
        project = session.get(Project, project_id)
        if project is None:
            raise not_found("project")
        _need(actor, "case_officer", project.jurisdiction, "role.case_officer")
        if project.status != "registered":
            raise Invalid([reason("project_not_registered", field="project_id", status=project.status)])
        moved = hold_project(session, project_id, body.reason, actor, release=release)
        return 200, {"project_id": project_id, "suspended": not release, "cases": moved}

    request = {"resume" if release else "suspend": project_id, "reason": body.reason}
    return once(db, Idem(actor.key, key, request), command)[1]


@router.post("/projects/{project_id}/suspend", summary="Suspend a project: its issuance cases wait on hold",
             response_model=SuspensionPublic, responses=errors(401, 403, 404, 409, 413, 422))
def suspend(project_id: int, body: Suspension, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
            ) -> dict[str, Any]:
    return _suspend(project_id, body, actor, db, release=False, key=idempotency_key)


@router.post("/projects/{project_id}/resume", summary="Resume a project: its cases go back where they were",
             response_model=SuspensionPublic, responses=errors(401, 403, 404, 409, 413, 422))
def resume(project_id: int, body: Suspension, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
           ) -> dict[str, Any]:
    return _suspend(project_id, body, actor, db, release=True, key=idempotency_key)


# --- certificates and the public registry ------------------------------------------------------


@router.get("/public/certificates/{number}", summary="Verify a retirement certificate (format=pdf for the PDF)",
            response_model=CertificatePublic,
            responses={**file("application/pdf", description="The certificate (JSON), or with format=pdf its PDF"),
                       **errors(404, 422)})
def certificate(number: str, db: DbDep, format: Annotated[str, Query(pattern="^(json|pdf)$")] = "json"
                ) -> CertificatePublic | Response:
    with db.read() as session:
        if format == "json":
            return registry.certificate(session, number)
        cert = registry.certificate_row(session, number)
        proof = certificate_log(session, cert)["log"]
        return Response(render_pdf(certificate_data(cert), proof), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})


def _items_or_csv(page: Items[Any], fmt: str, name: str) -> Any:
    if fmt == "json":
        return page
    rows = [plain(row) for row in page.items]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["none"])
    writer.writeheader()
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


Fmt = Annotated[str, Query(pattern="^(json|csv)$")]
CSV = file("text/csv", description="The rows (JSON), or with format=csv a CSV file (UTF-8 with a BOM)")


@router.get("/public/issuances", summary="Issued reductions by project and vintage (json or csv)",
            response_model=IssuanceList, responses={**CSV, **errors(422)})
def issuances(db: DbDep, jurisdiction: str | None = None, project_id: int | None = None, vintage: int | None = None,
              format: Fmt = "json") -> Any:
    with db.read() as session:
        page = registry.issuances(session, jurisdiction=jurisdiction, project_id=project_id, vintage=vintage)
    return _items_or_csv(page, format, "issuances")


@router.get("/public/retirements", summary="Retirements with their certificates (json or csv)",
            response_model=RetirementList, responses={**CSV, **errors(422)})
def retirements(db: DbDep, jurisdiction: str | None = None, format: Fmt = "json") -> Any:
    with db.read() as session:
        page = registry.retirements(session, jurisdiction)
    return _items_or_csv(page, format, "retirements")
