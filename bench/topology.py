"""The scaled-out topology of docker/compose.yaml, started as processes on this machine (no Docker): what
`make scale-out-smoke` and bench/handoff.py run.

PostgreSQL is the one already running (PG_ADMIN_URL, default postgresql://postgres@127.0.0.1:5432/postgres):
two fresh databases are created, the application's and the Prefect server's, and dropped at the end.
Then, in compose's order and with its commands and environment: `migrate` (plus the demo users), `keygen`, the
Prefect server (healthy on /api/health), `deploy` (the pool `carbon`, `prefect deploy --all`), the
`worker` (`python -m services.cli worker`, with the hand-off loop) and the `api` (`serve --workers 2
--no-scheduler`, healthy on /readyz). Stopping sends SIGTERM and waits the compose grace period.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RETENTION = {"PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
             "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": "P2D",
             "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P2D",
             "PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS": "3600"}
GRACE = {"worker": 30.0, "api": 10.0, "prefect-server": 10.0}  # compose's stop_grace_period (default 10 s)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc), children before their children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        found = children.get(todo.pop(0), [])
        out += found
        todo += found
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Topology:
    name: str = field(default_factory=lambda: f"scaleout_{os.getpid()}")
    api_port: int = field(default_factory=free_port)
    prefect_port: int = field(default_factory=free_port)
    worker_port: int = field(default_factory=free_port)
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="carbon-scaleout-")))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    @property
    def prefect_api(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, **more: str) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(self.home / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_CLI_PROMPT": "false",
                "PREFECT_API_URL": self.prefect_api, "DATABASE_URL": self.database_url, "SCHEDULER": "prefect",
                # as in the image: no process holds the log's key unless given it (the worker, below)
                "LOG_SIGNING_KEY_FILE": str(self.home / "no-key" / "log-signing-key.pem"), **self.extra_env,
                **more}

    @property
    def log_key_file(self) -> str:
        """compose's `log-keys` volume: keygen writes the key there, the worker signs with it."""
        return str(self.home / "log-keys" / "log-signing-key.pem")

    @property
    def log_verifiers_file(self) -> str:
        """compose's `log-public` volume: the verifier keys the API serves."""
        return str(self.home / "log-public" / "log-trusted-keys.txt")

    # --- the databases --------------------------------------------------------------------------

    def _admin(self, sql: str) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql)

    def create_databases(self) -> None:
        for db in (self.name, f"{self.name}_prefect"):
            self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{db}"')

    def drop_databases(self) -> None:
        for db in (self.name, f"{self.name}_prefect"):
            self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    # --- processes ------------------------------------------------------------------------------

    def run_once(self, what: str, *argv: str, env: dict[str, str] | None = None) -> None:
        """A one-shot service (compose's `migrate`, `deploy`): must exit 0."""
        out = self.home / f"{what}.log"
        with out.open("ab") as log:
            code = subprocess.call(list(argv), cwd=ROOT, env=env or self.env(), stdout=log, stderr=subprocess.STDOUT)
        if code != 0:
            raise RuntimeError(f"{what} exited {code}: {out.read_text()[-3000:]}")

    def start(self, what: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.home / f"{what}.log").open("ab")
        proc = subprocess.Popen(list(argv), cwd=ROOT, env=env or self.env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[what] = proc
        return proc

    def wait_healthy(self, what: str, url: str, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[what].poll() is not None:
                raise RuntimeError(f"{what} exited: {self.log(what)[-3000:]}")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"{what} not healthy at {url} after {timeout:.0f} s: {self.log(what)[-3000:]}")

    def check_alive(self) -> None:
        """Every long-running service still runs (compose would restart one; a smoke must say it died)."""
        for what, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited {proc.returncode}: {self.log(what)[-3000:]}")

    def log(self, what: str) -> str:
        path = self.home / f"{what}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, what: str) -> float:
        """SIGTERM, then SIGKILL after the compose grace period; the seconds it took to end."""
        proc = self.procs.pop(what, None)
        if proc is None or proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(GRACE.get(what, 10.0))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return time.monotonic() - started

    def kill(self, what: str) -> list[int]:
        """SIGKILL to the process and every descendant, each in its process group (the worker starts
        `prefect worker start` in a session of its own, which a kill of its group alone left running,
        orphaned): a lost machine. The pids killed."""
        proc = self.procs.pop(what)
        pids = [proc.pid, *descendants(proc.pid)]
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        return pids

    # --- compose's services, in its order -----------------------------------------------------------

    def python(self, *argv: str) -> list[str]:
        return [sys.executable, *argv]

    def up(self, *, demo: bool = True) -> None:
        self.create_databases()
        self.run_once("migrate", *self.python("-m", "services.cli", "migrate"))
        if demo:
            self.run_once("demo", *self.python("-m", "services.cli", "demo"))
        self.run_once("keygen", *self.python("-m", "services.cli", "keygen", "--export-verifiers",
                                             self.log_verifiers_file),
                      env=self.env(LOG_SIGNING_KEY_FILE=self.log_key_file))
        self.start_prefect()
        prefect = str(Path(sys.executable).with_name("prefect"))
        self.run_once("deploy", prefect, "work-pool", "create", "carbon", "--type", "process", "--overwrite")
        self.run_once("deploy", prefect, "deploy", "--all")
        self.start_worker()
        self.start_api()

    def start_prefect(self) -> None:
        env = self.env(**RETENTION, PREFECT_API_DATABASE_CONNECTION_URL=(
            "postgresql+asyncpg://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + f"/{self.name}_prefect"),
            PREFECT_UI_API_URL=self.prefect_api)
        self.start("prefect-server", str(Path(sys.executable).with_name("prefect")), "server", "start",
                   "--host", "127.0.0.1", "--port", str(self.prefect_port), env=env)
        self.wait_healthy("prefect-server", f"{self.prefect_api}/health")

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        """compose's `worker` (another `name`: one more replica, as with --scale worker=N)."""
        port = self.worker_port if name == "worker" else free_port()
        return self.start(name, *self.python("-m", "services.cli", "worker", "--pool", "carbon",
                                             "--with-healthcheck"),
                          env=self.env(CARBON_APP_DIR=str(ROOT), PREFECT_WORKER_WEBSERVER_PORT=str(port),
                                       PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30", LOG_SIGNING_KEY_FILE=self.log_key_file))

    def start_api(self) -> None:
        self.start("api", *self.python("-m", "services.cli", "serve", "--host", "127.0.0.1", "--port",
                                       str(self.api_port), "--workers", "2", "--no-scheduler"),
                   env=self.env(PREFECT_UI_URL=f"http://127.0.0.1:{self.prefect_port}",
                                LOG_TRUSTED_KEYS_FILE=self.log_verifiers_file))
        self.wait_healthy("api", f"{self.api}/readyz")

    def down(self) -> dict[str, float]:
        took = {what: self.stop(what) for what in ("api", "worker", "prefect-server")}
        self.drop_databases()
        if os.environ.get("KEEP_LOGS") is None:
            shutil.rmtree(self.home, ignore_errors=True)
        return took


@contextmanager
def running(**kw: object) -> Iterator[Topology]:
    topo = Topology(**kw)
    try:
        topo.up()
        yield topo
    except BaseException:
        for what in ("worker", "api", "prefect-server"):
            tail = topo.log(what)[-2000:]
            if tail:
                print(f"--- {what} log (tail)\n{tail}", file=sys.stderr)
        raise
    finally:
        topo.down()
