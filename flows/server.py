"""`python -m services.cli serve`: the API, and in embedded mode a local Prefect server beside it.

Unless `PREFECT_API_URL` is set, a Prefect server (SQLite under var/prefect, 127.0.0.1:4200) starts
first so that administrators can open the Prefect UI on the flow runs; it stops with the app.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from flows.embedded import mode
from services.engine import telemetry
from services.orchestration import health
from services.store.engine import Database

log = logging.getLogger("carbon.serve")
PREFECT_PORT = int(os.environ.get("PREFECT_PORT", "4200"))
# Prefect's own history is pruned (its db_vacuum service): finished flow runs and events older than two
# days, checked hourly. Without it the server's database grows by every sweep and dispatch run (68 MB in
# 50 minutes scaled out). The environment may override each (the compose file sets the same).
RETENTION = {
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": "P2D",
    "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P2D",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS": "3600",
}


def start_prefect_server() -> subprocess.Popen[bytes] | None:
    home = Path(os.environ.get("PREFECT_HOME", "var/prefect")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{PREFECT_PORT}/api"
    env = {**RETENTION, **os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_UI_API_URL": url}
    cli = Path(sys.executable).with_name("prefect")
    log_file = open(home / "server.log", "ab")
    proc = subprocess.Popen([str(cli), "server", "start", "--host", "127.0.0.1", "--port", str(PREFECT_PORT)],
                            env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        if _answers(proc, f"{url}/health", deadline=time.monotonic() + 120):
            os.environ["PREFECT_API_URL"] = url
            log.info("Prefect server on %s (UI http://127.0.0.1:%d)", url, PREFECT_PORT)
            return proc
    except BaseException:  # Ctrl-C while it starts (a minute on a loaded machine): do not leave it behind
        proc.terminate()
        raise
    log.warning("the Prefect server did not start (see %s); flows run against a temporary one", home / "server.log")
    proc.terminate()
    return None


def _answers(proc: subprocess.Popen[bytes], health: str, *, deadline: float) -> bool:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


# With --workers N, uvicorn's parent pings each worker process and kills one that does not answer within
# this many seconds (its default, 5): a worker still importing the application on a busy machine (tens of
# seconds with two cores shared) was killed and restarted over and over ("Child process … died").
WORKER_HEALTHCHECK_SECONDS = int(os.environ.get("UVICORN_WORKER_HEALTHCHECK_SECONDS", "60"))

# Libraries that log a line per HTTP call or per flow-run state (a dispatch every few seconds): only
# their warnings reach the console.
QUIET = ("httpx", "httpcore", "prefect", "apscheduler", "uvicorn.access", "alembic")


def banner(host: str, port: int) -> str:
    """What a person starting the server needs: where to sign in, and with whom (demo users)."""
    site = f"http://{host}:{port}"
    return "\n".join((
        f"  web    {site}/   (sign in: {site}/login)",
        f"  API    {site}/api/v1   docs {site}/docs",
        "  demo users (password demo-password): sh_applicant, sh_case_officer, sh_review_centre, sh_approver,",
        "         sh_expert1…5, sh_admin, demo_admin; likewise bj_, jx_, ord_, sd_",
        "  Ctrl-C stops.",
    ))


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)  # like Ctrl-C: the `finally` below stops the local Prefect server too


def serve(*, host: str, port: int, workers: int, scheduler: bool) -> None:
    # Prefect's own loggers re-read their level from the setting on every flow run: a line per state of
    # every sweep and dispatch run buried the console; only warnings and errors reach it now.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    telemetry.configure_logging()
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    print(banner(host, port), flush=True)
    if not scheduler and mode() == "embedded":
        os.environ["SCHEDULER"] = "off"
    # refuse to start on a database this process cannot use (each worker's lifespan checks it again)
    health.require_ready(Database(), explicit_url=mode() == "prefect")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # the workers' counters, summed by whichever worker answers /metrics (prometheus-client multiprocess)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="carbon-metrics-")
    prefect = None
    # uvicorn handles SIGTERM itself while it runs and re-raises it afterwards: without a handler of ours the
    # process would die there, leaving the Prefect server it started running without a parent
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        if scheduler and mode() == "embedded" and not os.environ.get("PREFECT_API_URL"):
            prefect = start_prefect_server()
        # the app decides which proxies it believes (TRUSTED_PROXIES, services.api.edge), not uvicorn's default
        uvicorn.run("services.api:app", host=host, port=port, workers=workers, proxy_headers=False,
                    access_log=False, timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has already shut down (or never started); no traceback
    finally:
        if prefect is not None:
            prefect.terminate()
            prefect.wait(timeout=20)
