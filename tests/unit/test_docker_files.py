"""Static checks of the container files (docker/Dockerfile, docker/compose.yaml, .dockerignore) and of
the Prefect deployments they register (prefect.yaml).

No Docker engine is needed (none is assumed): the files are parsed here, every `python -m services.cli`
command line is run through the real argparse parser of `services.cli` (stopped before it touches a
database) and every `prefect …` command line through the real Prefect CLI parser (cyclopts, parse
only). PyYAML is not a dependency of ours, so compose.yaml and prefect.yaml are read with a small parser
for the YAML subset they are written in (block maps and lists, maps as list items, plain/quoted scalars,
flow lists, full-line comments); when PyYAML happens to be importable the two readings are compared.
When a `docker compose` (or `docker-compose`) client is on PATH, its `config` is run too; it works
client-side, without an engine.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import inspect
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
PREFECT_YAML = ROOT / "prefect.yaml"

SERVICES = {"db", "prefect-server", "migrate", "keygen", "api", "deploy", "worker"}
APP_SERVICES = {"migrate", "keygen", "api", "deploy", "worker"}  # run the image built from docker/Dockerfile
DB_CLIENTS = {"migrate", "api", "worker"}  # need DATABASE_URL (the worker's flow runs use it)
PREFECT_CLIENTS = {"api", "deploy", "worker"}  # need PREFECT_API_URL
POOL = "carbon"
DEPLOYMENTS = {"sweep": "flows/sweep.py:sweep_flow", "dispatch": "flows/dispatch.py:dispatch_flow",
               "campaigns": "flows/campaign.py:campaigns_flow", "publish-log": "flows/transparency.py:publish_log"}
CLI_PREFIX = ["python", "-m", "services.cli"]
PREFECT_PREFIX = ["prefect"]


# --- readers -------------------------------------------------------------------------------------------

# A list item opening a map (`- name: sweep`, `- prefect.deployments.steps.set_working_directory:`),
# as opposed to a scalar item that merely contains a colon (`- pgdata:/var/lib/postgresql/data`).
_MAP_ITEM = re.compile(r"[^\s'\"\[{#&*!|>-][^:]*:(?: |$)")


def _scalar(text: str) -> object:
    if " #" in text:
        raise ValueError(f"inline comment not supported by this reader: {text!r}")
    if text.startswith("["):
        try:
            return json.loads(text)  # JSON-style flow lists
        except json.JSONDecodeError:
            inner = text[1:-1] if text.endswith("]") else ""
            if not inner.strip() or re.search(r"[\[\]{}'\"]", inner):
                raise ValueError(f"flow list not supported by this reader: {text!r}") from None
            return [_scalar(item.strip()) for item in inner.split(",")]  # plain items: [a, b]
    if text.startswith('"'):
        return json.loads(text)
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
    if re.fullmatch(r"-?\d+\.\d*(e[-+]?\d+)?|-?\d+e[-+]?\d+", text, re.I):
        raise ValueError(f"floats are not supported by this reader: {text!r}")
    return text


def _block(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[object, int]:
    out: object
    if lines[pos][1].startswith("- "):
        out = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            rest = lines[pos][1][2:]
            item = rest.strip()
            if _MAP_ITEM.match(item):
                # `- key: value` opens a map: its first key sits on the dash's line, the others below it
                lines[pos] = (indent + 2 + len(rest) - len(rest.lstrip(" ")), item)
                value, pos = _block(lines, pos, lines[pos][0])
                out.append(value)
            else:
                out.append(_scalar(item))
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


def test_subset_reader_handles_the_forms_used() -> None:
    text = "a:\n  - x: 1\n    y: [p, q]\n  - plain:/path\n  - 'q:x'\nb:\n  - k:\n      d: /app\n"
    assert load_yaml_subset(text) == {"a": [{"x": 1, "y": ["p", "q"]}, "plain:/path", "q:x"],
                                      "b": [{"k": {"d": "/app"}}]}
    for bad in ("a: 1 # note\n", "a: {b: 1}\n", "a: &x 1\n", "a: 1.5\n"):
        with pytest.raises(ValueError):
            load_yaml_subset(bad)


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


def image_env() -> dict[str, str]:
    env = {}
    for args in instr("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def workdir() -> str:
    [path] = instr("WORKDIR")
    return path


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml_subset(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def prefect_yaml() -> dict:
    return load_yaml_subset(PREFECT_YAML.read_text(encoding="utf-8"))


def services_of(compose: dict) -> dict[str, dict]:
    return compose["services"]


# --- the real command-line parsers ----------------------------------------------------------------------


class _Parsed(Exception):
    pass


def parse_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture) -> argparse.Namespace:
    """Parse argv with `services.cli.main`'s own parser and stop before it opens a database (or, for
    `keygen`, before it writes a key file)."""
    import services.cli as cli

    seen: dict[str, argparse.Namespace] = {}
    real = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):
        seen["ns"] = real(self, args, namespace)
        return seen["ns"]

    def stop(*_a: object, **_k: object) -> None:
        raise _Parsed

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, "parse_args", spy)
        m.setattr(cli, "Database", stop)
        m.setattr("flows.worker.run", stop)  # `worker` checks its database itself
        m.setattr("services.transparency.keys.keygen", stop)  # `keygen` opens no database: it writes the key
        try:
            cli.main(list(argv))
        except _Parsed:
            return seen["ns"]
        except SystemExit as exc:
            pytest.fail(f"services.cli rejects {argv}: exit {exc.code}: {capsys.readouterr().err}")
    pytest.fail(f"services.cli {argv} did not reach the database step")


def parse_prefect(argv: list[str]) -> tuple[str, dict[str, object]]:
    """Parse `prefect <argv>` with Prefect's own CLI parser (cyclopts), without running it:
    ("<module>.<command function>", bound arguments)."""
    from prefect.cli._app import _app

    try:
        command, bound, _ = _app.parse_args(list(argv), exit_on_error=False, print_error=False)
    except Exception as exc:
        pytest.fail(f"the prefect CLI rejects {argv}: {type(exc).__name__}: {exc}")
    return f"{command.__module__}.{command.__name__}", dict(bound.arguments)


def invocations(command: list[str], prefix: list[str]) -> list[list[str]]:
    """The argument lists after `prefix` that a container command runs (directly or in `sh -c`)."""
    if command[:len(prefix)] == prefix:
        return [command[len(prefix):]]
    if command[:2] == ["sh", "-c"]:
        lexer = shlex.shlex(command[2], posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        found, segment = [], []
        for token in [*lexer, ";"]:
            if token.strip(";&|"):
                segment.append(token)
                continue
            while segment and segment[0] in ("while", "until", "do", "then", "else", "if", "exec"):
                segment.pop(0)
            if segment[:len(prefix)] == prefix:
                found.append(segment[len(prefix):])
            segment = []
        return found
    return []


def cli_invocations(command: list[str]) -> list[list[str]]:
    return invocations(command, CLI_PREFIX)


def effective_command(service: dict) -> list[str]:
    if service.get("command") is not None:
        assert isinstance(service["command"], list), "use the exec (list) form for commands"
        return service["command"]
    return exec_form(instr("CMD")[-1])


def sweeps_timers(ns: argparse.Namespace) -> bool:
    """A services.cli process that fires timers: `tick`, `sweep`, or `serve` with its APScheduler."""
    return ns.command in ("tick", "sweep") or (ns.command == "serve" and not ns.no_scheduler)


def prefect_workers(service: dict) -> list[dict[str, object]]:
    """The bound arguments of every Prefect worker the service runs: `prefect worker start`, or
    `services.cli worker` (which starts one, its options read through services.cli's own parser)."""
    import flows.worker
    import services.cli as cli

    out = []
    for argv in invocations(effective_command(service), PREFECT_PREFIX):
        name, args = parse_prefect(argv)
        if name == "prefect.cli.worker.start":
            out.append(args)
    for argv in cli_invocations(effective_command(service)):
        if argv[:1] != ["worker"]:
            continue
        seen: dict[str, object] = {}

        def started(pool: str, grace: float, extra: list[str], handoff: bool = True,
                    seen: dict[str, object] = seen) -> int:
            seen.update(work_pool_name=pool, worker_type="process", grace=grace, handoff=handoff,
                        with_healthcheck="--with-healthcheck" in extra)
            return 0

        with mock.patch.object(flows.worker, "run", started):
            assert cli.main(list(argv)) == 0
        out.append(seen)
    return out


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


def local_health_url(test: list[str]) -> tuple[int | None, str]:
    url = urlsplit(python_c_url(test))
    assert url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost"), url.geturl()
    return url.port, url.path


# --- Dockerfile -----------------------------------------------------------------------------------------


def test_dockerfile_base_workdir_user_expose_env() -> None:
    assert instr("FROM") == ["python:3.11-slim"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"
    assert workdir() == "/app"
    users = instr("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert instr("EXPOSE") == ["8000"]
    env = image_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    runs = " ".join(instr("RUN"))
    assert "pip install --no-cache-dir ." in runs
    # `pip install .` is what puts the prefect CLI (worker, deploy) into the image
    assert any(re.match(r"prefect\s*[<>=~]", dep) for dep in project["dependencies"])
    # the Prefect CLI writes under PREFECT_HOME: a directory the non-root user owns (/app itself is root's)
    home = env["PREFECT_HOME"]
    assert home.startswith(workdir() + "/var/"), home
    assert f"mkdir -p {home}" in runs and re.search(r"chown -R \S+ /app/var\b", runs)


def copies() -> list[tuple[list[str], str]]:
    out = []
    for args in instr("COPY"):
        parts = shlex.split(args)
        assert not any(p.startswith("--from") for p in parts), "single-stage image"
        parts = [p for p in parts if not p.startswith("--")]
        out.append((parts[:-1], parts[-1]))
    return out


def copy_sources() -> list[str]:
    return [src for sources, _ in copies() for src in sources]


def copied_to(source: str) -> str:
    """The absolute path in the image a COPY puts `source` at."""
    for sources, dest in copies():
        if source in sources:
            base = posixpath.join(workdir(), dest)
            if dest.endswith("/") or dest in (".", "./"):
                return posixpath.normpath(posixpath.join(base, posixpath.basename(source)))
            return posixpath.normpath(base)
    pytest.fail(f"the Dockerfile does not COPY {source}")


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
    # `prefect deploy --all` reads prefect.yaml from the working directory
    assert copied_to("prefect.yaml") == posixpath.join(workdir(), "prefect.yaml")


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
    for path in (".venv", ".git", "var", "tests", "bench", "services/__pycache__", "var/carbon.sqlite3",
                 ".prefect"):
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
    assert local_health_url(["CMD", *test]) == (ns.port, "/healthz")


def test_healthz_answers_ok() -> None:
    from fastapi.testclient import TestClient

    from services.api import create_app

    response = TestClient(create_app(db=object())).get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


# --- prefect.yaml ---------------------------------------------------------------------------------------


def deployments(prefect_yaml: dict) -> dict[str, dict]:
    items = prefect_yaml["deployments"]
    names = [d["name"] for d in items]
    assert len(names) == len(set(names)), f"duplicate deployment names: {names}"
    return {d["name"]: d for d in items}


def test_yaml_subset_reader_agrees_with_pyyaml(compose: dict, prefect_yaml: dict) -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(COMPOSE.read_text(encoding="utf-8")) == compose
    assert yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8")) == prefect_yaml


def test_prefect_yaml_deployments_on_the_pool(prefect_yaml: dict) -> None:
    found = deployments(prefect_yaml)
    assert set(found) == set(DEPLOYMENTS)
    for name, deployment in found.items():
        assert deployment["entrypoint"] == DEPLOYMENTS[name]
        assert deployment["work_pool"]["name"] == POOL, name
        schedules = deployment.get("schedules") or []
        assert schedules, f"{name}: a deployment with no schedule never runs by itself"
        for schedule in schedules:
            kinds = {"interval", "cron", "rrule"} & set(schedule)
            assert len(kinds) == 1, f"{name}: {schedule}"
            if "interval" in schedule:
                assert isinstance(schedule["interval"], int) and schedule["interval"] > 0, schedule
            if "cron" in schedule:
                assert len(str(schedule["cron"]).split()) == 5, schedule
    sweep = found["sweep"]
    assert any("interval" in s for s in sweep["schedules"]), "the sweep runs on an interval"
    # one sweep at a time, however many workers poll the pool
    assert sweep.get("concurrency_limit") == 1, "sweep: concurrency_limit 1"


def test_prefect_yaml_entrypoints_are_flows(prefect_yaml: dict) -> None:
    from prefect import Flow

    copied = {s.rstrip("/") for s in copy_sources()}
    for name, deployment in deployments(prefect_yaml).items():
        path, _, attribute = deployment["entrypoint"].partition(":")
        assert path.endswith(".py") and attribute, deployment["entrypoint"]
        assert (ROOT / path).is_file(), f"{name}: no file {path}"
        assert path.split("/")[0] in copied, f"{name}: {path} is not copied into the image"
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, attribute, None)
        assert isinstance(flow, Flow), f"{name}: {deployment['entrypoint']} is not a Prefect flow"
        assert flow.name == name, f"deployment {name} runs flow {flow.name!r}"
        accepted = inspect.signature(flow.fn).parameters
        for parameter in deployment.get("parameters") or {}:
            assert parameter in accepted, f"{name}: {flow.name} takes no parameter {parameter!r}"


def test_prefect_yaml_runs_flows_from_the_configured_directory(prefect_yaml: dict, compose: dict,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The pull step names no path of the image: Prefect fills `{{ $CARBON_APP_DIR }}` from the worker's
    environment when a run starts (prefect.deployments.steps.core.run_step), which the compose worker
    sets to the image's working directory (outside Docker, `services.cli worker` to its checkout)."""
    import prefect
    from prefect.utilities.templating import apply_values

    steps = prefect_yaml["pull"]
    directories = [s["prefect.deployments.steps.set_working_directory"]["directory"] for s in steps
                   if "prefect.deployments.steps.set_working_directory" in s]
    assert directories == ["{{ $CARBON_APP_DIR }}"], "no path of the image in prefect.yaml"
    worker_env = services_of(compose)["worker"]["environment"]
    monkeypatch.setenv("CARBON_APP_DIR", worker_env["CARBON_APP_DIR"])  # `$` placeholders read os.environ
    resolved = apply_values({"directory": directories[0]}, worker_env)["directory"]
    assert resolved == workdir(), "the worker's flow runs must start where the image has the code"
    version = str(prefect_yaml["prefect-version"])
    assert version.split(".")[:2] == prefect.__version__.split(".")[:2], (version, prefect.__version__)


# --- compose.yaml ---------------------------------------------------------------------------------------


def test_compose_services_and_profiles(compose: dict) -> None:
    services = services_of(compose)
    assert set(services) == SERVICES
    assert app_services(compose) == APP_SERVICES
    assert all(builds_app(services[name]) for name in APP_SERVICES), "each app service can build the image"
    assert len({services[name]["image"] for name in APP_SERVICES}) == 1, "one image for every app process"
    for name, service in services.items():
        assert "profiles" not in service, f"{name} must run on a plain `docker compose up`"
        env = service.get("environment") or {}
        if name != "db":
            assert env.get("PREFECT_SERVER_ANALYTICS_ENABLED") == "false", name
            assert env.get("DO_NOT_TRACK") == "1", name
        assert env.get("SCHEDULER", "prefect") == "prefect", f"{name}: APScheduler stays off in this shape"


def test_compose_db(compose: dict) -> None:
    db = services_of(compose)["db"]
    assert db["image"] == "postgres:15"
    test = db["healthcheck"]["test"]
    pg = db["environment"]
    assert test[0] == "CMD-SHELL" and "pg_isready" in test[1]
    assert f"-U {pg['POSTGRES_USER']}" in test[1] and f"-d {pg['POSTGRES_DB']}" in test[1]
    named = [v.split(":")[0] for v in db["volumes"] if not v.startswith((".", "/"))]
    assert named and all(v in compose["volumes"] for v in named)


def test_compose_database_urls_match_db(compose: dict) -> None:
    from services.store.engine import _normalise

    services = services_of(compose)
    pg = services["db"]["environment"]
    users = {name for name, s in services.items() if "DATABASE_URL" in (s.get("environment") or {})}
    assert users == DB_CLIENTS
    for name in DB_CLIENTS:
        url = services[name]["environment"]["DATABASE_URL"]
        assert _normalise(url).startswith("postgresql+psycopg://"), name
        parts = urlsplit(url)
        assert (parts.hostname, parts.port, parts.username, parts.password, parts.path) == (
            "db", 5432, pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], "/" + pg["POSTGRES_DB"]), name
        assert services[name]["depends_on"], f"{name} must wait for the database"


def test_compose_prefect_server_and_its_database(compose: dict, prefect_yaml: dict) -> None:
    services = services_of(compose)
    prefect = services["prefect-server"]
    assert prefect["image"] == f"prefecthq/prefect:{prefect_yaml['prefect-version']}-python3.11"
    name, args = parse_prefect(invocations(prefect["command"], PREFECT_PREFIX)[0])
    assert prefect["command"][0] == "prefect" and name == "prefect.cli.server.start"
    assert args.get("host") == "0.0.0.0"
    port = args.get("port", 4200)
    assert prefect["ports"] == [f"{port}:{port}"]
    assert prefect["depends_on"] == {"db": {"condition": "service_healthy"}}
    env = prefect["environment"]
    # the UI runs in the browser: it reaches the API at the published port
    assert env["PREFECT_UI_API_URL"] == f"http://localhost:{port}/api"
    assert local_health_url(prefect["healthcheck"]["test"]) == (port, "/api/health")

    pg = services["db"]["environment"]
    url = urlsplit(env["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert url.scheme == "postgresql+asyncpg"
    assert (url.hostname, url.port, url.username, url.password) == (
        "db", 5432, pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
    database = url.path.lstrip("/")
    assert database and database != pg["POSTGRES_DB"], "a database of its own"

    initdb = [v for v in services["db"]["volumes"] if ":/docker-entrypoint-initdb.d" in v]
    assert len(initdb) == 1
    scripts = sorted((COMPOSE.parent / initdb[0].split(":")[0]).glob("*.sql"))
    assert scripts, "no init script where db mounts /docker-entrypoint-initdb.d"
    created = {name.lower() for s in scripts
               for name in re.findall(r"CREATE DATABASE\s+(\w+)", s.read_text(encoding="utf-8"), re.I)}
    assert database in created


def test_compose_prefect_clients_reach_the_server(compose: dict) -> None:
    services = services_of(compose)
    _, args = parse_prefect(invocations(services["prefect-server"]["command"], PREFECT_PREFIX)[0])
    api = f"http://prefect-server:{args.get('port', 4200)}/api"
    users = {name for name, s in services.items() if "PREFECT_API_URL" in (s.get("environment") or {})}
    assert users == PREFECT_CLIENTS
    for name in PREFECT_CLIENTS:
        assert services[name]["environment"]["PREFECT_API_URL"] == api, name


def test_compose_migrate_and_api_commands(compose: dict, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    services = services_of(compose)
    parsed = {}
    for name in ("migrate", "api"):
        calls = cli_invocations(effective_command(services[name]))
        assert len(calls) == 1, f"{name} should run exactly one services.cli command: {calls}"
        parsed[name] = parse_cli(calls[0], monkeypatch, capsys)

    assert parsed["migrate"].command == "migrate"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"].get("restart", "no") == "no"
    assert services["migrate"]["healthcheck"] == {"disable": True}

    api = parsed["api"]
    assert "--no-scheduler" in services["api"]["command"]
    assert (api.command, api.host, api.port, api.workers) == ("serve", "0.0.0.0", 8000, 2)
    assert api.no_scheduler is True
    env = services["api"]["environment"]
    assert env["SCHEDULER"] == "prefect"
    assert env["PREFECT_UI_URL"] == "http://localhost:" + services["prefect-server"]["ports"][0].split(":")[0]
    # host port(s) from API_PORTS (a range when scaled out), 8000 by default
    [ports] = services["api"]["ports"]
    match = re.fullmatch(r"\$\{API_PORTS:-(\d+)\}:(\d+)", ports)
    assert match and (int(match.group(1)), int(match.group(2))) == (api.port, api.port), ports
    assert "container_name" not in services["api"], "a fixed container name cannot be scaled"
    assert services["api"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                             "keygen": {"condition": "service_completed_successfully"}}
    # ready: the database reachable and migrated, Prefect reachable (what the smoke script waits for)
    assert local_health_url(services["api"]["healthcheck"]["test"]) == (api.port, "/readyz")


def test_compose_deploy_registers_the_deployments(compose: dict, prefect_yaml: dict) -> None:
    services = services_of(compose)
    deploy = services["deploy"]
    command = deploy["command"]
    assert command[:2] == ["sh", "-c"]
    calls = [parse_prefect(argv) for argv in invocations(command, PREFECT_PREFIX)]
    assert [name for name, _ in calls] == [
        "prefect.cli.work_pool.create", "prefect.cli.deploy._commands.deploy"]
    (_, pool), (_, deploy_args) = calls
    assert pool == {"name": POOL, "type": "process", "overwrite": True}
    assert deploy_args.get("deploy_all") is True
    assert "prefect_file" not in deploy_args, "prefect.yaml is read from the working directory"
    # the pool exists already on a second `up`: that must not stop the deployments being applied
    assert re.search(r"--overwrite \|\| true;", command[2])
    # `prefect deploy` reads ./prefect.yaml: the working directory is where the image has it
    assert posixpath.join(deploy.get("working_dir", workdir()), "prefect.yaml") == copied_to("prefect.yaml")
    assert deploy["environment"].get("PREFECT_CLI_PROMPT") == "false"
    assert deploy["depends_on"] == {"prefect-server": {"condition": "service_healthy"},
                                    "migrate": {"condition": "service_completed_successfully"}}
    assert deploy.get("restart", "no") == "no"
    assert deploy["healthcheck"] == {"disable": True}
    assert {d["work_pool"]["name"] for d in deployments(prefect_yaml).values()} == {pool["name"]}


def test_compose_worker(compose: dict, prefect_yaml: dict) -> None:
    services = services_of(compose)
    worker = services["worker"]
    [args] = prefect_workers(worker)
    assert args["work_pool_name"] == POOL and args["worker_type"] == "process"
    env = worker["environment"]
    assert env["SCHEDULER"] == "prefect"
    assert worker["depends_on"] == {"deploy": {"condition": "service_completed_successfully"},
                                    "keygen": {"condition": "service_completed_successfully"}}
    # the image's HEALTHCHECK probes the API, which does not run here: the worker brings its own
    health = worker["healthcheck"]
    assert args.get("with_healthcheck") is True
    port = int(env.get("PREFECT_WORKER_WEBSERVER_PORT", 8080))
    assert local_health_url(health["test"]) == (port, "/health")
    assert worker.get("working_dir", workdir()) == workdir()
    assert worker.get("init") is True
    # SIGTERM: the worker's own grace ends before compose's stop_grace_period kills it
    assert args["grace"] < int(str(worker["stop_grace_period"]).removesuffix("s"))


def _mounts(service: dict) -> dict[str, tuple[str, bool]]:
    """Named volumes of a service: volume -> (path inside, read-only)."""
    out = {}
    for spec in service.get("volumes") or []:
        name, path, *mode = spec.split(":")
        if not name.startswith((".", "/")):
            out[name] = (path, mode == ["ro"])
    return out


def test_only_the_worker_holds_the_logs_private_key(compose: dict, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    """keygen creates the key on `log-keys`, mounted by the worker alone (publish-log signs there; its
    witness file is written beside the key); the API serves and checks with the verifier keys keygen
    exports to `log-public`, mounted read-only, and never sees the private key."""
    services = services_of(compose)
    keygen, worker, api = services["keygen"], services["worker"], services["api"]
    [call] = [parse_cli(argv, monkeypatch, capsys) for argv in cli_invocations(effective_command(keygen))]
    assert call.command == "keygen" and not call.rotate
    key_file = keygen["environment"]["LOG_SIGNING_KEY_FILE"]
    assert worker["environment"]["LOG_SIGNING_KEY_FILE"] == key_file
    holders = {name for name, s in services.items() if "log-keys" in _mounts(s)}
    assert holders == {"keygen", "worker"}
    for name in ("keygen", "worker"):
        path, read_only = _mounts(services[name])["log-keys"]
        assert posixpath.dirname(key_file) == path and not read_only, name  # the witness is written there
    exported = str(call.export_verifiers)
    assert api["environment"]["LOG_TRUSTED_KEYS_FILE"] == exported
    assert "LOG_SIGNING_KEY_FILE" not in api["environment"] and "LOG_SIGNING_KEY" not in api["environment"]
    path, read_only = _mounts(api)["log-public"]
    assert posixpath.dirname(exported) == path and read_only
    assert _mounts(keygen)["log-public"] == (path, False)
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["keygen"] == {"condition": "service_completed_successfully"}
    assert {"log-keys", "log-public"} <= set(compose["volumes"])
    # the image creates both mount points owned by its user (a named volume starts with that owner)
    assert re.search(r"mkdir -p [^&]*/app/var/log-keys", DOCKERFILE.read_text())
    assert re.search(r"chmod 700 /app/var/log-keys", DOCKERFILE.read_text())


def test_non_api_app_services_override_the_image_healthcheck(compose: dict,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    services = services_of(compose)
    for name in sorted(APP_SERVICES):
        command = effective_command(services[name])
        calls = [parse_cli(argv, monkeypatch, capsys) for argv in cli_invocations(command)]
        if not any(ns.command == "serve" for ns in calls):
            assert "healthcheck" in services[name], f"{name} would inherit the image's API healthcheck"


def test_exactly_one_service_sweeps_timers(compose: dict, prefect_yaml: dict,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    services = services_of(compose)
    # no services.cli process fires timers: no `tick`/`sweep`, no `serve` with its APScheduler
    for name in sorted(app_services(compose)):
        for argv in cli_invocations(effective_command(services[name])):
            assert not sweeps_timers(parse_cli(argv, monkeypatch, capsys)), f"{name} runs {argv}"
    # the sweep runs as the `sweep` deployment, on the pool only the `worker` service polls
    sweep_pool = deployments(prefect_yaml)["sweep"]["work_pool"]["name"]
    sweepers = sorted(name for name, s in services.items()
                      if any(args["work_pool_name"] == sweep_pool for args in prefect_workers(s)))
    assert sweepers == ["worker"]


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
    env = {k: v for k, v in os.environ.items() if k != "API_PORTS"}
    quiet = subprocess.run([*base, "config", "-q"], capture_output=True, text=True, timeout=60, env=env)
    assert quiet.returncode == 0, quiet.stderr
    out = subprocess.run([*base, "config", "--services"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == SERVICES
    for api_ports, published in ((None, "8000"), ("8000-8002", "8000-8002")):
        run_env = env if api_ports is None else {**env, "API_PORTS": api_ports}
        out = subprocess.run([*base, "config", "--format", "json"], capture_output=True, text=True,
                             timeout=60, env=run_env)
        assert out.returncode == 0, out.stderr
        [port] = json.loads(out.stdout)["services"]["api"]["ports"]
        assert (str(port["published"]), port["target"]) == (published, 8000)
