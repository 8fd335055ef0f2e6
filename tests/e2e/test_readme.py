"""Every `curl` in README.md's "Trying the demo" answers 200 against the demo data set, through the app
in process: the README and the behaviour cannot drift apart."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from services.api import create_app
from services.bootstrap import setup
from services.demo import ensure_demo
from services.store.engine import Database

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def demo_curls() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Trying the demo", 1)[1].split("\n#", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line.startswith("curl ")]


def test_the_readme_has_curl_examples() -> None:
    assert len(demo_curls()) >= 4


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app as `make serve` runs it: migrated, profiles and the demo data set loaded."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('readme') / 'demo.sqlite3'}")
    setup(db)
    ensure_demo(db)
    yield TestClient(create_app(db))
    db.dispose()


@pytest.mark.parametrize("line", demo_curls())
def test_each_demo_curl_answers_200(demo_client: TestClient, line: str) -> None:
    args = shlex.split(line)
    headers = dict(h.split(": ", 1) for flag, h in zip(args, args[1:], strict=False) if flag == "-H")
    (url,) = [a for a in args if a.startswith("http://127.0.0.1:8000/")]
    parts = urlsplit(url)
    r = demo_client.get(parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
    assert r.status_code == 200, (line, r.status_code, r.text[:300])


def test_the_demo_set_shows_the_admin_pages_alive(demo_client: TestClient) -> None:
    """Issue 15: the administrators see what a system in use shows, produced the real way: overdue work
    with its SLA breaches recorded by the sweep, and dead letters left by the dispatcher's retries."""
    admin = {"Authorization": "Bearer demo-demo_admin"}
    dead = demo_client.get("/api/v1/admin/outbox", params={"status": "dead"}, headers=admin).json()["items"]
    assert dead and all(r["attempts"] == 5 and "Connection refused" in r["last_error"] for r in dead)
    breaches = demo_client.get("/api/v1/admin/sla-breaches", headers=admin).json()
    assert breaches["items"], breaches
    # the dead letters can be sent round again: the receiver that refused them is switched off
    retried = demo_client.post(f"/api/v1/admin/outbox/{dead[0]['id']}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
