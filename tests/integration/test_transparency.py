"""Tamper evidence against someone with write access to the database (SQLite and PostgreSQL).

Each tampering of the issue is done with raw SQL after the rows were sequenced into the signed log,
and the verification names it: the audit chains alone miss (a)–(c), the old ledger check (totals and
overlaps) missed (d)–(g); the log and the journal replay do not. Then the sequencer itself: rows
committed after a run are picked up, each gets exactly one leaf, and concurrent sequencers leave
neither a duplicate nor a gap.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from services.demo import Driver, application, drive_to
from services.engine import audit
from services.engine.clock import clock
from services.procedures import ledger
from services.store import unit_of_work
from services.store.engine import Database
from services.store.tables import (
    Account,
    AuditEvent,
    Case,
    LedgerEntry,
    LogHead,
    LogLeaf,
    Project,
    SerialBlock,
    User,
)
from services.transparency import keys, log, verify
from tests.conftest import PG

pytestmark = pytest.mark.integration


# --- a small registry, through the same functions the commands call --------------------------------


def _org(session: Any, username: str) -> int:
    return session.exec(select(User.org_id).where(User.username == username)).one()


def _case(session: Any, procedure: str, org: int, project: Project | None, state: str) -> Case:
    now = clock.now()
    case = Case(procedure=procedure, jurisdiction="SH", state=state, subject_kind="project",
                project_id=project.id if project else None, applicant_org_id=org, application={},
                created_at=now, updated_at=now, vintage=2025)
    session.add(case)
    session.flush()
    audit.append_case(session, case, at=now, actor_id=None, actor_role="system", event="created", to_state=state)
    return case


@pytest.fixture
def book(db: Database, driver: Driver, log_key: str) -> dict[str, Any]:
    """A registration case with a real chain; two issuances (each backed by its approve event, as
    services.procedures.issuance.mint leaves it), a transfer of 30 and a retirement of 20; all sequenced."""
    registration = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", registration, "publicity")
    now = clock.now()
    with db.write() as s:
        org, other = _org(s, "sh_applicant"), _org(s, "sh_applicant2")
        project = Project(jurisdiction="SH", kind="project", title="光伏", owner_org_id=org, status="registered",
                          registration_number="SH-2025-P00077", registered_at=now, created_at=now)
        s.add(project)
        s.flush()
        issues = []
        for vintage in (2024, 2025):
            case = _case(s, "issuance", org, project, "issued")
            entry, block = ledger.mint(s, project=project, vintage=vintage, amount=100, owner_org_id=org,
                                       case_id=case.id, actor_id=None, now=now)
            audit.append_case(s, case, at=now, actor_id=None, actor_role="approver", event="approve",
                              from_state="decision", to_state="issued",
                              payload={"ledger_entry_id": entry.id, "serials": [block.serial]})
            issues.append((case.id, entry.id))
        mine = ledger.account_for(s, "SH", org, now).id
        theirs = ledger.account_for(s, "SH", other, now).id
        transfer = ledger.transfer(s, jurisdiction="SH", from_account=mine, to_account=theirs, amount=30,
                                   project_id=project.id, vintage=2025, reference="EX-1", actor_id=None, now=now)
        audit.append(s, stream="system", at=now, actor_id=None, actor_role="operator", event="ledger_transfer",
                     payload={"entry_id": transfer.id})
        retirement = _case(s, "retirement", org, None, "retired")
        retire = ledger.retire(s, jurisdiction="SH", account_id=mine, amount=20, project_id=project.id,
                               vintage=2024, case_id=retirement.id, actor_id=None, now=now)
        unit_of_work.of(s).flush()
    first = log.sequence(db)
    assert first.signed and first.appended > 10
    return {"registration": registration, "issues": issues, "transfer": transfer.id, "retire": retire.id,
            "mine": mine, "theirs": theirs, "project": project.id}


@contextmanager
def raw(db: Database) -> Iterator[sa.Connection]:
    """A connection as an intruder has it: foreign keys not enforced, plain SQL, committed at the end."""
    with db.writer.connect() as conn:
        if db.is_sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if not db.is_sqlite:
                    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                yield conn
        finally:
            if db.is_sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def sql(conn: sa.Connection, text: str, **params: Any) -> Any:
    return conn.execute(sa.text(text), params)


def checks(db: Database) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(audit chains, transparency log, ledger) as the admin routes compute them."""
    with db.read() as s:
        return audit.verify(s), verify.verify(s), ledger.verify(s)


def leaf_of(db: Database, table: str, row_id: int) -> int:
    with db.read() as s:
        return s.execute(sa.text(f"SELECT log_seq FROM {table} WHERE id = :i"), {"i": row_id}).scalar_one()


def test_an_untouched_log_and_ledger_verify(db: Database, book: dict[str, Any]) -> None:
    chains, trail, books = checks(db)
    assert chains["ok"] and trail["ok"] and books["ok"], (chains, trail, books)
    assert trail["leaves"] == trail["tree_size"] and trail["pending"] == {"audit_events": 0, "ledger_entries": 0}
    assert trail["witness"]["tree_size"] == trail["tree_size"]
    with db.read() as s:
        rows = s.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() + s.execute(
            sa.text("SELECT count(*) FROM ledger_entries")).scalar_one()
    assert trail["leaves"] == rows


def _events(db: Database, case_id: int) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)))


def test_a_deleting_the_last_event_and_rewinding_the_head(db: Database, book: dict[str, Any]) -> None:
    events = _events(db, book["registration"])
    last = events[-1]
    with raw(db) as c:
        sql(c, "DELETE FROM audit_events WHERE id = :i", i=last.id)
        sql(c, "UPDATE cases SET audit_seq = :s, audit_hash = :h WHERE id = :c", s=last.seq - 1, h=last.prev_hash,
            c=book["registration"])
    chains, trail, _ = checks(db)
    assert chains["ok"]  # the chain alone cannot tell: its head was rewound with it
    assert not trail["ok"]
    assert trail["first_problem"] == f"leaf {last.log_seq} (audit event {last.id}): the row is gone"


def test_b_deleting_a_whole_case_chain(db: Database, book: dict[str, Any]) -> None:
    events = _events(db, book["registration"])
    with raw(db) as c:
        sql(c, "DELETE FROM audit_events WHERE case_id = :c", c=book["registration"])
        sql(c, "UPDATE cases SET audit_seq = 0, audit_hash = :g WHERE id = :c", g=audit.GENESIS,
            c=book["registration"])
    chains, trail, _ = checks(db)
    assert chains["ok"]
    first = min(events, key=lambda e: e.log_seq)
    assert trail["first_problem"] == f"leaf {first.log_seq} (audit event {first.id}): the row is gone"
    assert len(trail["problems"]) == len(events)


def test_c_rewriting_a_payload_and_recomputing_the_chain(db: Database, book: dict[str, Any]) -> None:
    events = _events(db, book["registration"])
    victim = events[1]
    prev = victim.prev_hash
    with raw(db) as c:
        for e in events[1:]:
            if e.id == victim.id:
                e.payload = {**e.payload, "form": {"comments": "改写的意见"}}
            e.prev_hash = prev
            e.hash = audit._digest(prev, audit._fields(e))
            prev = e.hash
            sql(c, "UPDATE audit_events SET payload = :p, prev_hash = :ph, hash = :h WHERE id = :i",
                p=json.dumps(e.payload, ensure_ascii=False),
                ph=e.prev_hash, h=e.hash, i=e.id)
        sql(c, "UPDATE cases SET audit_hash = :h WHERE id = :c", h=prev, c=book["registration"])
    chains, trail, _ = checks(db)
    assert chains["ok"], chains  # a consistent, rewritten chain
    assert trail["first_problem"] == (f"leaf {victim.log_seq} (audit event {victim.id}, stream case:"
                                      f"{book['registration']} seq {victim.seq}): the content differs from what "
                                      "the log holds")


def test_d_editing_a_transfer_amount(db: Database, book: dict[str, Any]) -> None:
    with raw(db) as c:
        sql(c, "UPDATE ledger_entries SET amount = 150 WHERE id = :i", i=book["transfer"])
    _, trail, books = checks(db)
    assert books["first_problem"] == f"ledger entry #{book['transfer']} (transfer): amount 150 but its serials hold 30"
    seq = leaf_of(db, "ledger_entries", book["transfer"])
    assert trail["first_problem"] == (f"leaf {seq} (ledger entry {book['transfer']}, transfer): the content "
                                      "differs from what the log holds")


def _open_block(db: Database, account: int) -> SerialBlock:
    with db.read() as s:
        return s.exec(select(SerialBlock).where(col(SerialBlock.account_id) == account,
                                                col(SerialBlock.closed_by).is_(None),
                                                col(SerialBlock.retired).is_(False))
                      .order_by(col(SerialBlock.id))).first()


def test_e_moving_a_block_to_another_account(db: Database, book: dict[str, Any]) -> None:
    block = _open_block(db, book["theirs"])  # the 30 units transferred
    with raw(db) as c:
        sql(c, "UPDATE serial_blocks SET account_id = :a WHERE id = :i", a=book["mine"], i=block.id)
    _, trail, books = checks(db)
    assert trail["ok"]  # blocks are derived state: the journal is what the log covers
    assert books["first_problem"] == (f"serial_blocks #{block.id} ({block.serial}) is in account {book['mine']}; "
                                      f"the journal puts it in account {book['theirs']}")


def test_f_forging_an_issue_entry_with_a_matching_block(db: Database, book: dict[str, Any]) -> None:
    case_id = book["issues"][0][0]
    with raw(db) as c:
        entry = sql(c, "INSERT INTO ledger_entries (kind, jurisdiction, amount, to_account_id, case_id, serials, at) "
                       "VALUES ('issue', 'SH', 50, :a, :c, :s, :at) RETURNING id", a=book["mine"], c=case_id,
                    s='["SH-2024-P00077-000101-000150"]', at=clock.now() if PG else
                    clock.now().replace(tzinfo=None)).scalar_one()
        sql(c, 'INSERT INTO serial_blocks (jurisdiction, project_id, project_code, vintage, "start", "end", '
               "account_id, retired, opened_by) VALUES ('SH', :p, 'P00077', 2024, 101, 150, :a, :f, :e)",
            p=book["project"], a=book["mine"], f=False, e=entry)
    _, _, books = checks(db)
    # the totals balance (issued 250 = open 250) and nothing overlaps: only the backing check sees it
    assert books["issued"] == 250 and books["held"] + books["retired_in_blocks"] == 250
    assert books["problems"] == [f"ledger entry #{entry} (issue) is not backed by an issuing (approve) event of "
                                 f"case {case_id}"]


def test_g_erasing_a_transfer(db: Database, book: dict[str, Any]) -> None:
    seq = leaf_of(db, "ledger_entries", book["transfer"])
    with db.read() as s:
        opened = s.exec(select(SerialBlock.id).where(SerialBlock.opened_by == book["transfer"])
                        .order_by(SerialBlock.id)).first()
    with raw(db) as c:
        sql(c, "DELETE FROM ledger_entries WHERE id = :i", i=book["transfer"])
    _, trail, books = checks(db)
    assert books["first_problem"].startswith(f"serial block #{opened} (")
    assert books["first_problem"].endswith(f"opened by entry #{book['transfer']}, which does not exist")
    assert trail["first_problem"] == f"leaf {seq} (ledger entry {book['transfer']}): the row is gone"


def test_g_erasing_a_transfer_with_its_blocks(db: Database, book: dict[str, Any]) -> None:
    """Undone cleanly — the pieces deleted, the source block reopened — the ledger is consistent
    again; only the log still remembers the entry."""
    seq = leaf_of(db, "ledger_entries", book["transfer"])
    with raw(db) as c:
        sql(c, "DELETE FROM serial_blocks WHERE opened_by = :i", i=book["transfer"])
        sql(c, "UPDATE serial_blocks SET closed_by = NULL WHERE closed_by = :i", i=book["transfer"])
        sql(c, "DELETE FROM ledger_entries WHERE id = :i", i=book["transfer"])
    _, trail, books = checks(db)
    assert books["ok"], books
    assert trail["first_problem"] == f"leaf {seq} (ledger entry {book['transfer']}): the row is gone"


def _more_rows(db: Database, n: int) -> None:
    for i in range(n):
        with db.write() as s:
            audit.append(s, stream="system", at=clock.now(), actor_id=None, actor_role="admin", event="test",
                         payload={"i": i})


def test_h_truncating_the_log_is_caught_by_the_witness(db: Database, book: dict[str, Any]) -> None:
    kept = log.sequence(db).size
    _more_rows(db, 3)
    newest = log.sequence(db).size
    assert newest == kept + 3
    with raw(db) as c:
        sql(c, "DELETE FROM log_leaves WHERE seq >= :k", k=kept)
        sql(c, "DELETE FROM log_heads WHERE size > :k", k=kept)
        sql(c, "UPDATE log_state SET size = :k", k=kept)
        sql(c, "UPDATE audit_events SET log_seq = NULL WHERE log_seq >= :k", k=kept)
    _, trail, _ = checks(db)
    assert trail["first_problem"] == (f"the newest head the signer witnessed (size {newest}) is missing from the "
                                      f"database: the log was truncated (its newest head has size {kept})")
    # and the signer will not sign the shortened log, which would hide the cut
    with pytest.raises(log.LogError, match="truncated"):
        log.sequence(db)


def test_h_a_rewritten_log_is_not_signed_again(db: Database, book: dict[str, Any]) -> None:
    """Leaf 0 replaced and every subtree above it rebuilt, as a rewrite of history must: the signed
    heads no longer match, and the signer refuses to sign the rewritten tree."""
    from services.transparency import merkle

    with db.read() as s:
        hashes = [bytes.fromhex(h) for h in s.exec(select(LogLeaf.leaf_hash).order_by(LogLeaf.seq))]
        size = log.latest(s).size
    hashes[0] = merkle.leaf_hash(b"another history")
    with raw(db) as c:
        sql(c, "UPDATE log_leaves SET leaf_hash = :h WHERE seq = 0", h=hashes[0].hex())
        sql(c, "DELETE FROM log_nodes")
        c.execute(sa.text("INSERT INTO log_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
                  [{"l": lv, "i": ix, "h": h.hex()} for (lv, ix), h in merkle.all_levels(hashes).items() if lv])
    _, trail, _ = checks(db)
    assert trail["first_problem"].startswith("leaf 0 (audit event ")
    assert f"head {size}: root does not match the log's first {size} leaves" in trail["problems"]
    with pytest.raises(log.LogError, match="rewritten"):
        log.sequence(db)


def test_i_a_head_signed_by_another_key_is_refused(db: Database, book: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.transparency import checkpoint

    with db.read() as s:
        head = log.latest(s)
    parsed, _, _ = checkpoint.parse(head.signature)
    forged = checkpoint.sign(parsed, keys.origin(), Ed25519PrivateKey.generate())
    with raw(db) as c:
        sql(c, "UPDATE log_heads SET signature = :t WHERE size = :s", t=forged, s=head.size)
    _, trail, _ = checks(db)
    assert trail["first_problem"] == f"head {head.size}: no signature by a key of this log"


def test_a_rotated_key_still_verifies_the_heads_it_signed(db: Database, book: dict[str, Any]) -> None:
    old = keys.keyring().current[0]
    created, _ = keys.keygen(rotate=True)
    assert created and keys.keyring().current[0] != old
    _more_rows(db, 2)
    result = log.sequence(db)
    assert result.signed
    with db.read() as s:
        assert {h.key_id for h in s.exec(select(LogHead))} == {old.hex(), keys.keyring().current[0].hex()}
    assert checks(db)[1]["ok"]


# --- the sequencer --------------------------------------------------------------------------------


def test_j_rows_committed_later_are_picked_up_once(db: Database, book: dict[str, Any]) -> None:
    size = log.sequence(db).size
    assert log.sequence(db).appended == 0  # nothing new: no new head either
    _more_rows(db, 4)
    with db.read() as s:
        pending = verify.verify(s)
    assert pending["ok"] and pending["pending"]["audit_events"] == 4  # the residual window, named
    assert log.sequence(db, limit=3).appended == 3
    assert log.sequence(db, limit=3).appended == 1
    with db.read() as s:
        assert s.exec(select(sa.func.count()).select_from(LogLeaf)).one() == size + 4
        assert s.exec(select(sa.func.count()).select_from(LogHead)).one() == 3
    assert checks(db)[1]["ok"]


def test_j_concurrent_sequencers_leave_no_duplicate_and_no_gap(db: Database, log_key: str) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def sequencer() -> None:
        try:
            while not stop.is_set():
                log.sequence(db, limit=7)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sequencer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        _more_rows(db, 60)  # committed while both sequencers run
        with db.write() as s:
            account = ledger.account_for(s, "SH", _org(s, "sh_applicant"), clock.now())
            s.add(LedgerEntry(kind="debt", jurisdiction="SH", amount=1, from_account_id=account.id, at=clock.now()))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    log.sequence(db)
    with db.read() as s:
        leaves = list(s.exec(select(LogLeaf).order_by(LogLeaf.seq)))
        audit_rows = dict(s.execute(sa.select(AuditEvent.id, AuditEvent.log_seq)).all())
        ledger_rows = dict(s.execute(sa.select(LedgerEntry.id, LedgerEntry.log_seq)).all())
        assert s.exec(select(Account)).first() is not None
    assert [x.seq for x in leaves] == list(range(len(leaves)))
    refs = [(x.kind, x.ref_id) for x in leaves]
    assert len(refs) == len(set(refs)) == len(audit_rows) + len(ledger_rows)
    assert all(audit_rows[ref] == seq for (kind, ref), seq in zip(refs, range(len(refs)), strict=True)
               if kind == "audit")
    assert all(ledger_rows[ref] == seq for (kind, ref), seq in zip(refs, range(len(refs)), strict=True)
               if kind == "ledger")
    assert checks(db)[1]["ok"]


def test_no_key_no_signature(db: Database) -> None:
    with pytest.raises(log.LogError, match="no signing key"):
        log.sequence(db)


def test_heads_cannot_pass_unchecked_where_no_public_key_is_configured(db: Database, book: dict[str, Any]) -> None:
    with db.read() as s:
        result = verify.verify_log(s, keys.Keyring(name=keys.origin(), signer=None), None)
    assert not result["ok"] and result["first_problem"].startswith("no public key is configured")
