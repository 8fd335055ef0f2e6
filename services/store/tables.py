"""The tables. The database is the source of truth for every case's state, tasks, timers and history.

Times are stored in UTC (naive columns on SQLite, read back as aware UTC); dates are Asia/Shanghai
calendar dates. Table classes are storage only: the API has its own response shapes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from services.store import correlation


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json(default: Any = None) -> Any:
    factory = (lambda: dict(default or {})) if not isinstance(default, list) else (lambda: list(default))
    return Field(default_factory=factory, sa_type=sa.JSON, nullable=False)


class Jurisdiction(SQLModel, table=True):
    __tablename__ = "jurisdictions"
    code: str = Field(primary_key=True, max_length=8)
    name_zh: str = Field(max_length=50)
    name_en: str = Field(max_length=50)
    profile: dict[str, Any] = _json()
    profile_digest: str = Field(max_length=64)
    loaded_at: datetime = _ts()


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"
    id: int | None = Field(default=None, primary_key=True)
    uscc: str = Field(max_length=18, unique=True)  # 统一社会信用代码, GB 32100-2015
    name: str = Field(max_length=200)
    created_at: datetime = _ts()
    disqualified_at: datetime | None = _ts(nullable=True)  # Jiaxing art. 26: 取消参与碳普惠市场的资格


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=100)
    org_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    password_hash: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200)
    expert_fields: list[str] = _json([])
    affiliation: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = _ts()


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grants"
    __table_args__ = (sa.UniqueConstraint("user_id", "role", "jurisdiction"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    role: str = Field(max_length=20)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    token_sha256: str = Field(max_length=64, unique=True)  # tokens are random; a fast hash is enough
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so a copy of
    the database cannot sign anyone in. `role`/`jurisdiction` is the hat the person wears right now."""

    __tablename__ = "web_sessions"
    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf: str = Field(max_length=64)
    role: str | None = Field(default=None, max_length=20)
    jurisdiction: str | None = Field(default=None, max_length=8)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    expires_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class MethodologyVersion(SQLModel, table=True):
    __tablename__ = "methodology_versions"
    __table_args__ = (sa.UniqueConstraint("jurisdiction", "code", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8)
    code: str = Field(max_length=200)
    version: str = Field(max_length=20)
    title: str = Field(max_length=200)
    kind: str = Field(max_length=10)  # project | scenario
    tier: str | None = Field(default=None, max_length=20)
    scope: str = Field(default="", max_length=200)
    summary: str = ""
    parameters: list[dict[str, Any]] = _json([])  # key parameters with source and date (Jiaxing art. 11)
    status: str = Field(max_length=12)  # filed | superseded | withdrawn
    filed_on: date | None = None
    superseded_on: date | None = None
    superseded_by: str | None = Field(default=None, max_length=20)
    grace_until: date | None = None  # new projects may still cite a superseded version until then
    case_id: int | None = None  # the filing case (no foreign key: cases -> projects -> versions already)
    # a scenario methodology's quantification as data: activity types, units, formulas over its registered
    # parameters, per-user caps (states/scenarios.py; issue 17); None for project methodologies
    quantification: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)


class Project(SQLModel, table=True):
    """A project (减排项目) or scenario (减排场景): the subject of registration and issuance."""

    __tablename__ = "projects"
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8, index=True)
    kind: str = Field(max_length=10)
    title: str = Field(max_length=200)
    owner_org_id: int = Field(foreign_key="organisations.id", index=True)
    methodology_version_id: int | None = Field(default=None, foreign_key="methodology_versions.id")
    project_class: int | None = None
    status: str = Field(max_length=20)
    suspended: bool = False  # while a rectification runs (issuance cases wait on hold)
    registration_number: str | None = Field(default=None, max_length=40, unique=True)
    registered_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class RegistrationCounter(SQLModel, table=True):
    """Registration numbers are unique per jurisdiction and year: the last number handed out."""

    __tablename__ = "registration_counters"
    jurisdiction: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=10)
    last: int = 0


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    id: int | None = Field(default=None, primary_key=True)
    procedure: str = Field(max_length=40)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8, index=True)
    state: str = Field(max_length=40)
    version: int = 1
    subject_kind: str = Field(max_length=10)
    project_id: int | None = Field(default=None, foreign_key="projects.id", index=True)
    applicant_org_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    application: dict[str, Any] = _json()
    submitted_on: date | None = None
    vintage: int | None = None  # issuance: the year the reductions belong to
    held_from: str | None = Field(default=None, max_length=40)  # on hold: the state to return to
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    # the statutory deadline while the clock runs (None while paused or stopped): the sweep finds
    # breaches with one indexed comparison instead of recounting every case's segments
    clock_due_on: date | None = Field(default=None, index=True)
    audit_seq: int = 0  # head of the case's audit chain (services/engine/audit.py)
    audit_hash: str = Field(default="0" * 64, max_length=64)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # the work-queue keyset: open tasks of a role in a jurisdiction, by due time
        sa.Index("ix_tasks_queue", "status", "jurisdiction", "role", "due_at", "id"),
        sa.Index("ix_tasks_assignee", "status", "assignee_id", "due_at", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    procedure: str = Field(max_length=40)
    jurisdiction: str = Field(max_length=8)
    kind: str = Field(max_length=40)
    role: str = Field(max_length=20)
    state: str = Field(max_length=40)  # the case state that opened it
    triggers: list[str] = _json([])
    join: bool = False
    candidate_user_id: int | None = Field(default=None, foreign_key="users.id")  # addressed to one person
    candidate_org_id: int | None = Field(default=None, foreign_key="organisations.id")  # or to one firm
    assignee_id: int | None = Field(default=None, foreign_key="users.id")
    status: str = Field(default="open", max_length=12)  # open | completed | cancelled
    opened_at: datetime = _ts()
    opened_on: date
    sla_days: int | None = None
    due_on: date | None = None
    due_at: datetime | None = _ts(nullable=True)
    due_provisional: bool = False
    closed_at: datetime | None = _ts(nullable=True)
    closed_by: int | None = None
    outcome: str | None = Field(default=None, max_length=40)


class Timer(SQLModel, table=True):
    __tablename__ = "timers"
    # ix_timers_case: a command cancels its case's pending timers (case_id, status): one index range,
    # where an index on case_id alone left the planner free to AND it with every pending timer of
    # ix_timers_due (measured: 3.5 ms a command with 52k pending timers, 0.05 ms with this index)
    __table_args__ = (sa.Index("ix_timers_due", "status", "fire_at"), sa.Index("ix_timers_case", "case_id", "status"))
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    jurisdiction: str = Field(max_length=8)
    kind: str = Field(max_length=40)
    trigger: str = Field(max_length=40)
    state: str = Field(max_length=40)
    fire_at: datetime = _ts()
    base_on: date | None = None  # the working-day count starts after this date
    days: int | None = None
    provisional: bool = False
    status: str = Field(default="pending", max_length=12)  # pending | fired | cancelled
    fired_at: datetime | None = _ts(nullable=True)


class ClockSegment(SQLModel, table=True):
    """The statutory clock (办理时限): running and paused segments of a case."""

    __tablename__ = "clock_segments"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    running: bool
    state: str = Field(max_length=40)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class PanelMember(SQLModel, table=True):
    __tablename__ = "panel_members"
    __table_args__ = (sa.UniqueConstraint("case_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    chair: bool = False
    status: str = Field(default="active", max_length=12)  # active | declined
    declined_reason: str | None = None
    drawn: bool = False  # drawn at random (services/procedures/panels.py) rather than named by an officer
    seated_at: datetime | None = _ts(nullable=True)
    opinion: str | None = Field(default=None, max_length=24)
    score: int | None = None
    comments: str | None = None
    opinion_at: datetime | None = _ts(nullable=True)


class Objection(SQLModel, table=True):
    __tablename__ = "objections"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    receipt: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    contact: str = Field(max_length=200)
    text: str
    status: str = Field(default="open", max_length=12)  # open | dismissed | upheld
    received_at: datetime = _ts()
    decided_at: datetime | None = _ts(nullable=True)


class Notice(SQLModel, table=True):
    """What the public reads, with its period: a publicity notice (公示) or a consultation (征求意见)."""

    __tablename__ = "notices"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(default="publicity", max_length=20)  # publicity | consultation
    jurisdiction: str = Field(max_length=8, index=True)
    title: str = Field(max_length=300)
    published_on: date
    first_day: date
    last_day: date
    closes_at: datetime = _ts()
    provisional: bool = False
    status: str = Field(default="open", max_length=12)  # open | closed


class Comment(SQLModel, table=True):
    """A public comment in a consultation, and the review centre's published answer."""

    __tablename__ = "comments"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    name: str = Field(default="", max_length=100)
    organisation: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=200)  # never published
    text: str
    received_at: datetime = _ts()
    answer: str | None = None
    disposition: str | None = Field(default=None, max_length=20)
    answered_at: datetime | None = _ts(nullable=True)
    published: bool = False


class Document(SQLModel, table=True):
    """A file attached to a case (and, once filed, to the methodology version). Content-addressed by
    SHA-256; the bytes live in the database so that a command stores them in its own transaction.

    `visibility` is decided at upload (services/procedures/documents.py): `public` the applicant's declared
    public materials, `case` the applicant's other material, `internal` review material. What the
    public sees is `public` or marked for publication by the approver (`published_at`)."""

    __tablename__ = "documents"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    methodology_version_id: int | None = Field(default=None, foreign_key="methodology_versions.id", index=True)
    name: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_type=sa.LargeBinary)
    uploaded_by: int | None = None
    uploaded_at: datetime = _ts()
    # a row written without a visibility is internal: the safe side (also the column's server default)
    visibility: str = Field(default="internal", max_length=10, sa_column_kwargs={"server_default": "internal"})
    published_at: datetime | None = _ts(nullable=True)
    published_by: int | None = None
    # what the document is (the catalogue's `doc_kind.<key>`, from the profile's `[documents]`): the
    # applicant's checklist and the submission's required material; staff uploads carry none
    kind: str | None = Field(default=None, max_length=40)


class AuditEvent(SQLModel, table=True):
    """One link of a SHA-256 hash chain per stream (`case:<id>` or `system`)."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.UniqueConstraint("stream", "seq"),
                      # the transparency log's queue: only rows not yet in the log are in this index
                      sa.Index("ix_audit_events_unlogged", "id", postgresql_where=sa.text("log_seq IS NULL"),
                               sqlite_where=sa.text("log_seq IS NULL")))
    id: int | None = Field(default=None, primary_key=True)
    stream: str = Field(max_length=40)
    seq: int
    case_id: int | None = Field(default=None, index=True)
    at: datetime = _ts()
    actor_id: int | None = None
    actor_role: str = Field(max_length=20)
    event: str = Field(max_length=60)
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str | None = Field(default=None, max_length=40)
    payload: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    log_seq: int | None = None  # its leaf in the transparency log (services/transparency), once sequenced


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_heads"
    stream: str = Field(primary_key=True, max_length=40)
    seq: int
    hash: str = Field(max_length=64)


class Outbox(SQLModel, table=True):
    """Side effects that leave the transaction, drained at least once by the dispatch flow."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "status", "available_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    kind: str = Field(max_length=40)
    case_id: int | None = Field(default=None, index=True)
    payload: dict[str, Any] = _json()
    status: str = Field(default="pending", max_length=12)  # pending | done | dead
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _ts()
    available_at: datetime = _ts()
    locked_until: datetime | None = _ts(nullable=True)  # a dispatcher's lease on the row
    done_at: datetime | None = _ts(nullable=True)
    # the request (or flow run) that wrote the row: a column default, so every insert path carries it
    request_id: str | None = Field(default=None, sa_column_kwargs={"default": correlation.current},
                                   max_length=64, nullable=True)


class Verifier(SQLModel, table=True):
    """A third-party verifier filed by the authority (Ordos art. 15), with scopes and validity."""

    __tablename__ = "verifiers"
    __table_args__ = (sa.UniqueConstraint("jurisdiction", "org_id"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8, index=True)
    org_id: int = Field(foreign_key="organisations.id")
    name: str = Field(max_length=200)
    scopes: list[str] = _json([])
    valid_from: date
    valid_until: date
    filed_at: datetime = _ts()


class Account(SQLModel, table=True):
    """A party's holding account in a jurisdiction's registry."""

    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("jurisdiction", "org_id"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    opened_at: datetime = _ts()


class LedgerEntry(SQLModel, table=True):
    """The append-only journal: issue, transfer, retire (and, with supervision, claw back, adjust)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # the exchange's trade reference names one transfer per jurisdiction: a retried record finds the first
        sa.Index("ux_ledger_transfer_reference", "jurisdiction", "reference", unique=True,
                 postgresql_where=sa.text("kind = 'transfer'"), sqlite_where=sa.text("kind = 'transfer'")),
        sa.Index("ix_ledger_entries_unlogged", "id", postgresql_where=sa.text("log_seq IS NULL"),
                 sqlite_where=sa.text("log_seq IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # issue | transfer | retire | clawback | debt | freeze | unfreeze
    jurisdiction: str = Field(max_length=8, index=True)
    amount: int
    from_account_id: int | None = None
    to_account_id: int | None = None
    case_id: int | None = Field(default=None, index=True)
    actor_id: int | None = None
    reference: str | None = Field(default=None, max_length=200)
    serials: list[str] = _json([])
    at: datetime = _ts()
    log_seq: int | None = None  # its leaf in the transparency log (services/transparency), once sequenced


class SerialBlock(SQLModel, table=True):
    """A run of serial numbers (one per tonne) held in one account. A block is never edited but to
    close it, once, by the entry that moved or retired it (splitting it into new blocks)."""

    __tablename__ = "serial_blocks"
    __table_args__ = (sa.Index("ix_blocks_live", "account_id", "closed_by", "project_id", "vintage", "start"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction: str = Field(max_length=8)
    project_id: int = Field(foreign_key="projects.id", index=True)
    project_code: str = Field(max_length=20)  # e.g. P00042, from the registration number
    vintage: int
    start: int
    end: int
    account_id: int = Field(foreign_key="accounts.id")
    retired: bool = False
    opened_by: int = Field(foreign_key="ledger_entries.id")
    closed_by: int | None = Field(default=None, foreign_key="ledger_entries.id")

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    @property
    def serial(self) -> str:
        return f"{self.jurisdiction}-{self.vintage}-{self.project_code}-{self.start:06d}-{self.end:06d}"


class Certificate(SQLModel, table=True):
    """A retirement certificate (注销证明, Ordos art. 23), publicly verifiable by its number."""

    __tablename__ = "certificates"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True)
    jurisdiction: str = Field(max_length=8)
    case_id: int = Field(foreign_key="cases.id")
    holder_org_id: int = Field(foreign_key="organisations.id")
    amount: int
    purpose: str = Field(max_length=30)
    data: dict[str, Any] = _json()
    fingerprint: str = Field(max_length=64)
    issued_at: datetime = _ts()


class LogLeaf(SQLModel, table=True):
    """A leaf of the transparency log (services/transparency): an audit event or a ledger entry."""

    __tablename__ = "log_leaves"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # 0, 1, 2 …
    kind: str = Field(max_length=8)  # audit | ledger
    ref_id: int  # audit_events.id or ledger_entries.id
    leaf_hash: str = Field(max_length=64, index=True)  # hex SHA-256(0x00 || leaf data), RFC 9162 §2.1.1


class LogNode(SQLModel, table=True):
    """The hash of every complete aligned subtree of level >= 1 (leaves [idx·2^level, (idx+1)·2^level)):
    any proof is O(log n) of these, read in one query."""

    __tablename__ = "log_nodes"
    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: str = Field(max_length=64)


class LogHead(SQLModel, table=True):
    """A signed tree head: the checkpoint text (a C2SP signed note) as published."""

    __tablename__ = "log_heads"
    size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: str = Field(max_length=64)
    timestamp: datetime = _ts()
    signature: str  # the whole checkpoint: body, blank line, signature line
    key_id: str = Field(max_length=8)  # hex: which key signed it (keys rotate)


class LogState(SQLModel, table=True):
    """One row: the log's size, locked by the sequencer so two never append at once."""

    __tablename__ = "log_state"
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    size: int = 0


class Evaluation(SQLModel, table=True):
    """A tracking evaluation (跟踪评估) of a registered project, with its findings."""

    __tablename__ = "evaluations"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    jurisdiction: str = Field(max_length=8)
    by_user: int | None = None
    role: str = Field(max_length=20)
    summary: str
    findings: list[dict[str, Any]] = _json([])
    rectification_case_id: int | None = None
    at: datetime = _ts()


class ReportIdentity(SQLModel, table=True):
    """Who reported (举报人): kept apart from the case, read only by the officers assigned to handle
    it (`report_handlers`), each read an audit event. The receipt and the secret are the reporter's:
    only their digests are stored, so no screen or export can show them."""

    __tablename__ = "report_identities"
    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    receipt_sha256: str = Field(max_length=64, unique=True)
    secret_sha256: str = Field(max_length=64)
    name: str = Field(default="", max_length=100)
    contact: str = Field(default="", max_length=200)


class ReportHandler(SQLModel, table=True):
    """A case officer assigned to handle a report by the approver; while the assignment stands
    (`withdrawn_at` empty) the officer may read the reporter's identity (Jiaxing art. 27: 为举报人保密)."""

    __tablename__ = "report_handlers"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    assigned_by: int | None = None
    assigned_at: datetime = _ts()
    withdrawn_at: datetime | None = _ts(nullable=True)
    withdrawn_by: int | None = None


class RateLimit(SQLModel, table=True):
    __tablename__ = "rate_limits"
    key: str = Field(primary_key=True, max_length=120)
    window_start: datetime = _ts()
    count: int = 0


class Notification(SQLModel, table=True):
    """An in-app notification; one per outbox row and recipient, however often the row is delivered."""

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("outbox_key", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    outbox_key: str = Field(max_length=120)
    case_id: int | None = None
    event: str = Field(max_length=60)
    title_zh: str = Field(max_length=300)
    title_en: str = Field(max_length=300)
    created_at: datetime = _ts()
    read_at: datetime | None = _ts(nullable=True)


class Delivery(SQLModel, table=True):
    """What left the system for an outbox row on one channel (an address, an endpoint): a retry
    resends only what did not go out."""

    __tablename__ = "deliveries"
    __table_args__ = (sa.UniqueConstraint("outbox_key", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    outbox_key: str = Field(max_length=120)
    channel: str = Field(max_length=250)
    delivered_at: datetime = _ts()


class WebhookEndpoint(SQLModel, table=True):
    """A jurisdiction's receiver (e-government portal, exchange): signed with HMAC-SHA256."""

    __tablename__ = "webhook_endpoints"
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8, index=True)
    name: str = Field(max_length=100)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=200)
    events: list[str] = _json([])  # outbox kinds it wants; empty = all
    active: bool = True


class PanelConflict(SQLModel, table=True):
    """An expert's declared conflict of interest on a case: never drawn for it."""

    __tablename__ = "panel_conflicts"
    __table_args__ = (sa.UniqueConstraint("case_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    reason: str
    declared_at: datetime = _ts()


class SlaBreach(SQLModel, table=True):
    """A deadline missed: a task overdue or a statutory clock exceeded, recorded once (by `key`)."""

    __tablename__ = "sla_breaches"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=60, unique=True)  # task:<id> | clock:<case id>
    kind: str = Field(max_length=20)  # task_overdue | clock_exceeded
    case_id: int = Field(foreign_key="cases.id", index=True)
    task_id: int | None = None
    procedure: str = Field(max_length=40)
    jurisdiction: str = Field(max_length=8)
    stage: str = Field(max_length=40)
    role: str | None = Field(default=None, max_length=20)
    due_at: datetime | None = _ts(nullable=True)
    detected_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True, index=True)
    escalation_task_id: int | None = None


class Heartbeat(SQLModel, table=True):
    """When each orchestration loop (sweep, dispatch, ...) last started and last finished well, and in which
    flow run: what /metrics and the incident detector read, whichever process ran the loop."""

    __tablename__ = "ops_heartbeats"
    name: str = Field(primary_key=True, max_length=40)
    last_started_at: datetime | None = _ts(nullable=True)
    last_ok_at: datetime | None = _ts(nullable=True)
    last_error_at: datetime | None = _ts(nullable=True)
    last_error: str | None = None
    run_id: str | None = Field(default=None, max_length=64)


class Incident(SQLModel, table=True):
    """Something operators must look at (Camunda Operate's incidents): one row per problem `key`, seen
    again and again until resolved; a new occurrence after resolution opens a new row."""

    __tablename__ = "incidents"
    # one open or acknowledged incident per key: a condition seen again counts, never opens a second
    __table_args__ = (sa.Index("ix_incidents_open", "key", "status"),
                      sa.Index("ux_incidents_active_key", "key", unique=True,
                               sqlite_where=sa.text("status <> 'resolved'"),
                               postgresql_where=sa.text("status <> 'resolved'")))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160)
    kind: str = Field(max_length=40)  # flow_run_failed | dead_letter | sweep_late | outbox_stale | timer_overdue | ...
    status: str = Field(default="open", max_length=12)  # open | acknowledged | resolved
    jurisdiction: str | None = Field(default=None, max_length=8, index=True)  # None: the system's own
    detail: dict[str, Any] = _json()
    flow_run_id: str | None = Field(default=None, max_length=64)
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()
    count: int = 1
    acknowledged_at: datetime | None = _ts(nullable=True)
    acknowledged_by: int | None = None
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by: int | None = None  # None with resolved_at: resolved by the detector (the cause went away)


class SchedulerLease(SQLModel, table=True):
    """One embedded scheduler per database: the holder renews its lease; others stand by."""

    __tablename__ = "scheduler_leases"
    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=100)
    expires_at: datetime = _ts()


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    actor_key: str = Field(primary_key=True, max_length=40)  # "user:<id>" or "public"
    key: str = Field(primary_key=True, max_length=200)
    request_sha256: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = _json()
    created_at: datetime = _ts()


class CalendarOverride(SQLModel, table=True):
    __tablename__ = "calendar_overrides"
    __table_args__ = (sa.UniqueConstraint("day", "jurisdiction"),)
    id: int | None = Field(default=None, primary_key=True)
    day: date
    year: int = Field(index=True)
    workday: bool
    name: str = Field(default="", max_length=100)
    jurisdiction: str | None = Field(default=None, max_length=8)


class CalendarYear(SQLModel, table=True):
    """A load of a year's days: the State Council's notice (`jurisdiction` = the national scope, `CN`;
    the year is then no longer provisional) or one jurisdiction's own days. A load replaces only the
    override rows of its own year and scope (national rows have no jurisdiction)."""

    __tablename__ = "calendar_years"
    year: int = Field(primary_key=True)
    jurisdiction: str = Field(primary_key=True, foreign_key="jurisdictions.code", max_length=8)
    source: str = Field(max_length=300)
    loaded_at: datetime = _ts()
    revision: int = 1  # bumped by every load: processes notice the change (services/engine/workdays.py)


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: _Stored) -> int:
    """A stored row's id. SQLModel types every `id` as `int | None` (None until the row is inserted);
    rows read from the database, or flushed, always have one."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it has not been flushed")
    return row.id


def id_column(model: type[SQLModel]) -> sa.ColumnElement[int]:
    """A table's `id` to SELECT: an `int` column, since rows read from the database always have one
    (SQLModel types the attribute `int | None` for rows not inserted yet)."""
    column: sa.ColumnElement[int] = table_of(model).c.id
    return column


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model (SQLModel sets `__table__` on the class at definition)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]  # set by SQLAlchemy's declarative base
    return table


# --- scenario data (issue 17): the files live under SCENARIO_DATA_DIR; these rows describe them ---------


class ScenarioFeed(SQLModel, table=True):
    """A registered scenario's data feed: the credential its enterprise submits batches with (only the
    token's SHA-256 is kept)."""

    __tablename__ = "scenario_feeds"
    project_id: int = Field(primary_key=True, foreign_key="projects.id", sa_column_kwargs={"autoincrement": False})
    jurisdiction: str = Field(max_length=8)
    token_sha256: str | None = Field(default=None, max_length=64, unique=True)
    token_issued_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class ScenarioBatch(SQLModel, table=True):
    """One file a scenario enterprise sent: daily activity records (Ordos art. 14) or its consent feed
    (art. 13). Unique per (scenario, kind, batch id): sending it again answers the first receipt."""

    __tablename__ = "scenario_batches"
    __table_args__ = (sa.UniqueConstraint("project_id", "kind", "batch_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    kind: str = Field(max_length=10)  # records | consents
    batch_id: str = Field(max_length=100)
    business_date: date
    format: str = Field(max_length=10)  # parquet | csv | jsonl
    declared_count: int
    sha256: str = Field(max_length=64)
    raw_path: str = Field(max_length=500)
    accepted_path: str = Field(max_length=500)
    accepted_sha256: str = Field(max_length=64)
    rejected_path: str = Field(max_length=500)
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    late: int = 0
    rejections: dict[str, Any] = _json()  # reason code -> rows
    received_at: datetime = _ts()
    seconds: float = 0.0


class ScenarioReport(SQLModel, table=True):
    """A verification report of one scenario and period (Ordos art. 15: verified digitally): its figures,
    the inputs it read (each file's SHA-256) and the per-user totals it wrote; its digest is over all of
    them, so recomputing from the same inputs gives the same digest."""

    __tablename__ = "scenario_reports"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    jurisdiction: str = Field(max_length=8)
    period: str = Field(max_length=10)
    period_start: date
    period_end: date
    engine: str = Field(max_length=10)  # duckdb | dask
    digest: str = Field(max_length=64)
    figures: dict[str, Any] = _json()
    users_path: str = Field(max_length=500)
    users_sha256: str = Field(max_length=64)
    created_at: datetime = _ts()
    created_by: int | None = None


class ScenarioAllocation(SQLModel, table=True):
    """An issued scenario period's per-user allocation (Ordos arts. 12, 16: the reductions belong to the
    individuals; the enterprise holds the block on their behalf). The users' rows live in a Parquet file
    (`path`, with its SHA-256), the Merkle tree's levels in another; `root` is the RFC 9162 root over
    states/scenarios.allocation_leaf of each user (sorted by pseudonym), also on the ledger entry.
    A correction (Ordos art. 11) writes new files and a new root here; the old ones stay on disk."""

    __tablename__ = "scenario_allocations"
    __table_args__ = (sa.UniqueConstraint("project_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    jurisdiction: str = Field(max_length=8)
    period: str = Field(max_length=10)
    case_id: int = Field(unique=True)
    report_id: int
    vintage: int
    block_t: int  # whole tonnes issued
    users: int
    reduction_g: int = Field(sa_type=sa.BigInteger)  # this period's eligible reductions
    allocated_g: int = Field(sa_type=sa.BigInteger)  # = block_t · 10^6 (less what corrections cancelled)
    carry_g: int = Field(sa_type=sa.BigInteger)  # carried into the next period, all users
    root: str = Field(max_length=64)
    path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    levels_path: str = Field(max_length=500)
    ledger_entry_id: int | None = None
    corrected_g: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ScenarioCarry(SQLModel, table=True):
    """What each user of a scenario carries into its next issuance (grams under a tonne not allocated):
    the current file, replaced by each issuance and correction."""

    __tablename__ = "scenario_carries"
    project_id: int = Field(primary_key=True, foreign_key="projects.id", sa_column_kwargs={"autoincrement": False})
    path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    total_g: int = Field(sa_type=sa.BigInteger)
    updated_at: datetime = _ts()


class ScenarioLookupToken(SQLModel, table=True):
    """The token a scenario enterprise hands one user to see their account (only its SHA-256 is kept;
    a new token for the same user replaces the old)."""

    __tablename__ = "scenario_lookup_tokens"
    __table_args__ = (sa.UniqueConstraint("project_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    user_id: str = Field(max_length=64)
    token_sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    created_by: int | None = None


class ScenarioPointTransfer(SQLModel, table=True):
    """Carbon points moved between two individuals of a scenario (only where the profile allows it)."""

    __tablename__ = "scenario_point_transfers"
    __table_args__ = (sa.UniqueConstraint("project_id", "from_user", "idempotency_key"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    from_user: str = Field(max_length=64, index=True)
    to_user: str = Field(max_length=64, index=True)
    points: int = Field(sa_type=sa.BigInteger)
    idempotency_key: str = Field(max_length=100)
    at: datetime = _ts()


class ScenarioCorrection(SQLModel, table=True):
    """Ordos art. 11: reductions from data an evaluation found anomalous, reversed per user (the users'
    reversals in `path`), the units cancelled from the holding account by `ledger_entry_id`. One per
    (allocation, evaluation): repeating it answers the first."""

    __tablename__ = "scenario_corrections"
    __table_args__ = (sa.UniqueConstraint("allocation_id", "evaluation_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    allocation_id: int = Field(foreign_key="scenario_allocations.id")
    evaluation_id: int = Field(foreign_key="evaluations.id")
    period: str = Field(max_length=10)
    users: int
    reversed_g: int = Field(sa_type=sa.BigInteger)
    cancelled_t: int
    carried_g: int = Field(sa_type=sa.BigInteger)  # moved to the users' carry by the re-allocation
    old_root: str = Field(max_length=64)
    new_root: str = Field(max_length=64)
    path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    ledger_entry_id: int | None = None
    reason: str = ""
    actor_id: int | None = None
    at: datetime = _ts()


class Disqualification(SQLModel, table=True):
    """Jiaxing art. 26: 逾期未改正的取消参与碳普惠市场的资格 — an organisation barred from one jurisdiction's
    scheme (new cases, transfers, retirements on its own behalf), with the reason, the date and the case
    that decided it. The article sets no end date, so the record has none (states/disqualification.py)."""

    __tablename__ = "disqualifications"
    __table_args__ = (sa.UniqueConstraint("org_id", "jurisdiction"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    jurisdiction: str = Field(foreign_key="jurisdictions.code", max_length=8)
    reason: str  # the decision's reasons as the approver gave them
    basis: str = Field(max_length=100)  # the seed article, e.g. 嘉兴办法第二十六条
    case_id: int = Field(foreign_key="cases.id")  # the rectification that revoked and disqualified
    project_id: int = Field(foreign_key="projects.id")
    decided_on: date
    at: datetime = _ts()


class BlockClaim(SQLModel, table=True):
    """Ordos art. 17, Shanghai art. 14: an issued block and the owner's declaration, given at issuance,
    that its reductions are not claimed in another voluntary scheme; and, once an operator finds them
    claimed elsewhere, the finding (scheme, evidence), the freeze entry in the journal and the
    rectification it opened. One row per issue entry."""

    __tablename__ = "block_claims"
    id: int | None = Field(default=None, primary_key=True)
    issue_entry_id: int = Field(foreign_key="ledger_entries.id", unique=True)
    jurisdiction: str = Field(max_length=8, index=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    serial: str = Field(max_length=60, index=True)  # the block as issued
    declaration: dict[str, Any] = _json()  # {not_claimed_elsewhere, by_user, case_id, at}
    claimed_in: str | None = Field(default=None, max_length=40)  # the other scheme, once found
    finding: dict[str, Any] = _json()  # {evidence, found_by, role, found_on}
    freeze_entry_id: int | None = Field(default=None, foreign_key="ledger_entries.id")
    unfreeze_entry_id: int | None = Field(default=None, foreign_key="ledger_entries.id")  # an accepted rectification
    rectification_case_id: int | None = Field(default=None, foreign_key="cases.id")
    found_at: datetime | None = _ts(nullable=True)
