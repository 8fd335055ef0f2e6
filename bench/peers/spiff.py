"""A peer, side by side: Shanghai project registration in SpiffWorkflow and in our engine.

    python bench/peers/spiff.py [--db sqlite|postgres|both] [--cases N] [--rounds R]

Targets (issue 14), per step, same cases, same machine, same run: ours >= 1.5x SpiffWorkflow (whole workflow
JSON) and >= 0.5x the floor (no engine: lock, update one row, commit).

The procedure, on both sides, ten steps a case:

    submit, completeness check (accept), technical review (pass), compose panel, 3 expert opinions,
    panel conclusion (pass), authority decision (approve), publicity end (timer) -> registered

* Spiff: `project_registration.bpmn` run by `spiff_app.SpiffApp`, an application embedding SpiffWorkflow
  that keeps one row per case in `peer_workflow` (same database, same writer engine as ours) and, per
  step, in one transaction: locks the row, deserializes the workflow, runs the user task in the actor's
  lane, `do_engine_steps`, serializes, updates, commits; the publicity end comes from a sweep of due
  rows. Two layouts of the stored JSON: `whole` (the serializer as shipped, spec included: the
  headline) and `state` (instance state only, the spec kept in memory: the fastest embedding we found).
* Ours: `services.engine.command.fire` with every effect (role/task/form/rule checks, state machine, tasks with
  working-day due dates, timers, statutory clock, outbox, hash-chained audit event), and the
  publicity-end timer fired by `services.orchestration.timers.run_due_timers`.
* Floor: no engine at all, per step lock one row, update it, commit. Its steps/s over Spiff's is the
  most any engine that durably commits every step could be faster than Spiff on that database.

Both see one clock: Spiff's timer module reads `services.engine.clock.clock` (`spiff_app.use_app_clock`),
the application computes the publicity's end (5 working days, our `WorkingCalendar`) into the
decision's data, and before the timer phase the clock is advanced 30 days for both engines.
Cases are opened before the clock starts (a draft row / a draft case); actors are resolved once.
Steps are fired phase by phase across the cases, as bench/engine.py does, each engine on its own fresh
cases; within a phase the engines take turns case by case (who goes first rotates), so load from other
work on the machine falls on all of them alike, and the ratio is taken within each round.
Prints, writes bench/results/peer-<db>-<date>.md, and `main(argv)` returns the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.common import PG_URL, fresh_database, machine, pg_reachable
from bench.peers.spiff_app import (
    CODE,
    META,
    PEER_WORKFLOW,
    PROCESS,
    SpiffApp,
    publicity_ends_at,
    use_app_clock,
)

PG_SCHEMA = "bench_peer"
TARGETS = {"spiff": 1.5, "floor": 0.5}  # ours / that side's steps per second
TIMER_ADVANCE = timedelta(days=30)  # past any 5-working-day publicity, for both engines
RESULTS = ROOT / "bench" / "results"
EXPERTS = (1, 2, 3)

# --- the two sides, step by step ------------------------------------------------------------


@dataclass
class Step:
    name: str  # our trigger, for the per-step table
    ours: Callable[[int], Any]
    spiff: Callable[[SpiffApp, int], Any]


def make_steps(db: Any) -> list[Step]:
    """The nine people's steps of the happy path, each as (our command, Spiff's completed task)."""
    from services import demo
    from services.engine import command

    low = CODE.lower()
    driver = demo.Driver(db)
    actor = cache(driver.actor)
    experts = [actor(f"{low}_expert{n}").user_id for n in EXPERTS]

    def fire(user: str, trigger: str, form: dict[str, Any]) -> Callable[[int], Any]:
        who = actor(user)  # resolved once, before timing
        respond = lambda s, o: (200, {"state": o.case.state})  # noqa: E731 - bench/engine.py's cheap responder
        return lambda cid: command.fire(db, command.Command(cid, trigger, who, form), respond)

    def task(name: str, role: str, form: dict[str, Any] | Callable[[], dict[str, Any]],
             member: int | None = None) -> Callable[[SpiffApp, int], Any]:
        make = form if callable(form) else (lambda: form)
        return lambda app, wid: app.step(wid, name, role, make(), member)

    def decision() -> dict[str, Any]:
        from services.engine.clock import clock

        return {"decision": "approve", "publicity_ends_at": publicity_ends_at(clock.now()), "objections": 0}

    commitments = demo.commitments(CODE)
    review = {"opinion": "材料齐全，方法学适用"}
    panel = {"members": experts, "chair": experts[0]}
    steps = [
        Step("submit", fire(f"{low}_applicant", "submit", commitments), task("submit", "applicant", commitments)),
        Step("accept", fire(f"{low}_case_officer", "accept", {}),
             task("completeness_check", "case_officer", {"completeness": "accept"})),
        Step("pass_review", fire(f"{low}_review_centre", "pass_review", review),
             task("technical_review", "review_centre", {"review": "pass", "review_opinion": review["opinion"]})),
        Step("compose_panel", fire(f"{low}_case_officer", "compose_panel", panel),
             task("compose_panel", "case_officer", {"panel": experts, "chair": experts[0]})),
    ]
    for n, expert_id in zip(EXPERTS, experts, strict=True):
        opinion = {"opinion": "agree", "score": 80}
        steps.append(Step("record_opinion", fire(f"{low}_expert{n}", "record_opinion", opinion),
                          task("expert_opinion", "expert", {"member_opinion": {"expert": expert_id, **opinion}},
                               member=expert_id)))
    steps += [
        Step("panel_pass", fire(f"{low}_expert1", "panel_pass", {"conclusion": "同意通过"}),
             task("panel_conclusion", "expert", {"conclusion": "pass", "text": "同意通过"})),
        Step("approve", fire(f"{low}_approver", "approve", {}), task("authority_decision", "approver", decision)),
    ]
    return steps


def our_open(db: Any) -> Callable[[], int]:
    from services import demo
    from services.engine import opening

    applicant = demo.Driver(db).actor(f"{CODE.lower()}_applicant")
    application = demo.application(CODE)

    def open_case() -> int:
        _, body = opening.create(db, actor=applicant, procedure_name=PROCESS, jurisdiction=CODE,
                               application=application, respond=lambda s, o: (201, {"id": o.case.id}))
        return int(body["id"])
    return open_case


def our_timers(db: Any, now: datetime) -> int:
    from services.orchestration.timers import run_due_timers

    return len(run_due_timers(db, now)["fired"])


def our_ends(db: Any, ids: list[int]) -> set[str]:
    from services.store.tables import Case

    with db.reader.connect() as conn:
        return set(conn.execute(sa.select(Case.state).where(Case.id.in_(ids))).scalars())


def spiff_ends(db: Any, ids: list[int]) -> set[str]:
    with db.reader.connect() as conn:
        return set(conn.execute(sa.select(PEER_WORKFLOW.c.tasks).where(PEER_WORKFLOW.c.id.in_(ids))).scalars())


@dataclass(frozen=True)
class Floor:
    """No engine at all: per step, lock a case's row, write what changed, commit. What any engine that
    commits each step durably pays at least, so it bounds the ratio either engine can reach."""
    db: Any

    def open(self) -> int:
        from services.engine.clock import clock

        with self.db.writer.begin() as conn:
            return int(conn.execute(PEER_WORKFLOW.insert().values(
                process=PROCESS, layout="floor", tasks="submit", workflow="{}", updated_at=clock.now())
            ).inserted_primary_key[0])

    def _write(self, row_id: int, tasks: str, due: datetime | None) -> None:
        from services.engine.clock import clock

        t = PEER_WORKFLOW.c
        with self.db.writer.begin() as conn:
            conn.execute(sa.select(t.id).where(t.id == row_id).with_for_update()).one()
            conn.execute(PEER_WORKFLOW.update().where(t.id == row_id).values(tasks=tasks, due_at=due,
                                                                             updated_at=clock.now()))

    def step(self, step: Step, row_id: int) -> None:
        from services.engine.clock import clock

        self._write(row_id, step.name, clock.now() + timedelta(days=7) if step.name == "approve" else None)

    def sweep(self, now: datetime) -> int:
        t = PEER_WORKFLOW.c
        with self.db.reader.connect() as conn:
            due = list(conn.execute(sa.select(t.id).where(t.layout == "floor", t.due_at <= now)).scalars())
        for row_id in due:
            self._write(row_id, "registered", None)
        return len(due)


@contextmanager
def clock_advanced(delta: timedelta) -> Iterator[datetime]:
    """Both engines' clock moved past the publicity's end, then back to the wall clock."""
    from services.engine.clock import clock

    now = clock.advance(delta)
    try:
        yield now
    finally:
        clock.release()


# --- measurement -----------------------------------------------------------------------------


@dataclass
class Engine:
    """One side of the comparison and what it measured."""
    key: str
    label: str
    open: Callable[[], int]
    act: Callable[[Step, int], Any]
    sweep: Callable[[datetime], int]
    ends: Callable[[list[int]], set[str]]
    steps: int = 0
    cases: int = 0
    rates: list[float] = field(default_factory=list)  # steps/s per round
    case_rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU per step, per round
    per_step: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ids: list[int] = field(default_factory=list)


def engines(db: Any) -> list[Engine]:
    whole, state, floor = SpiffApp(db, "whole"), SpiffApp(db, "state"), Floor(db)
    return [
        Engine("ours", "ours (services.engine.command.fire)", our_open(db), lambda s, cid: s.ours(cid),
               lambda now: our_timers(db, now), lambda ids: our_ends(db, ids)),
        Engine("spiff", "SpiffWorkflow, whole workflow JSON (spec included)", whole.open,
               lambda s, wid: s.spiff(whole, wid), whole.sweep, lambda ids: spiff_ends(db, ids)),
        Engine("spiff_state", "SpiffWorkflow, state-only JSON (spec in memory)", state.open,
               lambda s, wid: s.spiff(state, wid), state.sweep, lambda ids: spiff_ends(db, ids)),
        Engine("floor", "floor: lock + update one row + commit, no engine", floor.open, floor.step, floor.sweep,
               lambda ids: spiff_ends(db, ids)),
    ]


def _rotated(items: list[Engine], k: int) -> list[Engine]:
    k %= len(items)
    return items[k:] + items[:k]


def run_round(sides: list[Engine], steps: list[Step], n: int, r: int, record: bool = True) -> None:
    """n fresh cases per engine; phase by phase, case by case, the engines take turns (who goes first
    rotates), so a busy neighbour on the shared machine slows all of them alike."""
    ids = {e.key: [e.open() for _ in range(n)] for e in sides}  # not timed
    spent, cpu = dict.fromkeys(ids, 0.0), dict.fromkeys(ids, 0.0)
    clock_, cpu_ = time.perf_counter, time.process_time
    for k, step in enumerate(steps):
        for i in range(n):
            for e in _rotated(sides, r + k + i):
                t0, c0 = clock_(), cpu_()
                e.act(step, ids[e.key][i])
                dt = clock_() - t0
                spent[e.key] += dt
                cpu[e.key] += cpu_() - c0
                if record:
                    e.per_step[step.name].append(dt)
    with clock_advanced(TIMER_ADVANCE) as now:
        for e in _rotated(sides, r):
            t0, c0 = clock_(), cpu_()
            fired = e.sweep(now)
            dt = clock_() - t0
            spent[e.key] += dt
            cpu[e.key] += cpu_() - c0
            if record:
                e.per_step["publicity_end (timer)"].append(dt / max(1, fired))
            if fired != n:
                raise SystemExit(f"{e.label}: {fired} publicity timers fired for {n} cases")
    for e in sides:
        if (ends := e.ends(ids[e.key])) != {"registered"}:
            raise SystemExit(f"{e.label}: cases ended {sorted(ends)}, not registered")
        if record:
            done = n * (len(steps) + 1)
            e.steps, e.cases = e.steps + done, e.cases + n
            e.rates.append(done / spent[e.key])
            e.case_rates.append(n / spent[e.key])
            e.cpu_ms.append(cpu[e.key] * 1000 / done)
            e.ids += ids[e.key]


def workflow_bytes(db: Any, ids: list[int]) -> int:
    with db.reader.connect() as conn:
        return round(statistics.mean(conn.execute(sa.select(sa.func.length(PEER_WORKFLOW.c.workflow))
                                                  .where(PEER_WORKFLOW.c.id.in_(ids))).scalars()))


@dataclass
class Figures:
    kind: str
    where: str
    sides: list[Engine]
    bytes: dict[str, int]

    @property
    def ours(self) -> Engine:
        return self.sides[0]

    def side(self, key: str) -> Engine:
        return next(e for e in self.sides if e.key == key)

    def ratios(self, peer: Engine, of: Engine | None = None) -> list[float]:
        """`of`'s steps/s over `peer`'s (ours by default), round by round."""
        return [o / s for o, s in zip((of or self.ours).rates, peer.rates, strict=True)]

    @property
    def ceiling(self) -> float:
        """The floor's steps/s over Spiff's (as shipped): the most an engine committing every step
        could be faster than Spiff on this database."""
        return statistics.median(self.ratios(self.side("spiff"), of=self.side("floor")))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"db": self.kind, "targets": TARGETS, "ceiling_vs_spiff": self.ceiling}
        for e in self.sides:
            out[e.key] = {"cases": e.cases, "steps": e.steps, "steps_per_s": statistics.median(e.rates),
                          "cases_per_s": statistics.median(e.case_rates),
                          "cpu_ms_per_step": statistics.median(e.cpu_ms)}
            if e is not self.ours:
                ratio = statistics.median(self.ratios(e))
                out[e.key]["ratio_ours_per_step"] = ratio
                if e.key in TARGETS:
                    out[e.key]["met"] = ratio >= TARGETS[e.key]
            if e.key.startswith("spiff"):
                out[e.key]["workflow_json_bytes"] = self.bytes[e.key]
        return out


def bench_database(kind: str, cases_n: int, rounds: int) -> Figures:
    use_app_clock()
    fresh = fresh_database(kind, prefix="bench-peer-", schema=PG_SCHEMA)
    db = fresh.db
    try:
        META.create_all(db.writer)
        steps, sides = make_steps(db), engines(db)
        run_round(sides, steps, 2, 0, record=False)  # warm-up: imports, parse, statement caches, pool
        for r in range(rounds):
            run_round(sides, steps, max(1, cases_n // rounds), r)
            print(f"  [{kind}] round {r + 1}/{rounds}: "
                  + ", ".join(f"{e.key} {e.rates[-1]:,.1f} steps/s" for e in sides), flush=True)
        where = (f"{fresh.version}, {fresh.location}, "
                 + ", ".join(f"{k}={v}" for k, v in fresh.settings.items() if k != "server_version"))
        return Figures(kind, where, sides,
                       {e.key: workflow_bytes(db, e.ids) for e in sides if e.key.startswith("spiff")})
    finally:
        fresh.cleanup()


# --- reporting -------------------------------------------------------------------------------


def _spread(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}–{max(values):{fmt}}]"


HEAD = ("database", "engine", "cases", "steps", "cases/s", "steps/s", "ours/this per step", "target", "met",
        "CPU ms/step (this process)")


def table_rows(f: Figures) -> list[tuple[str, ...]]:
    rows = []
    for e in f.sides:
        target = TARGETS.get(e.key)
        ratio = statistics.median(f.ratios(e))
        rows.append((f.kind, e.label, str(e.cases), str(e.steps), _spread(e.case_rates, ",.2f"),
                     _spread(e.rates, ",.1f"), _spread(f.ratios(e), ".2f") if e is not f.ours else "—",
                     f"≥ {target:g}" if target else "", ("yes" if ratio >= target else "no") if target else "",
                     _spread(e.cpu_ms, ".2f")))
    return rows


def step_rows(f: Figures) -> list[tuple[str, ...]]:
    def ms(v: list[float]) -> str:
        return f"{statistics.mean(v) * 1000:.2f} / {statistics.median(v) * 1000:.2f}"
    return [(name, str(len(v)), *(ms(e.per_step[name]) for e in f.sides)) for name, v in f.ours.per_step.items()]


def render_text(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731 - a one-line helper, named where it is used
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def render_md(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *["| " + " | ".join(r) + " |" for r in rows]]


def write_markdown(f: Figures, args: argparse.Namespace) -> Path:
    import sqlite3
    from importlib.metadata import version

    today = date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"peer-{f.kind}-{today}.md"
    lines = [
        f"# Peer benchmark: SpiffWorkflow vs our engine — {f.kind} — {today}",
        "",
        f"Run at {datetime.now().astimezone().isoformat(timespec='seconds')}: "
        f"`python bench/peers/spiff.py --db {args.db} --cases {args.cases} --rounds {args.rounds}`",
        "",
        f"- database: {f.where}",
        f"- machine (shared with other work; load average at the end of the run): {machine()}",
        f"- SpiffWorkflow {version('SpiffWorkflow')}, SQLite library {sqlite3.sqlite_version}",
        "- procedure: Shanghai project registration, 10 steps a case on every side: submit, completeness check, "
        "technical review, compose panel, 3 expert opinions, panel conclusion, decision, publicity end (timer)",
        "- ours: `services.engine.command.fire` per step with every effect; the timer by "
        "`services.orchestration.timers.run_due_timers`",
        "- Spiff: `bench/peers/project_registration.bpmn`; per step one transaction: lock the `peer_workflow` row, "
        "deserialize, run the user task in the actor's lane, `do_engine_steps`, serialize, update; the timer by a "
        "sweep of the due rows, one transaction each. Mean stored JSON per registered case: "
        + ", ".join(f"{k} {v:,} bytes" for k, v in f.bytes.items()),
        "- the engines take turns step by step on their own fresh cases (order rotating); one clock, advanced "
        "30 days for the timers; cases opened and actors resolved before timing",
        "- median [min–max] over rounds; `ours/this` is our steps/s over that engine's, within each round; "
        "CPU ms/step is this Python process's CPU time (not the PostgreSQL server's), steadier than wall time "
        "on a busy machine",
        "- floor: no engine, per step lock one row, update it, commit (`Floor`); its steps/s over Spiff's is the "
        "most any engine that commits every step could be faster than Spiff here",
        "",
        *render_md(HEAD, table_rows(f)),
        "",
        f"Ceiling on this database: floor/Spiff (as shipped) = {f.ceiling:.2f}x per step; "
        f"ours/floor = {statistics.median(f.ratios(f.side('floor'))):.2f}.",
        "",
        "Per step, milliseconds mean / median (the timer: a sweep's time divided by the timers it fired):",
        "",
        *render_md(("step", "n", *(e.key for e in f.sides)), step_rows(f)),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run, print, write the results; returns {db: Figures.as_dict()} for bench/suite.py."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--cases", type=int, default=150, help="cases per engine per database, split over the rounds")
    p.add_argument("--rounds", type=int, default=3, help="rounds per database (default 3)")
    args = p.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"peer benchmark: {args.cases} cases x 10 steps per engine per database, {args.rounds} rounds")
    results: dict[str, Any] = {}
    rows: list[tuple[str, ...]] = []
    for kind in kinds:
        if kind == "postgres" and (why := pg_reachable(PG_URL)):
            print(f"PostgreSQL at {PG_URL} is unreachable ({why}); skipping it")
            continue
        figures = bench_database(kind, args.cases, args.rounds)
        results[kind] = figures.as_dict()
        rows += table_rows(figures)
        path = write_markdown(figures, args)
        print(f"  [{kind}] {figures.where}; written {path.relative_to(ROOT)}")
        print(render_text(("step", "n", *(f"{e.key} ms mean / median" for e in figures.sides)),
                          step_rows(figures)))
        print(f"  [{kind}] ceiling: floor/spiff {figures.ceiling:.2f}x per step")
    if rows:
        print()
        print(render_text(HEAD, rows))
    return results


if __name__ == "__main__":
    main()
