"""A seeded data set at scale: N cases spread over the procedures, jurisdictions and states, with their
tasks, timers, publicity notices, audit chains and ledger blocks, bulk-inserted (COPY on PostgreSQL,
executemany on SQLite).

    python bench/generate.py --cases 100000 [--db postgres|sqlite] [--seed 7] [--timers-open N]
                             [--timers-due N] [--schema bench_gen] [--keep]

    from bench.generate import generate
    stats = generate(db, 1_000_000, seed=7, timers_open=1_000_000, timers_due=1_000)

Everything about states, tasks and timers comes from the procedure declarations
(`states.machine.procedure(name, jurisdiction)`): a case's history is the shortest path of arrows from
the initial state to the state drawn for it, so its audit chain, its completed tasks (one set per
state it passed through, closed by the arrow that left it) and its open tasks and pending timers (those
of its current state: the state's `TimerSpec`s and the timers its `on_enter` effects arm, those that
declare `arms_timers`) are the ones the engine would have written. Audit chains are hashed
with `services.engine.audit`'s own digest, so `audit.verify` passes.

Proportions (assumed from the shape of a scheme a few years in, not measured anywhere):

* procedures: registration 40 %, issuance 35 %, retirement 12 %, report 5 %, methodology filing 3 %,
  rectification 3 %, revenue audit 2 % (Beijing only; weights renormalised where a procedure does not
  exist, e.g. no registration in Jiaxing);
* jurisdictions: Shanghai 35 %, Beijing 25 %, Shandong 20 %, Jiaxing 12 %, Ordos 8 %;
* 85 % of cases are closed, in a terminal state: 80 % of those in the procedure's outcome state (the
  terminal state whose entry has effects, e.g. registered, issued, retired; else the last declared),
  the rest spread over the other endings; 15 % are open, spread evenly over the reachable non-terminal
  states (draft included);
* closed cases are 0–2 years old, open ones 0–120 days; an open task is due its SLA's working days
  after it opened (x 7/5 calendar days), so about a third of open tasks are overdue; 40 % of open staff
  tasks are claimed by a holder of the role; applicant tasks are addressed to the applicant's firm;
* every issued issuance case mints one serial block (1,000–50,000 t) on its project; every retired
  retirement case retires part of a block issued in the same jurisdiction (the block is closed and
  split into a retired piece and a held one), so `services.procedures.ledger.verify` passes.

`timers_open=K` makes exactly K cases open in states that carry a timer (one timer each) and keeps the
other cases out of such states; `timers_due=D` puts D of the pending timers in the past (the rest fall
due 1–60 days ahead). Deterministic: the same seed, N and `now` give the same rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa
from sqlmodel import col

PROCEDURE_WEIGHTS = {"project_registration": 40, "issuance": 35, "retirement": 12, "report": 5,
                     "methodology_filing": 3, "rectification": 3, "revenue_audit": 2}
JURISDICTION_WEIGHTS = {"SH": 35, "BJ": 25, "SD": 20, "JX": 12, "ORD": 8}
OPEN_SHARE = 0.15
OUTCOME_SHARE = 0.8
CLAIMED_SHARE = 0.4
STAFF = ("case_officer", "review_centre", "operator", "approver")
CHUNK = 20_000  # cases per flush (one COPY per table per chunk)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# procedures whose cases are about an existing project (the rest open their own subject, or none)
ON_PROJECT = {"issuance", "rectification", "revenue_audit", "report"}


# --- what the declarations allow ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    trigger: str
    source: str
    dest: str
    role: str
    effects: tuple[str, ...] = ()


@dataclass
class Shape:
    """A procedure in a jurisdiction, as the generator needs it."""

    procedure: str
    jurisdiction: str
    spec: Any
    profile: Any
    paths: dict[str, list[Step]]  # reachable state -> shortest path of arrows from the initial state
    open_states: list[str]
    closed_states: list[str]
    closed_weights: list[float]  # cumulative
    timer_states: list[str]  # open states that carry at least one timer


# on_enter effects whose rows a case in that state has: its notice (and the notice's end timer), its units
NOTICE_TIMERS = {"publicity": "publicity_end", "consultation": "comment_period_end"}
LEDGER_EFFECTS = {"Mint": "issued", "RetireUnits": "retired"}


def _notice(effect: Any) -> str | None:
    """The kind of notice an entry effect publishes (states.effects.PublishNotice), if it publishes one."""
    if effect.arms_timers and type(effect).__name__ != "PublishNotice":
        raise RuntimeError(f"an effect arms timers the generator does not know: {type(effect).__name__}")
    return effect.kind if type(effect).__name__ == "PublishNotice" else None


def state_timers(state: Any, profile: Any) -> list[tuple[str, str, int | None]]:
    """(kind, trigger, working days) of the timers entering `state` arms: its declared ones (their
    working days where counted in working days) and a published notice's end."""
    out = [(t.kind, t.trigger, _sla(profile, getattr(t.due, "sla", None))) for t in state.timers]
    out += [(NOTICE_TIMERS[kind], e.end_trigger, None) for e in state.on_enter if (kind := _notice(e))]
    return out


def _sla(profile: Any, name: str | None) -> int | None:
    if not name:
        return None
    try:
        return profile.sla_days(name)
    except (KeyError, AttributeError):
        return None


def _paths(spec: Any) -> dict[str, list[Step]]:
    """Shortest paths from the initial state, first over unconditional arrows only, then over arrows with
    a `when` (release from hold, publicity_end's two outcomes) for the states still unreached: a case in
    publicity got there through the decision, not by a release from hold."""
    paths: dict[str, list[Step]] = {spec.initial: []}
    order = [spec.initial]
    for conditional in (False, True):
        queue = deque(order)
        while queue:
            source = queue.popleft()
            for t in spec.available(source):
                if t.dest and t.dest not in paths and (conditional or t.when is None):
                    paths[t.dest] = [*paths[source], Step(t.trigger, source, t.dest,
                                                          t.roles[0] if t.roles else "system", t.effects)]
                    queue.append(t.dest)
                    order.append(t.dest)
    return paths


def _outcome(spec: Any, terminals: list[str]) -> str:
    with_effects = [s for s in terminals if spec.state(s).on_enter]
    return (with_effects or terminals)[-1] if len(with_effects) != 1 else with_effects[0]


@cache
def shape(name: str, jurisdiction: str) -> Shape | None:
    from states.machine import ProcedureUnavailable, procedure
    from states.profiles import get_profile

    try:
        spec = procedure(name, jurisdiction)
    except ProcedureUnavailable:
        return None
    profile = get_profile(jurisdiction)
    paths = _paths(spec)
    reachable = [s.name for s in spec.states if s.name in paths]
    terminals = [s for s in reachable if spec.state(s).terminal]
    open_states = [s for s in reachable if not spec.state(s).terminal]
    outcome = _outcome(spec, terminals)
    others = [s for s in terminals if s != outcome]
    weights = [OUTCOME_SHARE if s == outcome else (1 - OUTCOME_SHARE) / max(1, len(others)) for s in terminals]
    timer_states = [s for s in open_states if state_timers(spec.state(s), profile)]
    return Shape(name, jurisdiction, spec, profile, paths, open_states, terminals, list(accumulate(weights)),
                 timer_states)


def shapes() -> list[tuple[Shape, float]]:
    out = []
    for j, jw in JURISDICTION_WEIGHTS.items():
        available = [(shape(p, j), w) for p, w in PROCEDURE_WEIGHTS.items() if shape(p, j) is not None]
        total = sum(w for _, w in available)
        out += [(s, jw * w / total) for s, w in available]
    return out


# --- rows -----------------------------------------------------------------------------------------

TABLES = ("organisations", "projects", "cases", "tasks", "timers", "notices", "audit_events", "accounts",
          "ledger_entries", "serial_blocks")


@dataclass
class Rows:
    """One chunk's rows, table -> list of dicts (column -> value)."""

    by_table: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.by_table[table].append(row)

    def count(self) -> dict[str, int]:
        return {t: len(v) for t, v in self.by_table.items()}


class Ids:
    """Explicit primary keys, continuing after what the tables hold (rows refer to each other before
    any is inserted)."""

    def __init__(self, conn: Any) -> None:
        self.next = {t: (conn.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar() or 0) + 1
                     for t in TABLES}

    def take(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n


def _uscc(i: int) -> str:
    from forms.common import USCC_ALPHABET, uscc_check_char

    body = f"91{310000 + i % 10000:06d}GN{i:07d}"[:17]
    body = "".join(c if c in USCC_ALPHABET else "0" for c in body)
    return body + uscc_check_char(body)


@dataclass
class World:
    """What rows refer to across chunks: firms, role holders, registered projects, accounts."""

    now: datetime
    orgs: list[int]
    holders: dict[tuple[str, str], list[int]]
    verifier_orgs: dict[str, int]
    projects: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # registered, by jurisdiction
    owners: dict[int, tuple[int, str]] = field(default_factory=dict)  # project -> (owner firm, project code)
    accounts: dict[tuple[str, int], int] = field(default_factory=dict)
    serial_end: dict[tuple[int, int], int] = field(default_factory=dict)
    project_count: int = 0


def _digest(prev: str, fields: dict[str, Any]) -> str:
    """services.engine.audit's own link hash (imported late: `--help` works without the app importable)."""
    from services.engine.audit import _digest as digest

    global _digest
    _digest = digest
    return digest(prev, fields)


class Generator:
    def __init__(self, world: World, ids: Ids, rng: random.Random, due_flags: bytearray | None,
                 timer_flags: bytearray | None) -> None:
        self.w, self.ids, self.rng = world, ids, rng
        self.due_flags, self.timer_flags = due_flags, timer_flags
        self.table = shapes()
        self.weights = list(accumulate(w for _, w in self.table))  # cumulative: choices() would redo it a call
        self.timer_table = [(s, w) for s, w in self.table if s.timer_states]
        self.timer_weights = list(accumulate(w for _, w in self.timer_table))
        self.natural_timers = 0  # timers made when timers_open is not given, counted for timers_due

    # --- choosing a case ---

    def pick(self, i: int) -> tuple[Shape, str]:
        rng = self.rng
        if self.timer_flags is not None and self.timer_flags[i]:
            sh = rng.choices(self.timer_table, cum_weights=self.timer_weights)[0][0]
            return sh, rng.choice(sh.timer_states)
        sh = rng.choices(self.table, cum_weights=self.weights)[0][0]
        if rng.random() < OPEN_SHARE:
            state = rng.choice(sh.open_states)
            if self.timer_flags is None or state not in sh.timer_states:
                return sh, state
        return sh, rng.choices(sh.closed_states, cum_weights=sh.closed_weights)[0]

    # --- one case ---

    def case(self, i: int, rows: Rows) -> None:
        rng, now = self.rng, self.w.now
        sh, state = self.pick(i)
        spec, j = sh.spec, sh.jurisdiction
        path = sh.paths[state]
        closed = spec.state(state).terminal
        age = timedelta(days=rng.uniform(1, 730 if closed else 120))
        created = now - age
        # the history fills part of the case's age: closed cases ended a while ago, open ones lately
        span = age * (rng.uniform(0.3, 0.9) if closed else rng.uniform(0.4, 1.0))
        step = span / (len(path) + 1)
        times = [created + step * (k + 1) for k in range(len(path))]
        updated = times[-1] if times else created
        cid = self.ids.take("cases")
        org = rng.choice(self.w.orgs)
        kind = "scenario" if rng.random() < 0.15 else "project"
        project_id, vintage = self._subject(sh, state, path, cid, org, kind, created, rows)
        application: dict[str, Any] = {"title": f"{j} bench case {cid}", "bench": True}
        if sh.procedure == "methodology_filing":  # what filing the version reads (services.procedures.methodologies)
            application.update({"code": f"BENCH-{cid}", "version": "1.0", "kind": kind})
        prev, seq = "0" * 64, 0
        events = [(created, "applicant", "created", None, spec.initial, {"application": dict(application)})]
        if any(s.source == "authority_decision" for s in path) and sh.procedure == "issuance":
            # the decision the approver recorded: what `issued` mints (services.procedures.issuance.mint reads it)
            application["decision"] = {"issued_tco2e": rng.randint(1_000, 50_000)}
        events += [(at, s.role, s.trigger, s.source, s.dest, {}) for s, at in zip(path, times, strict=True)]
        units = next((LEDGER_EFFECTS[type(e).__name__] for e in spec.state(state).on_enter
                      if type(e).__name__ in LEDGER_EFFECTS), None)
        minted = None
        if units == "issued" and project_id in self.w.owners:
            # the entering event names the issue entry and its serials, as services.procedures.issuance.mint makes it
            minted = self._mint(j, project_id, vintage, application, updated, cid, rows)
            events[-1][5].update({"ledger_entry_id": minted[0]["id"], "serials": minted[0]["serials"]})
        for at, role, event, src, dest, payload in events:
            seq += 1
            fields = {"stream": f"case:{cid}", "seq": seq, "case_id": cid, "at": at.isoformat(), "actor_id": None,
                      "actor_role": role, "event": event, "from_state": src, "to_state": dest, "payload": payload}
            digest = _digest(prev, fields)
            rows.add("audit_events", {"id": self.ids.take("audit_events"), "stream": fields["stream"], "seq": seq,
                                      "case_id": cid, "at": at, "actor_id": None, "actor_role": role,
                                      "event": event, "from_state": src, "to_state": dest, "payload": payload,
                                      "prev_hash": prev, "hash": digest})
            prev = digest
        rows.add("cases", {
            "id": cid, "procedure": sh.procedure, "jurisdiction": j, "state": state, "version": len(path) + 1,
            "subject_kind": kind, "project_id": project_id, "applicant_org_id": org, "created_by": None,
            "application": application, "submitted_on": times[0].astimezone(SHANGHAI).date() if times else None,
            "vintage": vintage, "held_from": path[-1].source if path and "remember_hold" in path[-1].effects else None,
            "created_at": created, "updated_at": updated,
            "closed_at": updated if closed else None, "clock_due_on": None, "audit_seq": seq, "audit_hash": prev})
        view = self._view(cid, sh, state, kind, application)
        # tasks of the states passed through, each closed by the arrow that left it; then the current state's
        entered = [created, *times]
        for k, s in enumerate(path):
            self._tasks(sh, s.source, cid, org, view, entered[k], rows, closed_at=times[k], outcome=s.trigger)
        if not closed:
            self._tasks(sh, state, cid, org, view, updated, rows)
            self._timers(sh, state, cid, updated, i, rows)
        if units:
            rows.add("_ledger", {"kind": units, "jurisdiction": j, "case_id": cid, "project_id": project_id,
                                 "minted": minted,
                                 "vintage": vintage, "org": org, "at": updated, "application": application})

    def _view(self, cid: int, sh: Shape, state: str, kind: str, application: dict[str, Any]) -> Any:
        from states.spec import CaseView

        return CaseView(id=cid, procedure=sh.procedure, jurisdiction=sh.jurisdiction, state=state,
                        subject_kind=kind, application=application)

    def _subject(self, sh: Shape, state: str, path: list[Step], cid: int, org: int, kind: str, at: datetime,
                 rows: Rows) -> tuple[int | None, int | None]:
        j = sh.jurisdiction
        vintage = at.year - 1 if sh.procedure in ("issuance", "revenue_audit") else None
        if sh.procedure == "project_registration":
            statuses = [sh.spec.state(s).subject_status for s in [sh.spec.initial, *(p.dest for p in path)]]
            status = next((s for s in reversed(statuses) if s), "draft")
            return self._project(j, org, kind, status, state == "registered", at, rows), vintage
        if sh.procedure in ON_PROJECT:
            pool = self.w.projects[j]
            if pool and self.rng.random() < 0.9:
                return self.rng.choice(pool), vintage
            return self._project(j, org, kind, "registered", True, at, rows), vintage
        return None, vintage

    def _project(self, j: str, org: int, kind: str, status: str, registered: bool, at: datetime,
                 rows: Rows) -> int:
        pid = self.ids.take("projects")
        number = f"{j}-{at.year}-P{pid:07d}" if registered else None
        rows.add("projects", {"id": pid, "jurisdiction": j, "kind": kind, "title": f"{j} 减排项目 {pid}",
                              "owner_org_id": org, "methodology_version_id": None, "project_class": None,
                              "status": status, "suspended": False, "registration_number": number,
                              "registered_at": at if registered else None, "created_at": at})
        if registered:
            self.w.projects[j].append(pid)
            self.w.owners[pid] = (org, number.split("-")[-1])
        self.w.project_count += 1
        return pid

    def _tasks(self, sh: Shape, state: str, cid: int, org: int, view: Any, opened: datetime, rows: Rows, *,
               closed_at: datetime | None = None, outcome: str | None = None) -> None:
        rng = self.rng
        for t in sh.spec.state(state).tasks:
            if t.when is not None and not t.when(view, sh.profile):
                continue
            sla = _sla(sh.profile, t.sla)
            due = opened + timedelta(days=sla * 7 / 5) if sla else None
            assignee = None
            if closed_at is None and t.role in STAFF and rng.random() < CLAIMED_SHARE:
                holders = self.w.holders.get((t.role, sh.jurisdiction))
                assignee = rng.choice(holders) if holders else None
            candidate_org = org if t.role == "applicant" else (
                self.w.verifier_orgs.get(sh.jurisdiction) if t.role == "verifier" else None)
            rows.add("tasks", {
                "id": self.ids.take("tasks"), "case_id": cid, "procedure": sh.procedure,
                "jurisdiction": sh.jurisdiction, "kind": t.kind, "role": t.role, "state": state,
                "triggers": list(t.triggers), "join": t.joint is not None, "candidate_user_id": None,
                "candidate_org_id": candidate_org, "assignee_id": assignee,
                "status": "completed" if closed_at else "open", "opened_at": opened,
                "opened_on": opened.astimezone(SHANGHAI).date(), "sla_days": sla,
                "due_on": due.astimezone(SHANGHAI).date() if due else None, "due_at": due,
                "due_provisional": False, "closed_at": closed_at, "closed_by": None, "outcome": outcome})

    def _timers(self, sh: Shape, state: str, cid: int, entered: datetime, i: int, rows: Rows) -> None:
        rng, now = self.rng, self.w.now
        spec_state = sh.spec.state(state)
        for kind, trigger, days in state_timers(spec_state, sh.profile):
            if self.due_flags is not None:
                due = bool(self.due_flags[i]) if self.timer_flags is not None else self._natural_due()
            else:
                due = False
            fire_at = (now - timedelta(seconds=rng.uniform(1, 86_400)) if due
                       else now + timedelta(seconds=rng.uniform(86_400, 60 * 86_400)))
            rows.add("timers", {
                "id": self.ids.take("timers"), "case_id": cid, "jurisdiction": sh.jurisdiction, "kind": kind,
                "trigger": trigger, "state": state, "fire_at": fire_at,
                "base_on": entered.astimezone(SHANGHAI).date(), "days": days, "provisional": False,
                "status": "pending", "fired_at": None})
        for effect in spec_state.on_enter:
            kind = _notice(effect)
            if kind:
                first = entered.astimezone(SHANGHAI).date() + timedelta(days=1)
                rows.add("notices", {
                    "id": self.ids.take("notices"), "case_id": cid, "kind": kind,
                    "jurisdiction": sh.jurisdiction, "title": f"{sh.jurisdiction} 公示 {cid}",
                    "published_on": first - timedelta(days=1), "first_day": first,
                    "last_day": first + timedelta(days=7), "closes_at": now + timedelta(days=7),
                    "provisional": False, "status": "open"})

    def _natural_due(self) -> bool:
        self.natural_timers += 1
        return self.natural_timers <= len(self.due_flags or b"")  # the first D natural timers are due

    # --- the ledger, per chunk ---

    def ledger(self, rows: Rows) -> None:
        """Issued cases mint a block each; retired cases then retire part of a block of the same chunk
        and jurisdiction (blocks are still unwritten, so closing one is an edit in memory)."""
        rng = self.rng
        pending = rows.by_table.pop("_ledger", [])
        live: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in (x for x in pending if x["kind"] == "issued" and x["minted"]):
            live[item["jurisdiction"]].append(item["minted"][1])
        for item in (x for x in pending if x["kind"] == "retired"):
            j = item["jurisdiction"]
            if not live[j]:
                continue  # no units issued in this chunk's jurisdiction: the case stands without a ledger row
            block = live[j].pop(rng.randrange(len(live[j])))
            size = block["end"] - block["start"] + 1
            amount = rng.randint(1, max(1, size // 2))
            entry = self._entry(rows, "retire", j, amount, block["account_id"], None, item["case_id"], item["at"])
            block["closed_by"] = entry["id"]
            # what the retirement case asked for (services.procedures.issuance.retire_units reads it)
            item["application"].update({"holder_org_id": self.w.owners[block["project_id"]][0], "amount_tco2e": amount,
                                        "project_id": block["project_id"], "vintage": block["vintage"]})
            cut = block["start"] + amount - 1
            retired = self._block(rows, j, block["project_id"], block["project_code"], block["vintage"],
                                  block["start"], cut, block["account_id"], True, entry)
            entry["serials"] = [_serial(retired)]
            if cut < block["end"]:
                live[j].append(self._block(rows, j, block["project_id"], block["project_code"], block["vintage"],
                                           cut + 1, block["end"], block["account_id"], False, entry))

    def _mint(self, j: str, pid: int, vintage: int, application: dict[str, Any], at: datetime, case_id: int,
              rows: Rows) -> tuple[dict[str, Any], dict[str, Any]]:
        """The issue entry and block an issued case minted (its event names them, so they come first)."""
        owner, code = self.w.owners[pid]
        account = self._account(j, owner, at, rows)
        amount = application.get("decision", {}).get("issued_tco2e") or self.rng.randint(1_000, 50_000)
        start = self.w.serial_end.get((pid, vintage), 0) + 1
        self.w.serial_end[(pid, vintage)] = start + amount - 1
        entry = self._entry(rows, "issue", j, amount, None, account, case_id, at)
        block = self._block(rows, j, pid, code, vintage, start, start + amount - 1, account, False, entry)
        entry["serials"] = [_serial(block)]
        return entry, block

    def _account(self, j: str, org: int, at: datetime, rows: Rows) -> int:
        key = (j, org)
        if key not in self.w.accounts:
            self.w.accounts[key] = self.ids.take("accounts")
            rows.add("accounts", {"id": self.w.accounts[key], "jurisdiction": j, "org_id": org, "opened_at": at})
        return self.w.accounts[key]

    def _entry(self, rows: Rows, kind: str, j: str, amount: int, src: int | None, dst: int | None, case_id: int,
               at: datetime) -> dict[str, Any]:
        entry = {"id": self.ids.take("ledger_entries"), "kind": kind, "jurisdiction": j, "amount": amount,
                 "from_account_id": src, "to_account_id": dst, "case_id": case_id, "actor_id": None,
                 "reference": None, "serials": [], "at": at}
        rows.add("ledger_entries", entry)
        return entry

    def _block(self, rows: Rows, j: str, pid: int, code: str, vintage: int, start: int, end: int, account: int,
               retired: bool, entry: dict[str, Any]) -> dict[str, Any]:
        block = {"id": self.ids.take("serial_blocks"), "jurisdiction": j, "project_id": pid, "project_code": code,
                 "vintage": vintage, "start": start, "end": end, "account_id": account, "retired": retired,
                 "opened_by": entry["id"], "closed_by": None}
        rows.add("serial_blocks", block)
        return block


def _serial(b: dict[str, Any]) -> str:
    return f"{b['jurisdiction']}-{b['vintage']}-{b['project_code']}-{b['start']:06d}-{b['end']:06d}"


# --- writing --------------------------------------------------------------------------------------


def _metadata_tables() -> dict[str, sa.Table]:
    from sqlmodel import SQLModel

    import services.store.tables  # noqa: F401 - registers the tables

    return {t: SQLModel.metadata.tables[t] for t in TABLES}


def _copy_value(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def write_rows(conn: sa.Connection, rows: Rows, pg: bool) -> None:
    """Insert one chunk in foreign-key order: COPY on PostgreSQL, executemany on SQLite."""
    tables = _metadata_tables()
    for name in TABLES:
        batch = rows.by_table.get(name)
        if not batch:
            continue
        table = tables[name]
        if pg:
            cols = [c.name for c in table.columns]
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    f"COPY {name} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row([_copy_value(row.get(c)) for c in cols])
        else:
            conn.execute(table.insert(), batch)


def _reset_sequences(conn: sa.Connection) -> None:
    for name in TABLES:
        conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                             f"(SELECT coalesce(max(id), 1) FROM {name}))"))


def _world(conn: sa.Connection, now: datetime, n_orgs: int, ids: Ids) -> tuple[World, Rows]:
    from services.store.tables import RoleGrant, User, Verifier

    rows = Rows()
    orgs = []
    for _ in range(n_orgs):
        oid = ids.take("organisations")
        rows.add("organisations", {"id": oid, "uscc": _uscc(oid), "name": f"碳普惠参与企业 {oid}", "created_at": now,
                                   "disqualified_at": None})
        orgs.append(oid)
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    grants = (sa.select(RoleGrant.role, RoleGrant.jurisdiction, RoleGrant.user_id)
              .join(User, col(User.id) == col(RoleGrant.user_id)).where(col(User.active).is_(True))
              .order_by(col(RoleGrant.user_id)))
    for role, j, uid in conn.execute(grants):
        holders[(role, j)].append(uid)
    verifiers = dict(conn.execute(sa.select(Verifier.jurisdiction, Verifier.org_id).order_by(Verifier.id)).all())
    return World(now=now, orgs=orgs, holders=dict(holders), verifier_orgs=verifiers), rows


def _flags(n: int, k: int, rng: random.Random, within: list[int] | None = None) -> bytearray:
    flags = bytearray(n)
    for i in rng.sample(within if within is not None else range(n), k):
        flags[i] = 1
    return flags


def generate(db: Any, n_cases: int, seed: int = 7, *, timers_open: int | None = None, timers_due: int = 0,
             now: datetime | None = None, progress: bool = False) -> dict[str, Any]:
    """Insert `n_cases` cases with everything that hangs off them into `db` (a migrated
    `services.store.engine.Database`, people already seeded). Returns row counts and timings."""
    if timers_open is not None and not 0 <= timers_open <= n_cases:
        raise ValueError(f"timers_open must be between 0 and n_cases ({n_cases}), not {timers_open}")
    if timers_due < 0 or (timers_open is not None and timers_due > timers_open):
        raise ValueError("timers_due must be between 0 and timers_open")
    from services.engine.clock import clock

    now = (now or clock.now()).astimezone(UTC)
    rng = random.Random(seed)
    timer_flags = due_flags = None
    if timers_open is not None:
        timer_flags = _flags(n_cases, timers_open, rng)
        due_flags = _flags(n_cases, timers_due, rng, [i for i in range(n_cases) if timer_flags[i]])
    elif timers_due:
        due_flags = bytearray(timers_due)  # only its length counts: the first D natural timers are due
    pg = not db.is_sqlite
    t0 = time.perf_counter()
    counts: dict[str, int] = defaultdict(int)
    with db.writer.begin() as conn:
        ids = Ids(conn)
        world, first = _world(conn, now, max(20, min(40_000, n_cases // 25)), ids)
        write_rows(conn, first, pg)
        for k, v in first.count().items():
            counts[k] += v
    gen = Generator(world, ids, rng, due_flags, timer_flags)
    build_s = write_s = 0.0
    for lo in range(0, n_cases, CHUNK):
        t1 = time.perf_counter()
        rows = Rows()
        for i in range(lo, min(n_cases, lo + CHUNK)):
            gen.case(i, rows)
        gen.ledger(rows)
        t2 = time.perf_counter()
        with db.writer.begin() as conn:
            if pg:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            write_rows(conn, rows, pg)
        t3 = time.perf_counter()
        build_s, write_s = build_s + t2 - t1, write_s + t3 - t2
        for k, v in rows.count().items():
            counts[k] += v
        if progress:
            done = min(n_cases, lo + CHUNK)
            print(f"  generated {done:,}/{n_cases:,} cases ({time.perf_counter() - t0:.0f}s, "
                  f"{done / (time.perf_counter() - t0):,.0f} cases/s)", flush=True)
    t4 = time.perf_counter()
    with db.writer.begin() as conn:
        if pg:
            _reset_sequences(conn)
    _analyze(db, pg)
    analyze_s = time.perf_counter() - t4
    total = time.perf_counter() - t0
    return {"cases": n_cases, "seed": seed, "rows": dict(counts), "seconds": total, "build_s": build_s,
            "write_s": write_s, "analyze_s": analyze_s, "cases_per_s": n_cases / total if total else 0.0,
            "rows_per_s": sum(counts.values()) / total if total else 0.0, "now": now.isoformat()}


def _analyze(db: Any, pg: bool) -> None:
    with db.writer.connect() as conn:
        if pg:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for name in TABLES:
                conn.exec_driver_sql(f"VACUUM ANALYZE {name}")
        else:
            with conn.begin():
                conn.exec_driver_sql("ANALYZE")


def fingerprint(db: Any) -> str:
    """SHA-256 over the generated cases' states and audit heads, to compare two runs."""
    h = hashlib.sha256()
    with db.reader.connect() as conn:
        for row in conn.execute(sa.text("SELECT id, procedure, jurisdiction, state, audit_hash FROM cases "
                                        "ORDER BY id")):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def summary(db: Any) -> Iterator[str]:
    """Lines describing the data set: cases by procedure and openness, open tasks, pending timers."""
    with db.reader.connect() as conn:
        for proc, n, open_ in conn.execute(sa.text(
                "SELECT procedure, count(*), sum(CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END) FROM cases "
                "GROUP BY procedure ORDER BY count(*) DESC")):
            yield f"{proc}: {n:,} cases, {open_:,} open"
        tasks = conn.execute(sa.text("SELECT count(*) FROM tasks WHERE status = 'open'")).scalar()
        timers = conn.execute(sa.text("SELECT count(*) FROM timers WHERE status = 'pending'")).scalar()
        yield f"open tasks {tasks:,}, pending timers {timers:,}"


def main(argv: list[str] | None = None) -> int:
    from bench.common import fresh_database

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--timers-open", type=int, default=None)
    p.add_argument("--timers-due", type=int, default=0)
    p.add_argument("--schema", default="bench_gen", help="PostgreSQL schema (dropped at the end unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the schema / SQLite file")
    args = p.parse_args(argv)
    fresh = fresh_database(args.db, prefix="bench-gen-", schema=args.schema)
    try:
        stats = generate(fresh.db, args.cases, args.seed, timers_open=args.timers_open,
                         timers_due=args.timers_due, progress=True)
        print(f"{args.cases:,} cases in {stats['seconds']:.1f}s ({stats['cases_per_s']:,.0f} cases/s, "
              f"{stats['rows_per_s']:,.0f} rows/s; building {stats['build_s']:.1f}s, writing "
              f"{stats['write_s']:.1f}s, analyze {stats['analyze_s']:.1f}s) on {fresh.version}, {fresh.location}")
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(stats["rows"].items())))
        for line in summary(fresh.db):
            print("  " + line)
    finally:
        if args.keep:
            print(f"kept: {fresh.location}")
        else:
            fresh.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
