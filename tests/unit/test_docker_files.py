"""Static checks of the container files (docker/Dockerfile, docker/compose.yaml, .dockerignore).

No Docker engine is needed (none is assumed): the files are parsed here and every app command line is
run through the real argparse parser of `services.cli`, stopped before it touches a database. PyYAML
is not a dependency, so compose.yaml is read with a small parser for the YAML subset it is written in
(block maps and lists, plain/quoted scalars, JSON-style flow lists, full-line comments); when PyYAML
happens to be importable the two readings are compared. When a `docker compose` (or `docker-compose`)
client is on PATH, its `config` is run too; it works client-side, without an engine.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"

SERVICES = {"db", "migrate", "api", "scheduler", "prefect-server"}
APP_SERVICES = {"migrate", "api", "scheduler"}
CLI_PREFIX = ["python", "-m", "services.cli"]


# --- readers -------------------------------------------------------------------------------------------


def _scalar(text: str) -> object:
    if " #" in text:
        raise ValueError(f"inline comment not supported by this reader: {text!r}")
    if text.startswith(("[", '"')):
        return json.loads(text)  # JSON-style flow lists and double-quoted strings
    if text.startswith("'"):
        if not text.endswith("'"):
            raise ValueError(f"unterminated quote: {text!r}")
        return text[1:-1].replace("''", "'")
    if text.startswith(("{", "&", "*", "!", "|", ">")):
        raise ValueError(f"YAML feature not supported by this reader: {text!r}")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _block(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[object, int]:
    out: object
    if lines[pos][1].startswith("- "):
        out = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            out.append(_scalar(lines[pos][1][2:].strip()))
            pos += 1
    else:
        out = {}
        while pos < len(lines) and lines[pos][0] == indent:
            line = lines[pos][1]
            key, sep, rest = line.partition(":")
            if line.startswith("- ") or not sep or (rest and not rest.startswith(" ")):
                raise ValueError(f"not a `key: value` line: {line!r}")
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            pos += 1
            rest = rest.strip()
            if rest:
                out[key] = _scalar(rest)
            elif pos < len(lines) and lines[pos][0] > indent:
                out[key], pos = _block(lines, pos, lines[pos][0])
            else:
                out[key] = None
    if pos < len(lines) and lines[pos][0] > indent:
        raise ValueError(f"unexpected indentation at {lines[pos][1]!r}")
    return out, pos


def load_yaml_subset(text: str) -> dict:
    lines = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in raw:
            raise ValueError("tabs are not YAML indentation")
        lines.append((len(raw) - len(raw.lstrip(" ")), stripped))
    value, pos = _block(lines, 0, lines[0][0])
    assert pos == len(lines)
    assert isinstance(value, dict)
    return value


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, pending = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        name, _, args = line.partition(" ")
        out.append((name.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return out


def instr(name: str) -> list[str]:
    return [args for n, args in dockerfile_instructions() if n == name]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml_subset(COMPOSE.read_text(encoding="utf-8"))


def services_of(compose: dict) -> dict[str, dict]:
    return compose["services"]


# --- the real CLI parser --------------------------------------------------------------------------------


class _Parsed(Exception):
    pass


def parse_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture) -> argparse.Namespace:
    """Parse argv with `services.cli.main`'s own parser and stop before it opens a database."""
    import services.cli as cli

    seen: dict[str, argparse.Namespace] = {}
    real = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        seen["ns"] = real(self, args, namespace)
        return seen["ns"]

    def stop(*_a: object, **_k: object) -> None:
        raise _Parsed

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, "parse_args", spy)
        m.setattr(cli, "Database", stop)
        try:
            cli.main(list(argv))
        except _Parsed:
            return seen["ns"]
        except SystemExit as exc:
            pytest.fail(f"services.cli rejects {argv}: exit {exc.code}: {capsys.readouterr().err}")
    pytest.fail(f"services.cli {argv} did not reach the database step")


def cli_invocations(command: list[str]) -> list[list[str]]:
    """The `python -m services.cli …` argument lists a container command runs (directly or in `sh -c`)."""
    if command[:3] == CLI_PREFIX:
        return [command[3:]]
    if command[:2] == ["sh", "-c"]:
        lexer = shlex.shlex(command[2], posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        found, segment = [], []
        for token in [*lexer, ";"]:
            if token.strip(";&|"):
                segment.append(token)
                continue
            while segment and segment[0] in ("while", "until", "do", "then", "else", "if"):
                segment.pop(0)
            if segment[:3] == CLI_PREFIX:
                found.append(segment[3:])
            segment = []
        return found
    return []


def effective_command(service: dict) -> list[str]:
    if service.get("command") is not None:
        assert isinstance(service["command"], list), "use the exec (list) form for commands"
        return service["command"]
    return exec_form(instr("CMD")[-1])


def sweeps_timers(ns: argparse.Namespace) -> bool:
    return ns.command == "tick" or (ns.command == "serve" and not ns.no_scheduler)


def builds_app(service: dict) -> bool:
    build = service.get("build")
    if not isinstance(build, dict):
        return False
    target = COMPOSE.parent / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    return target.resolve() == DOCKERFILE.resolve()


def app_services(compose: dict) -> set[str]:
    """Services running the app image: built from docker/Dockerfile, or tagged like one that is."""
    services = services_of(compose)
    images = {s.get("image") for s in services.values() if builds_app(s)} - {None}
    return {name for name, s in services.items() if builds_app(s) or s.get("image") in images}


def python_c_url(test: list[str]) -> str:
    """The URL a `python -c "…urlopen('…')…"` healthcheck opens; the code must compile."""
    assert test[:3] == ["CMD", "python", "-c"], test
    compile(test[3], "<healthcheck>", "exec")
    match = re.search(r"urlopen\('([^']+)'", test[3])
    assert match, test[3]
    return match.group(1)


# --- Dockerfile -----------------------------------------------------------------------------------------


def test_dockerfile_base_workdir_user_expose_env() -> None:
    assert instr("FROM") == ["python:3.11-slim"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"
    assert instr("WORKDIR") == ["/app"]
    users = instr("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert instr("EXPOSE") == ["8000"]
    env = {}
    for args in instr("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            env[key] = value
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    assert any("pip install --no-cache-dir ." in run for run in instr("RUN"))


def copy_sources() -> list[str]:
    sources = []
    for args in instr("COPY"):
        parts = shlex.split(args)
        assert not any(p.startswith("--from") for p in parts), "single-stage image"
        sources += [p for p in parts[:-1] if not p.startswith("--")]
    return sources


def test_dockerfile_copies_existing_paths_covering_the_package() -> None:
    sources = copy_sources()
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: no such path in the repository"
    copied = {s.rstrip("/") for s in sources}
    assert "pyproject.toml" in copied
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    for pattern in cfg["packages"]["find"]["include"]:
        top = pattern.rstrip("*").split(".")[0]
        assert top in copied, f"setuptools includes {pattern} but the Dockerfile does not copy {top}/"
    for package, globs in cfg["package-data"].items():
        assert package in copied
        for glob in globs:
            assert list((ROOT / package).glob(glob)), f"package data {package}/{glob} matches nothing"


def _ignore_patterns() -> list[str]:
    patterns = [ln.strip() for ln in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not understood by this check"
    return patterns


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        for pat in patterns:
            if pat.startswith("**/"):
                if fnmatch.fnmatch(parts[i - 1], pat[3:]):
                    return True
            elif fnmatch.fnmatch("/".join(parts[:i]), pat.strip("/")):
                return True
    return False


def test_dockerignore_keeps_what_the_image_copies_and_drops_the_rest() -> None:
    patterns = _ignore_patterns()
    for path in (".venv", ".git", "var", "tests", "bench", "services/__pycache__", "var/carbon.sqlite3"):
        assert _ignored(path, patterns), f".dockerignore must exclude {path}"
    for src in copy_sources():
        base = ROOT / src
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for f in files:
            rel = f.relative_to(ROOT).as_posix()
            if "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            assert not _ignored(rel, patterns), f"{rel}: copied by the Dockerfile, excluded by .dockerignore"


def test_dockerfile_cmd_and_healthcheck(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    cmd = exec_form(instr("CMD")[-1])
    [argv] = cli_invocations(cmd)
    ns = parse_cli(argv, monkeypatch, capsys)
    assert ns.command == "serve" and ns.host == "0.0.0.0" and ns.port == 8000
    [health] = instr("HEALTHCHECK")
    test = exec_form(health.split(" CMD ", 1)[1])
    url = urlsplit(python_c_url(["CMD", *test]))
    assert (url.port, url.path) == (ns.port, "/healthz")


def test_healthz_answers_ok() -> None:
    from fastapi.testclient import TestClient

    from services.api import create_app

    response = TestClient(create_app(db=object())).get("/healthz")  # type: ignore[arg-type]
    assert response.status_code == 200 and response.json() == {"status": "ok"}


# --- compose.yaml ---------------------------------------------------------------------------------------


def test_compose_subset_reader_agrees_with_pyyaml(compose: dict) -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(COMPOSE.read_text(encoding="utf-8")) == compose


def test_compose_services_and_profiles(compose: dict) -> None:
    services = services_of(compose)
    assert set(services) == SERVICES
    assert app_services(compose) == APP_SERVICES
    assert all(builds_app(services[name]) for name in APP_SERVICES), "each app service can build the image"
    for name, service in services.items():
        if name == "prefect-server":
            assert service["profiles"] == ["orchestration"]
        else:
            assert "profiles" not in service, f"{name} must run on a plain `docker compose up`"
        env = service.get("environment") or {}
        if name != "db":
            assert env.get("PREFECT_SERVER_ANALYTICS_ENABLED") == "false", name
            assert env.get("DO_NOT_TRACK") == "1", name


def test_compose_db(compose: dict) -> None:
    db = services_of(compose)["db"]
    assert db["image"] == "postgres:15"
    assert db["healthcheck"]["test"][0] == "CMD-SHELL" and "pg_isready" in db["healthcheck"]["test"][1]
    named = [v.split(":")[0] for v in db["volumes"] if not v.startswith((".", "/"))]
    assert named and all(v in compose["volumes"] for v in named)


def test_compose_app_services_point_at_db(compose: dict) -> None:
    from services.store.engine import _normalise

    services = services_of(compose)
    pg = services["db"]["environment"]
    for name in APP_SERVICES:
        url = services[name]["environment"]["DATABASE_URL"]
        assert _normalise(url).startswith("postgresql+psycopg://"), name
        parts = urlsplit(url)
        assert (parts.hostname, parts.port, parts.username, parts.password, parts.path) == (
            "db", 5432, pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], "/" + pg["POSTGRES_DB"]), name
        assert services[name]["image"] == services["api"]["image"], "one image for every app process"


def test_compose_migrate_api_scheduler_commands(compose: dict, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    from flows.embedded import SWEEP_SECONDS

    services = services_of(compose)
    parsed = {}
    for name in APP_SERVICES:
        calls = cli_invocations(effective_command(services[name]))
        assert len(calls) == 1, f"{name} should run exactly one services.cli command: {calls}"
        parsed[name] = parse_cli(calls[0], monkeypatch, capsys)

    assert parsed["migrate"].command == "migrate"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"].get("restart", "no") == "no"

    api = parsed["api"]
    assert "--no-scheduler" in services["api"]["command"]
    assert (api.command, api.host, api.port, api.workers) == ("serve", "0.0.0.0", 8000, 2)
    assert api.no_scheduler is True
    assert services["api"]["ports"] == [f"{api.port}:{api.port}"]
    assert services["api"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    url = urlsplit(python_c_url(services["api"]["healthcheck"]["test"]))
    assert (url.port, url.path) == (api.port, "/healthz")

    assert parsed["scheduler"].command == "tick"
    script = services["scheduler"]["command"][2]
    assert re.search(r"\bwhile true\b", script) and re.search(rf"\bsleep {SWEEP_SECONDS}\b", script)
    assert services["scheduler"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}


def test_exactly_one_service_sweeps_timers(compose: dict, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    sweepers = []
    for name in sorted(app_services(compose)):
        for argv in cli_invocations(effective_command(services_of(compose)[name])):
            if sweeps_timers(parse_cli(argv, monkeypatch, capsys)):
                sweepers.append(name)
    assert sweepers == ["scheduler"]
    scheduler = services_of(compose)["scheduler"]
    assert (scheduler.get("deploy") or {}).get("replicas", 1) == 1 and scheduler.get("scale", 1) == 1


def test_compose_prefect_server_and_its_database(compose: dict) -> None:
    services = services_of(compose)
    prefect = services["prefect-server"]
    assert prefect["image"] == "prefecthq/prefect:3-python3.11"
    assert prefect["command"] == ["prefect", "server", "start", "--host", "0.0.0.0"]
    assert prefect["ports"] == ["4200:4200"]
    assert prefect["depends_on"] == {"db": {"condition": "service_healthy"}}
    url = urlsplit(prefect["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert url.scheme == "postgresql+asyncpg" and url.hostname == "db"
    database = url.path.lstrip("/")
    assert database and database != services["db"]["environment"]["POSTGRES_DB"], "a database of its own"

    initdb = [v for v in services["db"]["volumes"] if ":/docker-entrypoint-initdb.d" in v]
    assert len(initdb) == 1
    scripts = sorted((COMPOSE.parent / initdb[0].split(":")[0]).glob("*.sql"))
    assert scripts, "no init script where db mounts /docker-entrypoint-initdb.d"
    created = {name.lower() for s in scripts
               for name in re.findall(r"CREATE DATABASE\s+(\w+)", s.read_text(encoding="utf-8"), re.I)}
    assert database in created


# --- the compose client, when there is one ----------------------------------------------------------------


def _compose_cli() -> list[str] | None:
    candidates = [["docker", "compose"], ["docker-compose"]]
    for cand in candidates:
        if shutil.which(cand[0]) is None:
            continue
        try:
            ok = subprocess.run([*cand, "version"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return cand
    return None


def test_compose_client_config() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose client on PATH")
    base = [*cli, "-f", str(COMPOSE)]
    quiet = subprocess.run([*base, "config", "-q"], capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0, quiet.stderr
    for profile, expected in ((None, SERVICES - {"prefect-server"}), ("orchestration", SERVICES)):
        args = [*base, *(["--profile", profile] if profile else []), "config", "--services"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert set(out.stdout.split()) == expected
