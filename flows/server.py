"""`python -m services.cli serve`: the API, and in embedded mode a local Prefect server beside it.

Unless `PREFECT_API_URL` is set, a Prefect server (SQLite under var/prefect, 127.0.0.1:4200) starts
first so that administrators can open the Prefect UI on the flow runs; it stops with the app.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

from flows.embedded import mode

log = logging.getLogger("carbon.serve")
PREFECT_PORT = int(os.environ.get("PREFECT_PORT", "4200"))


def start_prefect_server() -> subprocess.Popen[bytes] | None:
    home = Path(os.environ.get("PREFECT_HOME", "var/prefect")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{PREFECT_PORT}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_UI_API_URL": url}
    cli = Path(sys.executable).with_name("prefect")
    log_file = open(home / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([str(cli), "server", "start", "--host", "127.0.0.1", "--port", str(PREFECT_PORT)],
                            env=env, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                os.environ["PREFECT_API_URL"] = url
                log.info("Prefect server on %s (UI http://127.0.0.1:%d)", url, PREFECT_PORT)
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    log.warning("the Prefect server did not start (see %s); flows run against a temporary one", home / "server.log")
    proc.terminate()
    return None


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


def serve(*, host: str, port: int, workers: int, scheduler: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    print(banner(host, port), flush=True)
    if not scheduler:
        os.environ["SCHEDULER"] = "off"
    prefect = None
    if scheduler and mode() == "embedded" and not os.environ.get("PREFECT_API_URL"):
        prefect = start_prefect_server()
    try:
        # the app decides which proxies it believes (TRUSTED_PROXIES, services.api.edge), not uvicorn's default
        uvicorn.run("services.api:app", host=host, port=port, workers=workers, proxy_headers=False,
                    access_log=False)
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has already shut down; no traceback
    finally:
        if prefect is not None:
            prefect.terminate()
            prefect.wait(timeout=20)
