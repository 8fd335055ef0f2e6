"""A demo data set: users for every role in every jurisdiction, methodologies, and cases at
different stages, driven through the real command path (so the demo is also a smoke test).

Demo bearer tokens are `demo-<username>`: for a local demo only, never for a deployment.
"""

from __future__ import annotations

import io
import secrets
from datetime import date, timedelta
from functools import cache
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session, col, select

from forms.common import USCC_ALPHABET, uscc_check_char
from forms.supervision import PublicReport
from services.accounts.identity import (
    create_user,
    ensure_organisation,
    hash_password,
    issue_token,
    load_actor,
)
from services.engine import command, opening
from services.engine.actors import SYSTEM_ACTOR, Actor
from services.engine.clock import clock
from services.engine.command import Command, Outcome
from services.orchestration.dispatch import BACKOFF, MAX_ATTEMPTS, Channels, deliver
from services.orchestration.sweep import sweep
from services.procedures import documents, reports
from services.store.engine import Database
from services.store.tables import (
    Case,
    Document,
    MethodologyVersion,
    Outbox,
    User,
    Verifier,
    WebhookEndpoint,
    id_column,
    pk,
)
from states.messages import CATALOGUE, text
from states.profiles import all_profiles
from states.spec import NATIONAL

STAFF = ("case_officer", "approver", "review_centre", "operator", "verifier", "admin")
EXPERTS = 5
DEMO_PASSWORD = "demo-password"


def demo_uscc(seed: int) -> str:
    """A valid 统一社会信用代码 (GB 32100-2015) for demo organisations."""
    body = f"91{310000 + seed:06d}MA{seed:07d}"[:17]
    body = "".join(c if c in USCC_ALPHABET else "0" for c in body)
    return body + uscc_check_char(body)


def _methodologies(session: Session, code: str) -> None:
    tiers = all_profiles()[code].methodology.tiers  # a first-tier and a last-tier methodology, where tiered
    t1, t2 = (tiers[0], tiers[-1]) if tiers else (None, None)
    for mcode, kind, tier, scope in (
        (f"{code}-M-PV-001", "project", t1, "分布式光伏发电"),
        (f"{code}-M-EV-001", "scenario", t1, "新能源汽车出行"),
        (f"{code}-M-LED-002", "project", t2, "公共照明节能改造"),
    ):
        session.add(MethodologyVersion(jurisdiction=code, code=mcode, version="1.0", title=f"{scope}碳普惠方法学",
                                       kind=kind, tier=tier, scope=scope, status="filed", filed_on=date(2025, 1, 1),
                                       parameters=[{"name": "电网排放因子", "value": "0.5366", "unit": "tCO2/MWh",
                                                    "source": "生态环境部 2022年度全国电力平均二氧化碳排放因子",
                                                    "source_date": "2024-12-23"}]))


def ensure_demo(db: Database) -> bool:
    """Create the demo set once; return False when it is already there."""
    if not seed_people(db):
        return False
    for code in all_profiles():
        _demo_cases(db, code)
    _weeks_of_history(db, HISTORY)
    return True


HISTORY = "SD"  # the jurisdiction whose demo cases began weeks before the first run
RECEIVER_DOWN = "http://127.0.0.1:9/carbon-inclusion"  # the discard port: nothing listens, the POST is refused


def _weeks_of_history(db: Database, code: str) -> None:
    """What a system in use shows its administrators, produced the way it happens: cases submitted six
    weeks ago whose checks are now overdue (the sweep records the SLA breaches and escalates them), and
    a notice's webhook to the exchange that kept failing until it was dead-lettered through the
    dispatcher's retries, after which the receiver was switched off (an administrator may send them
    round again). Flow runs are Prefect's own: they appear once `make serve` runs the flows."""
    driver, low, start = Driver(db), code.lower(), clock.now()
    with db.write() as session:
        session.add(WebhookEndpoint(jurisdiction=code, name="交易所接收端（演示：已停用）", url=RECEIVER_DOWN,
                                    secret=secrets.token_hex(16), events=["open_publicity"]))
    with clock.then(start - timedelta(days=42)):
        for stop, title in (("submitted", "工业园区储能改造（逾期演示）"),
                            ("technical_review", "污水处理厂沼气发电（逾期演示）"),
                            ("publicity", "校园屋顶光伏（投递失败演示）")):
            drive_to(driver, code, driver.open(f"{low}_applicant", code, application(code, title=title)), stop)
        _deliver_until_dead(db, code)
    with db.write() as session:
        for endpoint in session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.url) == RECEIVER_DOWN)):
            endpoint.active = False
            session.add(endpoint)
    sweep(db, start)


def _deliver_until_dead(db: Database, code: str) -> None:
    """The dispatcher's own delivery, retried on its backoff, of the notices' rows to the receiver."""
    channels = Channels(smtp_host=None)
    for _ in range(MAX_ATTEMPTS):
        with db.read() as session:
            rows = [r for r in session.exec(select(Outbox).where(col(Outbox.kind) == "open_publicity",
                                                                  col(Outbox.status) == "pending"))
                    if r.payload.get("jurisdiction") == code]
        if not rows:
            return
        for row in rows:
            deliver(db, row, channels)
        clock.advance(max(BACKOFF) + timedelta(minutes=1))


@cache
def _demo_hash() -> str:
    return hash_password(DEMO_PASSWORD)  # argon2 is deliberately slow: hash the shared demo password once


def seed_people(db: Database) -> bool:
    """Users for every role in every jurisdiction (tokens `demo-<username>`), organisations and
    filed methodologies. Returns False when they are already there."""
    with db.write() as session:
        if session.exec(select(User).where(User.username == "demo_admin")).first():
            return False
        pw = _demo_hash()
        # the national administrator; its grants in each jurisdiction add narrower hats to switch to on the
        # web pages (a jurisdiction's hat shows that jurisdiction only)
        admin = create_user(session, username="demo_admin", display_name="全国系统管理员",
                            grants=[("admin", NATIONAL), *(("admin", c) for c in all_profiles())], password_hash=pw)
        issue_token(session, admin, "demo", token="demo-demo_admin")
        for i, code in enumerate(all_profiles()):
            low = code.lower()
            _methodologies(session, code)
            # a filed third-party verifier (Ordos art. 15) whose staff hold the verifier role
            verifier_org = ensure_organisation(session, demo_uscc(300 + i), f"{code} 低碳核证技术有限公司")
            session.add(Verifier(jurisdiction=code, org_id=pk(verifier_org), name=verifier_org.name,
                                 scopes=["project", "scenario"], valid_from=date(2024, 1, 1),
                                 valid_until=date(2030, 12, 31), filed_at=clock.now()))
            for role in STAFF:
                # people by name, never by their user names (`SH 主管部门经办人`, not `sh_case_officer`)
                named = f"{code} {CATALOGUE[f'role.{role}'][0]}"
                user = create_user(session, username=f"{low}_{role}", display_name=named,
                                   grants=[(role, code)], password_hash=pw,
                                   org_id=verifier_org.id if role == "verifier" else None)
                issue_token(session, user, "demo", token=f"demo-{low}_{role}")
            for n in range(1, EXPERTS + 1):
                user = create_user(session, username=f"{low}_expert{n}", display_name=f"{code} 专家{n}",
                                   grants=[("expert", code)], password_hash=pw,
                                   expert_fields=["energy", "transport"], affiliation=f"研究院{n}")
                issue_token(session, user, "demo", token=f"demo-{low}_expert{n}")
            org = ensure_organisation(session, demo_uscc(100 + i), f"{code} 绿色能源有限公司")
            user = create_user(session, username=f"{low}_applicant", display_name=f"{code} 申请人",
                               grants=[("applicant", code)], org_id=org.id, password_hash=pw)
            issue_token(session, user, "demo", token=f"demo-{low}_applicant")
            # a second applicant organisation, to show that one applicant cannot act on another's case
            other = ensure_organisation(session, demo_uscc(200 + i), f"{code} 另一家公司")
            user = create_user(session, username=f"{low}_applicant2", display_name=f"{code} 另一申请人",
                               grants=[("applicant", code)], org_id=other.id, password_hash=pw)
            issue_token(session, user, "demo", token=f"demo-{low}_applicant2")
    return True


class Driver:
    """Fires commands by user name through the real command path."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def actor(self, username: str) -> Actor:
        with self.db.read() as session:
            return load_actor(session, session.exec(select(User).where(col(User.username) == username)).one())

    def user_id(self, username: str) -> int:
        # the ignore below: demo users are read from the database: their ids are set
        return self.actor(username).user_id  # type: ignore[return-value]

    def open(self, username: str, jurisdiction: str, application: dict[str, Any],
             procedure: str = "project_registration") -> int:
        _, body = opening.create(self.db, actor=self.actor(username), procedure_name=procedure,
                               jurisdiction=jurisdiction, application=application,
                               respond=lambda s, o: (201, {"id": o.case.id}))
        return int(body["id"])

    def act(self, username: str | None, case_id: int, trigger: str, form: dict[str, Any] | None = None) -> str:
        actor = self.actor(username) if username else SYSTEM_ACTOR

        def respond(_: Session, o: Outcome) -> tuple[int, dict[str, Any]]:
            return 200, {"state": o.case.state}

        _, body = command.fire(self.db, Command(case_id, trigger, actor, form or {}), respond)
        return str(body["state"])


def application(code: str, *, kind: str = "project", title: str = "屋顶分布式光伏项目",
                project_class: int | None = None, methodology: str | None = None) -> dict[str, Any]:
    mcode = methodology or (f"{code}-M-PV-001" if kind == "project" else f"{code}-M-EV-001")
    return {"kind": kind, "title": title, "methodology_code": mcode, "methodology_version": "1.0",
            "project_class": project_class, "location": demo_location(code), "start_date": "2025-03-01",
            "expected_annual_reduction_tco2e": "1250.5", "other_schemes": []}


# A county of each jurisdiction (GB/T 2260), where its demo projects stand
DEMO_DIVISIONS = {"SH": "310114", "BJ": "110108", "JX": "330402", "ORD": "150602", "SD": "370102"}


def demo_location(code: str, address: str = "示范区 1 号") -> dict[str, Any]:
    """A demo project's location: the jurisdiction's demo county, else its own division, else its area's."""
    profile = all_profiles()[code]
    division = DEMO_DIVISIONS.get(code) or profile.division or next(iter(profile.registration.area), "110000")
    return {"division": division, "address": address}


def commitments(code: str) -> dict[str, Any]:
    return {"commitments": dict.fromkeys(all_profiles()[code].registration.commitments, True)}


def attach_required(driver: Driver, username: str, case_id: int) -> None:
    """Upload one demo PDF for every document type the case's submission requires (profile `[documents]`)."""
    with driver.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        profile, name = all_profiles()[case.jurisdiction], case.procedure
        present = set(session.exec(select(Document.kind).where(Document.case_id == case_id)))
    for kind in (k for k in profile.documents.required_for(name) if k not in present):
        zh, _ = text(f"doc_kind.{kind}")
        documents.add(driver.db, case_id=case_id, actor=driver.actor(username), name=f"{zh}.pdf",
                      content_type=documents.PDF, data=_pdf(f"{zh}.pdf"), visibility="case", kind=kind)


def drive_to(driver: Driver, code: str, case_id: int, stop: str) -> str:
    """Move a fresh draft along the happy path until it stands in `stop` (the required documents
    attached before it is submitted)."""
    low = code.lower()
    if stop != "draft":
        attach_required(driver, f"{low}_applicant", case_id)
    steps: list[tuple[str | None, str, dict[str, Any]]] = [
        (f"{low}_applicant", "submit", commitments(code)),
        (f"{low}_case_officer", "accept", {}),
        (f"{low}_review_centre", "pass_review", {"opinion": "材料齐全，方法学适用"}),
    ]
    state = "draft"
    for user, trigger, form in steps:
        if state == stop:
            return state
        state = driver.act(user, case_id, trigger, form)
    if state == "technical_review":  # Shanghai scenario: the exchange's joint review
        state = driver.act(f"{low}_operator", case_id, "pass_review", {"opinion": "数据对接校验通过"})
    if state == stop:
        return state
    experts = [driver.user_id(f"{low}_expert{n}") for n in (1, 2, 3)]
    driver.act(f"{low}_case_officer", case_id, "compose_panel", {"members": experts, "chair": experts[0]})
    for n in (1, 2, 3):
        driver.act(f"{low}_expert{n}", case_id, "record_opinion", {"opinion": "agree", "score": 85})
    state = driver.act(f"{low}_expert1", case_id, "panel_pass", {"conclusion": "同意通过"})
    if state == stop:
        return state
    return driver.act(f"{low}_approver", case_id, "approve", {"comments": "同意"})


def _demo_cases(db: Database, code: str) -> None:
    driver = Driver(db)
    cls = 1 if all_profiles()[code].registration.project_classes else None
    registers = all_profiles()[code].registration.separate
    for stop, title in () if not registers else (("draft", "社区充电桩共享项目"), ("submitted", "园区节能照明改造"),
                        ("technical_review", "屋顶分布式光伏项目"), ("expert_review", "公共自行车低碳出行"),
                        ("authority_decision", "农村沼气综合利用"), ("publicity", "工业余热回收利用")):
        case_id = driver.open(f"{code.lower()}_applicant", code, application(code, title=title, project_class=cls))
        drive_to(driver, code, case_id, stop)
    profile = all_profiles()[code]
    if profile.methodology.public_comment or profile.methodology.publicity:
        # a methodology in Shanghai's public comment / Jiaxing's publicity, for the public pages
        tier = profile.methodology.tiers[0] if profile.methodology.tiers else None
        mid = driver.open(f"{code.lower()}_applicant", code, {
            "code": f"{code}-M-BIKE-001", "version": "1.0", "title": "共享单车骑行碳普惠方法学", "kind": "scenario",
            "tier": tier, "scope": "共享单车骑行"}, procedure="methodology_filing")
        _upload(driver, f"{code.lower()}_applicant", mid, "方法学文本.pdf", "public",  # published once filed
                "methodology_text")
        _upload(driver, f"{code.lower()}_applicant", mid, "开发单位资质证明.pdf", "case", "supporting")
        drive_to(driver, code, mid, "public_comment" if profile.methodology.public_comment else "publicity")
        _upload(driver, f"{code.lower()}_review_centre", mid, "技术评估意见.pdf", "internal")
    if code == "JX":
        # a report (Jiaxing art. 27) whose handler the approver assigned: only that officer may read
        # the reporter, and each read shows on the case page
        reports.lodge_report(db, code, PublicReport(
            subject="某屋顶光伏项目", project_id=None, name="王先生", contact="13800000000",
            content="该项目申报的装机容量与现场铭牌不符，疑似虚报减排量。"))
        with db.read() as session:
            report_id = session.exec(select(id_column(Case))
                                     .where(col(Case.procedure) == "report", col(Case.jurisdiction) == code)
                                     .order_by(col(Case.id).desc())).one()
        driver.act("jx_approver", report_id, "assign_handlers", {"officers": [driver.user_id("jx_case_officer")]})


def _pdf(title: str) -> bytes:
    """A one-page demo PDF naming the document (Adobe's CID font: no font file)."""
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setFont("STSong-Light", 16)
    canvas.drawString(72, 760, title.removesuffix(".pdf"))
    canvas.setFont("STSong-Light", 10)
    canvas.drawString(72, 736, " · ".join(text("text.demo_data")))
    canvas.save()
    return out.getvalue()


def _upload(driver: Driver, username: str, case_id: int, name: str, visibility: str, kind: str | None = None
            ) -> None:
    documents.add(driver.db, case_id=case_id, actor=driver.actor(username), name=name,
                  content_type=documents.PDF, data=_pdf(name), visibility=visibility, kind=kind)
