"""HTTP throughput of the case read endpoint and the app's memory, under uvicorn with several workers.

    python bench/http_load.py [--db postgres|sqlite] [--cases 10000] [--workers 1,2,4] [--duration 15]
                              [--connections 16] [--user sh_case_officer] [--tool wrk|httpx]

A fresh schema (`bench_http`) is filled by `bench.generate.generate`; then, for each worker count, the
app is started as operators run it — `uvicorn services.api:app --workers N` with `DATABASE_URL` naming the
schema and `SCHEDULER=off` — and loaded for `--duration` seconds with `GET /api/v1/cases/{id}` over
loopback, ids drawn at random from the user's jurisdiction's cases (every answer must be 200). The load
generator is `wrk` (Debian package `wrk`; 2 threads) when installed, else a thread pool of httpx
clients; either way it shares the machine's CPUs with the server, which the figures include.

Memory (from /proc, the uvicorn supervisor and its workers): resident set at idle (after start-up and
one request per worker's worth of warm-up), the largest total seen while sampling every 0.25 s under load,
and each process's peak (VmHWM). Nothing is asserted; results go to bench/results/http-<db>-<date>.md
and a .json the suite reads.

`--ratio` (issue 14's read-path target, `GET /api/v1/cases/{id}` at >= 0.5x the reference): one server,
`uvicorn bench.reference_app:app` (the application as operators run it plus `GET /bench/reference/{id}`,
which reads one case row through the same stack: see bench/reference_app.py), one worker; the two
endpoints are loaded in turns of `--duration` seconds (`--rounds` pairs, who goes first alternating)
over the same case ids by a small asyncio HTTP/1.1 keep-alive client (`--connections` connections; it
spends far less CPU per request than the server, which shares the machine with it). Prints each turn's
requests/s, the ratio case/reference per round and its median, and the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.common import PG_URL, RESULTS, fresh_database, machine, md_table, percentile
from bench.generate import generate

SCHEMA = "bench_http"
IDS = 2000  # case ids the load draws from


# --- the server and its memory ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """The supervisor and its workers (uvicorn's multiprocess mode also has a resource tracker)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


class Server:
    def __init__(self, database_url: str, workers: int, app: str = "services.api:app") -> None:
        self.port = _free_port()
        # the app logs every request: to a file, not a pipe nobody reads (a full pipe stops the server)
        self.log = tempfile.TemporaryFile()
        env = {**os.environ, "DATABASE_URL": database_url, "SCHEDULER": "off", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"

    def wait(self, timeout: float = 90) -> None:
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"uvicorn exited: {self.log.read().decode()[-2000:]}")
            try:
                # one worker runs in the supervisor's process; more are its children
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200 and \
                        len(tree(self.proc.pid)) >= (1 if self.workers == 1 else self.workers + 1):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit("uvicorn did not answer /healthz in time")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far."""
        ticks = 0
        for pid in tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        return sum(_kib(p, "VmRSS") for p in tree(self.proc.pid))

    def peaks_kib(self) -> list[int]:
        return [_kib(p, "VmHWM") for p in tree(self.proc.pid)]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Sampler(threading.Thread):
    """The server's total resident set, every 0.25 s, while the load runs."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server, self.samples, self.stopped = server, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            self.samples.append(self.server.rss_kib())


# --- load -----------------------------------------------------------------------------------------


WRK_SCRIPT = """
ids = {%s}
math.randomseed(7)
request = function()
  return wrk.format("GET", "/api/v1/cases/" .. ids[math.random(#ids)], {["Authorization"] = "Bearer %s"})
end
"""


def load_wrk(url: str, ids: list[int], token: str, duration: int, connections: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % (",".join(map(str, ids)), token))
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", f.name, url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {q: _ms(m.group(1)) for q, m in ((q, re.search(rf"^\s+{q}%\s+([\d.]+\w+)", out, re.M))
                                            for q in ("50", "90", "99")) if m}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": lat.get("50"), "p90": lat.get("90"), "p99": lat.get("99"), "requests": total,
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else "",
            "tool": f"wrk -t2 -c{connections} -d{duration}s"}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_httpx(url: str, ids: list[int], token: str, duration: int, connections: int) -> dict[str, Any]:
    import httpx

    stop = time.perf_counter() + duration
    headers = {"Authorization": f"Bearer {token}"}

    def worker(seed: int) -> tuple[list[float], int]:
        rng, times, bad = random.Random(seed), [], 0
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = client.get(f"/api/v1/cases/{rng.choice(ids)}")
                times.append((time.perf_counter() - t0) * 1000)
                bad += r.status_code != 200
        return times, bad

    t0 = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(worker, range(connections)))
    elapsed = time.perf_counter() - t0
    times = [t for ts, _ in results for t in ts]
    return {"rps": len(times) / elapsed, "p50": percentile(times, 50), "p90": percentile(times, 90),
            "p99": percentile(times, 99), "requests": len(times), "non_2xx": sum(b for _, b in results),
            "socket_errors": "", "tool": f"httpx, {connections} threads, {duration}s"}


async def _raw_load(port: int, paths: list[str], token: str, duration: float, connections: int) -> dict[str, Any]:
    """HTTP/1.1 keep-alive GETs over `connections` sockets for `duration` seconds; requests/s and the
    statuses seen. The requests are prebuilt bytes and a response is read by its Content-Length, so the
    client's own CPU per request is small next to the server's."""
    import asyncio

    requests = [(f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
                for p in paths]
    loop = asyncio.get_running_loop()
    stop = loop.time() + duration
    done, bad = [0], [0]

    async def client(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        try:
            while loop.time() < stop:
                writer.write(requests[i % len(requests)])
                i += connections
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                done[0] += 1
                bad[0] += status != 200
        finally:
            writer.close()

    t0 = loop.time()
    await asyncio.gather(*(client(k) for k in range(connections)))
    return {"rps": done[0] / (loop.time() - t0), "requests": done[0], "non_2xx": bad[0]}


def ratio(database_url: str, ids: list[int], token: str, args: argparse.Namespace) -> dict[str, Any]:
    """The case read against the reference endpoint, in turns on one server (see the module's note)."""
    import asyncio

    import httpx

    from bench.reference_app import PATH

    server = Server(database_url, 1, app="bench.reference_app:app")
    endpoints = {"case": [f"/api/v1/cases/{i}" for i in ids],
                 "reference": [PATH.format(case_id=i) for i in ids]}
    try:
        server.wait()
        for paths in endpoints.values():  # warm-up, and every answer must be 200
            for path in paths[:20]:
                r = httpx.get(server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                if r.status_code != 200:
                    raise SystemExit(f"GET {path} answered {r.status_code}: {r.text[:300]}")
        rates: dict[str, list[float]] = {"case": [], "reference": []}
        cpu: dict[str, list[float]] = {"case": [], "reference": []}  # the app's CPU ms a request
        bad = 0
        for r in range(args.rounds):
            for name in (["case", "reference"] if r % 2 == 0 else ["reference", "case"]):
                c0 = server.cpu_seconds()
                got = asyncio.run(_raw_load(server.port, endpoints[name], token, args.duration, args.connections))
                cpu[name].append((server.cpu_seconds() - c0) * 1000 / max(1, got["requests"]))
                rates[name].append(got["rps"])
                bad += got["non_2xx"]
            print(f"  round {r + 1}/{args.rounds}: case {rates['case'][-1]:,.0f} requests/s "
                  f"({cpu['case'][-1]:.1f} app CPU ms each), reference {rates['reference'][-1]:,.0f} requests/s "
                  f"({cpu['reference'][-1]:.1f} ms), ratio {rates['case'][-1] / rates['reference'][-1]:.2f}"
                  f"; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    finally:
        server.stop()
    ratios = [c / f for c, f in zip(rates["case"], rates["reference"], strict=True)]
    return {"case_rps": statistics.median(rates["case"]), "reference_rps": statistics.median(rates["reference"]),
            "case_cpu_ms": statistics.median(cpu["case"]), "reference_cpu_ms": statistics.median(cpu["reference"]),
            "ratio": statistics.median(ratios), "ratios": ratios, "non_2xx": bad,
            "load_average": os.getloadavg()}


# --- one run --------------------------------------------------------------------------------------


def run(database_url: str, workers: int, ids: list[int], token: str, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    server = Server(database_url, workers)
    try:
        server.wait()
        for cid in ids[:20]:  # warm-up, and every answer must be a case
            r = httpx.get(f"{server.url}/api/v1/cases/{cid}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if r.status_code != 200:
                raise SystemExit(f"GET /api/v1/cases/{cid} answered {r.status_code}: {r.text[:300]}")
        time.sleep(1)
        idle = server.rss_kib()
        processes = len(tree(server.proc.pid))
        sampler = Sampler(server)
        sampler.start()
        tool = load_wrk if args.tool == "wrk" else load_httpx
        figures = tool(server.url, ids, token, args.duration, args.connections)
        sampler.stopped.set()
        sampler.join()
        peaks = server.peaks_kib()
        return {"workers": workers, **figures, "idle_mib": idle / 1024,
                "load_mib": max(sampler.samples or [idle]) / 1024, "peak_mib": sum(peaks) / 1024,
                "worker_peak_mib": max(peaks) / 1024, "processes": processes}
    finally:
        server.stop()


def schema_url(schema: str) -> str:
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options={quote(f'-csearch_path={schema}')}"


HEAD = ("workers", "requests/s", "p50 ms", "p90 ms", "p99 ms", "requests", "non-2xx", "RSS idle MiB",
        "RSS under load MiB (max total)", "peak RSS MiB (sum of VmHWM; largest process)", "processes")


def rows_of(results: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["workers"], f"{r['rps']:,.0f}", f"{r['p50']:.1f}", f"{r['p90']:.1f}", f"{r['p99']:.1f}",
             f"{r['requests']:,}", r["non_2xx"], f"{r['idle_mib']:.0f}", f"{r['load_mib']:.0f}",
             f"{r['peak_mib']:.0f}; {r['worker_peak_mib']:.0f}", r["processes"]) for r in results]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--user", default="sh_case_officer")
    p.add_argument("--tool", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--ratio", action="store_true",
                   help="requests/s of the case read against the reference endpoint (bench/reference_app.py)")
    p.add_argument("--rounds", type=int, default=5, help="--ratio: pairs of turns")
    args = p.parse_args(argv)
    print(f"http load {date.today()}: {machine()}", flush=True)
    fresh = fresh_database(args.db, prefix="bench-http-", schema=SCHEMA)
    results = []
    try:
        stats = generate(fresh.db, args.cases, args.seed)
        token = f"demo-{args.user}"
        jurisdiction = args.user.split("_", 1)[0].upper()
        with fresh.db.reader.connect() as conn:
            ids = list(conn.execute(sa.text("SELECT id FROM cases WHERE jurisdiction = :j ORDER BY id"),
                                    {"j": jurisdiction}).scalars())
        ids = random.Random(args.seed).sample(ids, min(IDS, len(ids)))
        url = schema_url(SCHEMA) if args.db == "postgres" else str(fresh.db.url)
        print(f"  {args.cases:,} cases generated ({stats['seconds']:.0f}s); load: {args.tool}, "
              f"{len(ids)} {jurisdiction} case ids as {args.user}", flush=True)
        if args.ratio:
            return report_ratio(ratio(url, ids, token, args), fresh.version, args)
        for n in (int(w) for w in args.workers.split(",")):
            r = run(url, n, ids, token, args)
            results.append(r)
            print(f"  {n} worker(s): {r['rps']:,.0f} requests/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
                  f"{r['non_2xx']} non-2xx; RSS idle {r['idle_mib']:.0f} MiB, under load {r['load_mib']:.0f} MiB, "
                  f"peak {r['peak_mib']:.0f} MiB ({r['processes']} processes)", flush=True)
    finally:
        fresh.cleanup()
    path = write_result(f"http-{args.db}", f"HTTP load and memory — {args.db}", f"{fresh.version}, {fresh.location}", [
        f"- server: `uvicorn services.api:app --workers N` (SCHEDULER=off), loopback; load generator on the same "
        f"machine: {results[0]['tool'] if results else args.tool}",
        f"- request: `GET /api/v1/cases/{{id}}` as `{args.user}`, {len(ids)} case ids of {jurisdiction} drawn "
        f"at random, {args.cases:,} cases generated by bench/generate.py",
        "- RSS: /proc VmRSS of the uvicorn supervisor and its workers; peak: VmHWM; nothing is asserted", "",
        md_table(HEAD, rows_of(results)), ""])
    path.with_suffix(".json").write_text(json.dumps({"db": args.db, "head": HEAD, "rows": rows_of(results),
                                                     "runs": results}, indent=1))
    print(f"written {path.relative_to(ROOT)}")
    return 0 if all(r["non_2xx"] == 0 for r in results) else 1


def write_result(stem: str, title: str, database: str, lines: list[str]) -> Path:
    """bench/results/<stem>-<date>.md: the title, the command, the machine and database, then `lines`."""
    today = date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stem}-{today}.md"
    path.write_text("\n".join([f"# {title} — {today}", "", f"`python bench/http_load.py {' '.join(sys.argv[1:])}`",
                               "", f"- machine: {machine()}", f"- database: {database}", *lines]), encoding="utf-8")
    return path


def report_ratio(r: dict[str, Any], version: str, args: argparse.Namespace) -> int:
    spread = f"{r['ratio']:.2f} [{min(r['ratios']):.2f}–{max(r['ratios']):.2f}]"
    load = " ".join(f"{x:.2f}" for x in r["load_average"])
    cpu = (f"app CPU a request: case {r['case_cpu_ms']:.1f} ms, reference {r['reference_cpu_ms']:.1f} ms "
           f"(reference/case {r['reference_cpu_ms'] / r['case_cpu_ms']:.2f}; the database's own CPU not included)")
    print(f"  case read / reference: {spread} (target >= 0.5): case {r['case_rps']:,.0f} requests/s, reference "
          f"{r['reference_rps']:,.0f} requests/s (medians over {args.rounds} rounds); {cpu}; load average {load}")
    path = write_result(f"http-ratio-{args.db}", f"Case read against the reference endpoint — {args.db}", version, [
        "- server: `uvicorn bench.reference_app:app --workers 1` (SCHEDULER=off), loopback; turns of "
        f"{args.duration}s, {args.connections} keep-alive connections, asyncio client on the same machine",
        "- `GET /api/v1/cases/{id}` against `GET /bench/reference/{id}` (one case row, same stack: "
        "bench/reference_app.py), as " + args.user, "",
        md_table(("case requests/s", "reference requests/s", "case / reference (median [min–max])", "target",
                  "non-2xx"),
                 [(f"{r['case_rps']:,.0f}", f"{r['reference_rps']:,.0f}", spread, "≥ 0.5", r["non_2xx"])]), "",
        f"- {cpu}", ""])
    print(f"written {path.relative_to(ROOT)}")
    return 0 if r["non_2xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
