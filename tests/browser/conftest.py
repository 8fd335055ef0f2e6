"""Browser tests: the real app under uvicorn, driven by Debian's headless Chromium through Playwright.

One server and one browser per test session (per xdist worker): a fresh SQLite file, migrated and
loaded with the demo data set, served by a uvicorn subprocess on a free port with the scheduler off.
Each test opens its own browser context (its own cookies) and sets up the cases it needs through the
service layer on the same file, so no test depends on another. Every page a test lands on is kept as
a PNG in var/screenshots/<test>/, the suite's artefacts.

Chromium is Debian's `/usr/bin/chromium` (Playwright cannot download browsers here). When it is
missing and apt can install it (root, or password-less sudo) it is installed once; otherwise the tests
are skipped with the reason, except in CI (`CI=true`) where a missing browser fails them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.bootstrap import setup
from services.demo import DEMO_PASSWORD, Driver, ensure_demo
from services.store.engine import Database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]
SCREENSHOTS = ROOT / "var" / "screenshots"
STARTUP_SECONDS = 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the running app in headless Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


# --- the browser -----------------------------------------------------------------------------


def _apt_prefix() -> list[str] | None:
    """How to run apt-get here: as root, through password-less sudo, or not at all."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def _install_chromium() -> str:
    """Install Debian's chromium once (xdist workers wait on a lock file); '' or why it could not."""
    prefix = _apt_prefix()
    if prefix is None:
        return f"{CHROMIUM} is missing and apt-get cannot install it here (not root, no password-less sudo)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(Path("/tmp") / "carbon-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return ""
        install = prefix + ["apt-get", "install", "-y", "-qq", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(prefix + ["apt-get", "update", "-qq"], env=env, capture_output=True)
            done = subprocess.run(install, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                return f"apt-get install chromium failed: {done.stderr[-500:]}"
    return "" if CHROMIUM.exists() else f"{CHROMIUM} still missing after apt-get install chromium"


def _unavailable(reason: str) -> None:
    """A newcomer's laptop without the browser skips, saying why; CI never does."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests need Debian's chromium: {reason}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = _install_chromium()
        if reason:
            _unavailable(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


# --- the site --------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    db: Database
    driver: Driver
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        """What the server said lately: a failing test prints it (a 500 page says nothing more)."""
        return self.log.read_text(errors="replace")[-chars:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not answer within {STARTUP_SECONDS}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app as `make serve` runs it (migrated, demo data), on this worker's own file and port."""
    folder = tmp_path_factory.mktemp("browser-site")
    db_url = f"sqlite:///{folder / 'site.sqlite3'}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    env = {**os.environ, "DATABASE_URL": db_url, "SCHEDULER": "off"}
    # the server imports while the data set is loaded: it opens the file only on the first page
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "services.api:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--log-level", "warning"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    db = Database(db_url)
    try:
        setup(db)
        ensure_demo(db)
        _wait_until_up(url, proc, log)
        yield Site(url, db, Driver(db), log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        db.dispose()


# --- one visitor per test ----------------------------------------------------------------------


class Visitor:
    """A person at a browser: a Playwright page of its own context, signing in through the form and
    keeping a screenshot of every page it lands on."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.shots = 0

    def shot(self, name: str) -> Path:
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def goto(self, path: str, name: str | None = None) -> Any:
        response = self.page.goto(path)
        self.shot(name or (path.strip("/").replace("/", "-").split("?")[0] or "home"))
        return response

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        """Through the sign-in form, by its labels; lands on the hat's home page."""
        self.page.goto("/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(password)
        self.page.get_by_role("button", name="登录", exact=True).click()
        self.page.wait_for_load_state()
        self.shot(f"signed-in-{username}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True
    return report


@pytest.fixture
def new_visitor(chromium: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """`new_visitor("chair")` → a person in a browser context of their own (no cookies, Chinese first)
    whose screenshots go to var/screenshots/<test>/<label>/; `javascript=False` browses with scripts
    off (every page must work without them). A failing test leaves each visitor's last page and the
    server's log."""
    test_folder = SCREENSHOTS / request.node.name.replace("/", "_")
    shutil.rmtree(test_folder, ignore_errors=True)
    made: list[tuple[Any, Visitor]] = []

    def make(label: str = "", javascript: bool = True) -> Visitor:
        folder = test_folder / label
        folder.mkdir(parents=True, exist_ok=True)
        context = chromium.new_context(base_url=site.url, locale="zh-CN", viewport={"width": 1280, "height": 900},
                                       java_script_enabled=javascript)
        page = context.new_page()
        page.set_default_timeout(15_000)
        made.append((context, Visitor(page, folder)))
        return made[-1][1]

    yield make
    failed = getattr(request.node, "failed", False)
    for context, v in made:
        if failed:
            v.shot("failed")
        context.close()
    if failed:
        print(f"--- server log (last lines)\n{site.log_tail()}", file=sys.stderr)


@pytest.fixture
def visitor(new_visitor: Any) -> Visitor:
    """The test's first person, screenshots straight in var/screenshots/<test>/."""
    return new_visitor()


# --- cases of the test's own -------------------------------------------------------------------


def fresh_case(site: Site, code: str, stop: str, title: str) -> int:
    """A new registration case of the jurisdiction's applicant, driven along the happy path to `stop`
    through the real command path (what the demo set does), so each test acts on a case of its own."""
    from services.demo import application, drive_to
    from states.profiles import all_profiles

    project_class = 1 if all_profiles()[code].registration.project_classes else None
    case_id = site.driver.open(f"{code.lower()}_applicant", code,
                               application(code, title=title, project_class=project_class))
    assert drive_to(site.driver, code, case_id, stop) == stop
    return case_id


def case_state(site: Site, case_id: int) -> str:
    from services.store.tables import Case

    with site.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.state
