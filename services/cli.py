"""Command line: `python -m services.cli <command>` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from sqlmodel import col, select

from services.bootstrap import setup, wire
from services.store.engine import Database
from states.messages import text
from states.spec import NATIONAL


def _grants(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for v in values:
        role, _, jurisdiction = v.partition(":")
        if not jurisdiction:
            raise SystemExit(f"--grant takes role:JURISDICTION, got {v!r}")
        out.append((role, jurisdiction.upper()))
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.cli",
                                     description=f"{text('system.name').zh} command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="migrate the database and load the jurisdiction profiles")
    sub.add_parser("demo", help="load the demo data set (once)")
    serve = sub.add_parser("serve", help="run the API with the embedded scheduler")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-scheduler", action="store_true",
                       help="scale-out: Prefect deployments (or another process) run the flows")
    worker = sub.add_parser("worker", help="scale-out: a Prefect worker on the process pool, after checking that "
                                           "DATABASE_URL is reachable and migrated and PREFECT_API_URL answers")
    worker.add_argument("--pool", default="carbon")
    worker.add_argument("--grace", type=float, default=25.0,
                        help="seconds between SIGTERM and killing what is left (compose: stop_grace_period 30s)")
    worker.add_argument("--with-healthcheck", action="store_true",
                        help="the Prefect worker serves GET /health on PREFECT_WORKER_WEBSERVER_PORT (8080)")
    worker.add_argument("--no-handoff", action="store_true",
                        help="without the in-process hand-off loop (dispatch and timers then wait for the "
                             "deployments' schedules)")
    sub.add_parser("tick", help="fire due timers once")
    sub.add_parser("sweep", help="one sweep now: timers, reminders, SLA breaches")
    sub.add_parser("dispatch", help="drain the outbox now")
    keygen = sub.add_parser("keygen", help="create the transparency log's signing key if missing "
                                           "(LOG_SIGNING_KEY_FILE, mode 0600) and print its verifier key")
    keygen.add_argument("--rotate", action="store_true",
                        help="retire the current key (its verifier key stays trusted) and create a new one")
    keygen.add_argument("--export-verifiers", metavar="PATH", type=Path,
                        help="also write the verifier keys (earlier ones, then the current) to PATH: the "
                             "LOG_TRUSTED_KEYS_FILE of processes that serve the log without its private key")
    sub.add_parser("publish-log", help="sequence new audit events and ledger entries into the log and sign its head")
    user = sub.add_parser("create-user", help="create a user with role grants")
    user.add_argument("--username", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--grant", action="append", default=[],
                      help="role:JURISDICTION, repeatable; admin:CN is the national administrator")
    user.add_argument("--org-uscc")
    user.add_argument("--org-name")
    user.add_argument("--password")
    token = sub.add_parser("create-token", help="issue a bearer token for a user (printed once)")
    token.add_argument("--username", required=True)
    token.add_argument("--name", default="cli")
    cal = sub.add_parser("calendar-import", help="load a year's State Council holiday notice from JSON")
    cal.add_argument("--year", type=int, required=True)
    cal.add_argument("--file", type=Path, required=True, help='{"source": "...", "days": [{"date", "kind", "name"}]}')
    cal.add_argument("--jurisdiction", default=None,
                     help="load one jurisdiction's own days instead (replaces only that jurisdiction's days)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    wire()

    if args.command == "keygen":  # no database: the key is exactly what the database must not hold
        from services.transparency import keys

        created, verifier = keys.keygen(rotate=args.rotate)
        print(f"{'created' if created else 'kept'} {keys.key_file()}\n{verifier}")
        if args.export_verifiers:
            count = keys.export_verifiers(args.export_verifiers)
            print(f"wrote {count} verifier key(s) to {args.export_verifiers}")
        return 0
    if args.command == "worker":  # checks its database itself, and says why it will not start
        from flows.worker import run as run_worker

        return run_worker(args.pool, args.grace, ["--with-healthcheck"] * args.with_healthcheck,
                          handoff=not args.no_handoff)
    return _run(args, Database())


def _run(args: argparse.Namespace, db: Database) -> int:
    """The commands on the database."""
    if args.command == "migrate":
        setup(db)
        print(f"migrated {db.url}")
    elif args.command == "demo":
        from services.demo import ensure_demo

        print("demo data loaded" if ensure_demo(db) else "demo data already present")
    elif args.command == "serve":
        from flows.server import serve as run_server

        run_server(host=args.host, port=args.port, workers=args.workers, scheduler=not args.no_scheduler)
    elif args.command == "tick":
        from services.orchestration.timers import run_due_timers

        print(json.dumps(run_due_timers(db), ensure_ascii=False, indent=1))
    elif args.command in ("sweep", "dispatch", "publish-log"):
        import asyncio

        from flows.common import use_database

        use_database(db)
        if args.command == "sweep":
            from flows.sweep import sweep_flow

            result = asyncio.run(sweep_flow(reason="cli"))
        elif args.command == "publish-log":
            from flows.transparency import publish_log

            result = asyncio.run(publish_log(reason="cli"))
        else:
            from flows.dispatch import dispatch_flow

            result = asyncio.run(dispatch_flow(reason="cli"))
        print(json.dumps(result, ensure_ascii=False, default=str))
    elif args.command == "create-user":
        from forms.common import _valid_uscc
        from services.accounts.identity import create_user, ensure_organisation

        with db.write() as session:
            org_id = None
            if args.org_uscc:
                org_id = ensure_organisation(session, _valid_uscc(args.org_uscc), args.org_name or args.org_uscc).id
            u = create_user(session, username=args.username, display_name=args.name, grants=_grants(args.grant),
                            org_id=org_id, password=args.password)
            print(f"user {u.username} id={u.id}")
    elif args.command == "create-token":
        from services.accounts.identity import issue_token
        from services.store.tables import User

        with db.write() as session:
            holder = session.exec(select(User).where(col(User.username) == args.username)).first()
            if holder is None:
                print(f"no user {args.username}", file=sys.stderr)
                return 1
            print(issue_token(session, holder, args.name))
    elif args.command == "calendar-import":
        from services.engine.calendar import DayOverride
        from services.engine.workdays import import_year

        data = json.loads(args.file.read_text(encoding="utf-8"))
        days = [DayOverride(date.fromisoformat(d["date"]), d["kind"] == "workday", d.get("name", ""),
                            d.get("jurisdiction")) for d in data["days"]]
        with db.write() as session:
            print(json.dumps(import_year(session, year=args.year, days=days, source=data.get("source", str(args.file)),
                                         actor_id=None, actor_role="admin",
                                         jurisdiction=args.jurisdiction or NATIONAL), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
