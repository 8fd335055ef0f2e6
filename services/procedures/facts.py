"""The facts rules ask about a case (states.spec.Facts), read from the database lazily and once each:
its objections, panel, methodology, project, verifier, holdings…"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import preload
from services.procedures.issuance import CLAIMS, frozen_held, holding, overlapping_periods
from services.procedures.panels import PANEL_FACTS
from services.procedures.standing import disqualified
from services.store.records import AnyCase
from services.store.tables import (
    Case,
    Comment,
    Document,
    MethodologyVersion,
    Objection,
    Organisation,
    Project,
    ReportHandler,
    RoleGrant,
    User,
    Verifier,
    pk,
)
from states.disqualification import Disqualified
from states.spec import CommentFacts, MethodologyFacts, PanelFacts, ProjectFacts, VerifierFacts

OPEN_OBJECTIONS = select(Objection.id).where(Objection.case_id == sa.bindparam("case_id"), Objection.status == "open")

# A methodology version as the rules see it: the columns MethodologyFacts holds, built once.
_MV = MethodologyVersion
VERSION_FACTS: sa.Select[Any] = sa.select(
    col(_MV.code), col(_MV.version), col(_MV.jurisdiction), col(_MV.kind), col(_MV.tier), col(_MV.status),
    col(_MV.scope), col(_MV.grace_until), col(_MV.superseded_by).label("current_version"))
VERSION_ANYWHERE = VERSION_FACTS.where(col(_MV.code) == sa.bindparam("code"),
                                       col(_MV.version) == sa.bindparam("version"))
VERSION_HERE = VERSION_ANYWHERE.where(col(_MV.jurisdiction) == sa.bindparam("jurisdiction"))

T = TypeVar("T")


class CaseFacts:
    """Answers the rules' questions about a case from the database, lazily and once each."""

    def __init__(self, session: Session, case: AnyCase, application: dict[str, Any]) -> None:
        self.session, self.case, self.application = session, case, application
        self._memo: dict[str, Any] = {}

    def _once(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def open_objections(self) -> int:
        def count() -> int:
            preloaded = preload.get(self.session, "objections", pk(self.case))
            if preloaded is not None:
                return len(preloaded)
            return len(list(self.session.exec(OPEN_OBJECTIONS, params={"case_id": self.case.id})))
        return self._once("objections", count)

    def panel(self) -> PanelFacts | None:
        def load() -> PanelFacts | None:
            rows = self.session.execute(PANEL_FACTS, {"case_id": self.case.id}).all()
            if not rows:
                return None
            return PanelFacts(members=tuple(m.user_id for m in rows), chair=next(m.user_id for m in rows if m.chair),
                              opinions={m.user_id: m.opinion for m in rows if m.opinion})
        return self._once("panel", load)

    def _version(self, jurisdiction: str | None, code: str, version: str) -> MethodologyFacts | None:
        found = (self.session.execute(VERSION_HERE, {"code": code, "version": version, "jurisdiction": jurisdiction})
                 if jurisdiction else self.session.execute(VERSION_ANYWHERE, {"code": code, "version": version}))
        row = found.first()
        return None if row is None else MethodologyFacts(**row._mapping)

    def methodology(self) -> MethodologyFacts | None:
        """The methodology a registration cites: of this jurisdiction, else anywhere (to say so)."""
        app = self.application
        code, version = app.get("methodology_code", ""), app.get("methodology_version", "")
        return self._once("methodology", lambda: self._version(self.case.jurisdiction, code, version)
                          or self._version(None, code, version))

    def methodology_version(self, code: str, version: str) -> MethodologyFacts | None:
        return self._version(self.case.jurisdiction, code, version)

    def open_filings(self, code: str, version: str) -> int:
        """Other open filing cases of the same code and version in this jurisdiction."""
        rows = self.session.exec(select(Case.id, col(Case.application), col(Case.state)).where(
            col(Case.procedure) == "methodology_filing", col(Case.jurisdiction) == self.case.jurisdiction,
            col(Case.closed_at).is_(None)))
        return sum(1 for cid, app, _ in rows
                   if cid != self.case.id and app.get("code") == code and app.get("version") == version)

    def covering_standards(self, scope: str, tiers: tuple[str, ...]) -> list[MethodologyFacts]:
        rows = self.session.execute(VERSION_FACTS.where(
            col(_MV.jurisdiction) == self.case.jurisdiction, col(_MV.scope) == scope,
            col(_MV.status) == "filed", col(_MV.tier).in_(tiers)))
        return [MethodologyFacts(**row._mapping) for row in rows]

    def project(self) -> ProjectFacts | None:
        def load() -> ProjectFacts | None:
            pid = self.application.get("project_id") or self.case.project_id
            p = self.session.get(Project, pid) if pid else None
            if p is None:
                return None
            reg = self.session.exec(select(Case.application).where(
                Case.procedure == "project_registration", Case.project_id == p.id)).first() or {}
            mv = self.session.get(MethodologyVersion, p.methodology_version_id) if p.methodology_version_id else None
            rectification = self.session.exec(select(col(Case.id)).where(
                col(Case.procedure) == "rectification", col(Case.project_id) == p.id,
                col(Case.closed_at).is_(None)).order_by(col(Case.id).desc())).first() if p.suspended else None
            return ProjectFacts(id=pk(p), jurisdiction=p.jurisdiction, kind=p.kind, status=p.status,
                                suspended=p.suspended, project_class=p.project_class,
                                methodology_code=mv.code if mv else None,
                                other_schemes=tuple(o["scheme"] for o in reg.get("other_schemes") or []),
                                rectification_case=rectification)
        return self._once("project", load)

    def overlapping_periods(self, start: date, end: date) -> list[tuple[int, date, date]]:
        return overlapping_periods(self.session, self.case, start, end)

    def open_issuances(self, project_id: int, vintage: int) -> int:
        return len(list(self.session.exec(select(Case.id).where(
            Case.procedure == "issuance", Case.project_id == project_id, Case.vintage == vintage,
            Case.id != (self.case.id or 0), CLAIMS))))

    def verifier(self, verifier_id: int) -> VerifierFacts | None:
        v = self.session.get(Verifier, verifier_id)
        if v is None:
            return None
        org = self.session.get(Organisation, v.org_id)
        return VerifierFacts(id=pk(v), jurisdiction=v.jurisdiction, uscc=org.uscc if org else "", org_id=v.org_id,
                             scopes=tuple(v.scopes), valid_from=v.valid_from, valid_until=v.valid_until)

    def document_hashes(self) -> set[str]:
        return set(self.session.exec(select(col(Document.sha256)).where(col(Document.case_id) == self.case.id)))

    def document_kinds(self) -> set[str]:
        return {k for k in self.session.exec(select(Document.kind).where(Document.case_id == self.case.id)) if k}

    def holding(self, org_id: int | None, project_id: int | None, vintage: int | None) -> int:
        return holding(self.session, self.case.jurisdiction, org_id, project_id, vintage)

    def project_tier(self, project_id: int) -> str | None:
        """The tier of the methodology a project of this jurisdiction was registered under (Shanghai art. 17)."""
        return self.session.exec(select(col(MethodologyVersion.tier)).join(
            Project, col(Project.methodology_version_id) == col(MethodologyVersion.id)).where(
            col(Project.id) == project_id, col(Project.jurisdiction) == self.case.jurisdiction)).first()

    def disqualification(self) -> Disqualified | None:
        """The case's applicant organisation's disqualification in the case's jurisdiction (Jiaxing art. 26)."""
        return self._once("disqualification", lambda: disqualified(self.session, self.case.applicant_org_id,
                                                                   self.case.jurisdiction))

    def frozen(self, org_id: int | None, project_id: int | None, vintage: int | None) -> list[str]:
        """The holder's blocks (of this project and vintage, if named) a double-claim finding froze."""
        return frozen_held(self.session, self.case.jurisdiction, org_id, project_id, vintage)

    def comments(self) -> CommentFacts:
        def load() -> CommentFacts:
            rows = [(pk(c), c.answer) for c in self.session.exec(select(Comment).where(
                col(Comment.case_id) == self.case.id))]
            return CommentFacts(received=tuple(i for i, _ in rows), answered=tuple(i for i, a in rows if a))
        return self._once("comments", load)

    def not_experts(self, user_ids: list[int]) -> list[int]:
        experts = set(self.session.exec(select(col(RoleGrant.user_id)).where(
            col(RoleGrant.role) == "expert", col(RoleGrant.jurisdiction) == self.case.jurisdiction,
            col(RoleGrant.user_id).in_(user_ids))))
        return [u for u in dict.fromkeys(user_ids) if u not in experts]

    def lacking_role(self, role: str, user_ids: list[int]) -> list[int]:
        """Of these users, those who do not hold `role` in the case's jurisdiction."""
        holders = set(self.session.exec(
            select(RoleGrant.user_id).join(User, col(User.id) == col(RoleGrant.user_id)).where(
                col(RoleGrant.role) == role, col(RoleGrant.jurisdiction) == self.case.jurisdiction,
                col(User.active).is_(True), col(RoleGrant.user_id).in_(user_ids))))
        return [u for u in dict.fromkeys(user_ids) if u not in holders]

    def report_handlers(self) -> tuple[int, ...]:
        """The officers currently assigned to handle this report."""
        return tuple(self.session.exec(select(ReportHandler.user_id).where(
            col(ReportHandler.case_id) == self.case.id, col(ReportHandler.withdrawn_at).is_(None)).order_by(
            col(ReportHandler.id))))

