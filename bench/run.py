"""`make bench`: throughput and latency of the API against a bare Flask app, with wrk.

One run measures, on loopback at 16 concurrent connections, each server alone on the machine:

(a) `POST /api/v1/public_markets`, authenticated, on the real server (`passemarche serve`:
    gunicorn, 2 gthread workers x 4 threads), PostgreSQL (a fresh database, created and dropped
    here) and Redis rate-limit storage (limits raised far out of reach);
(b) the same request to `bench/bare_app.py`, a bare Flask app under the same gunicorn settings;
(c) `POST /oauth/token` on the real server.

It prints a table, checks the targets of the issue (a >= 40% of b in requests/s; p99 of a under
50 ms) and records the run in docs/BENCHMARKS.md. Environment knobs: BENCH_DURATION (s, 15),
BENCH_WARMUP (s, 3), BENCH_POSTGRES_URL, BENCH_REDIS_URL, BENCH_STRICT=1 (exit 1 on a missed
target), BENCH_NO_DOCS=1 (do not touch docs/BENCHMARKS.md), BENCH_DOCUMENTS=0 (skip the
documents benchmark that runs after it: bench/documents.py).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOCS = ROOT / "docs" / "BENCHMARKS.md"
PASSEMARCHE = Path(sys.executable).with_name("passemarche")

CONNECTIONS = 16
WRK_THREADS = 2
WORKERS = 2
THREADS_PER_WORKER = 4  # as `passemarche serve` (src/entrypoints/cli.py)
DURATION = int(os.environ.get("BENCH_DURATION", "15"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
REDIS_URL = os.environ.get(
    "BENCH_REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
)
UNREACHABLE_LIMIT = "1000000000/hour"

TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0
TARGETS_TEXT = "at least 40% of the bare-Flask figure, p99 under 50 ms at 16 concurrent connections"
DOCS_MARKER = "<!-- bench/run.py adds each run below this line, newest first -->"


def say(message: str) -> None:
    print(message, flush=True)


# --- wrk ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is not installed: installing it with apt-get (Debian package `wrk`)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for argv in (
        [*sudo, "apt-get", "update"],
        [*sudo, "apt-get", "install", "-y", "wrk"],
    ):
        say("$ " + " ".join(argv))
        subprocess.run(argv, check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    server_cpu_ms: float = 0.0  # CPU time of the gunicorn processes per request (not PostgreSQL)
    machine_busy: float = 0.0  # share of all the machine's CPU time busy during the run


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output: str) -> WrkResult:
    percentiles = {
        int(p): float(v) * _UNIT_MS[unit]
        for p, v, unit in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    }
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ", output, re.M)
    if rps is None or total is None or set(percentiles) != {50, 75, 90, 99}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(values)
    return total - values[3] - values[4], total  # idle and iowait are not busy


def process_group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of the live processes of a process group (gunicorn and workers)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path, env: dict[str, str], label: str, pgid: int) -> WrkResult:
    base = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", "--latency", "-s", str(script)]
    if WARMUP > 0:
        say(f"  {label}: warm-up {WARMUP} s")
        subprocess.run(
            [*base, f"-d{WARMUP}s", url], env=env, check=True, capture_output=True, text=True
        )
    say(f"  {label}: measuring {DURATION} s")
    cpu_before, machine_before = process_group_cpu_seconds(pgid), machine_ticks()
    completed = subprocess.run(
        [*base, f"-d{DURATION}s", url], env=env, check=True, capture_output=True, text=True
    )
    cpu = process_group_cpu_seconds(pgid) - cpu_before
    busy_after, total_after = machine_ticks()
    busy, total = busy_after - machine_before[0], total_after - machine_before[1]
    result = parse_wrk(completed.stdout)
    result.server_cpu_ms = 1000 * cpu / max(result.requests, 1)
    result.machine_busy = busy / max(total, 1)
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(
            f"{label}: {result.non_2xx} non-2xx responses and {result.socket_errors} socket "
            f"errors out of {result.requests}: the figures would be meaningless\n"
            f"{completed.stdout}"
        )
    return result


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def server(argv: list[str], env: dict[str, str], log_path: Path, ready: Any) -> Iterator[int]:
    """A gunicorn in its own process group (yielded), ended (group and all) on the way out."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited:\n{log_path.read_text(errors='replace')}")
                try:
                    if ready():
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.1)
            yield process.pid
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def gunicorn_argv(port: int, app: str) -> list[str]:
    """The bare app under `passemarche serve`'s settings (see src/entrypoints/cli.py)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(THREADS_PER_WORKER),
        "--timeout",
        "120",
        app,
    ]


@contextmanager
def fresh_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pm_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        raise SystemExit(f"PostgreSQL at {POSTGRES_ADMIN_URL} is needed: {error}") from error
    say(f"created database {name}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        say(f"dropped database {name}")


def check_redis() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        info = client.info("server")
    except Exception as error:
        raise SystemExit(f"Redis at {REDIS_URL} is needed: {error}") from error
    finally:
        client.close()
    return str(info.get("redis_version", "?"))


def cli(env: dict[str, str], *args: str) -> Any:
    completed = subprocess.run(
        [str(PASSEMARCHE), *args], env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"passemarche {' '.join(args)}: {completed.stderr}")
    return json.loads(completed.stdout) if "--json" in args else None


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Results:
    api: WrkResult
    bare: WrkResult
    token: WrkResult

    @property
    def ratio(self) -> float:
        return self.api.requests_per_s / self.bare.requests_per_s

    @property
    def ratio_met(self) -> bool:
        return self.ratio >= TARGET_RATIO

    @property
    def p99_met(self) -> bool:
        return self.api.p99_ms < TARGET_P99_MS


def measure(var_dir: Path) -> Results:
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "PUBLIC_BASE_URL", "STORAGE_DIR")
    }
    # gunicorn 27 opens a control socket under ~/.gunicorn, shared by every gunicorn of the user.
    base_env["GUNICORN_CMD_ARGS"] = "--no-control-socket"
    with fresh_database() as database_url:
        env = {
            **base_env,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "bench",
            "VAR_DIR": str(var_dir),
            "PASSEMARCHE_ENV": "test",
            "LOG_LEVEL": "INFO",  # as in production: one JSON line per request on stderr
            "RATE_LIMIT_API": UNREACHABLE_LIMIT,
            "RATE_LIMIT_TOKEN": UNREACHABLE_LIMIT,
            "RATE_LIMIT_DOWNLOADS": UNREACHABLE_LIMIT,
            "RATE_LIMIT_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:12]}",
        }
        say("$ passemarche db upgrade")
        cli(env, "db", "upgrade")
        say("$ passemarche editor create --name bench-api / bench-token --json")
        api_editor = cli(env, "editor", "create", "--name", "bench-api", "--json")
        token_editor = cli(env, "editor", "create", "--name", "bench-token", "--json")

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [str(PASSEMARCHE), "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(WORKERS)]

        def service_up() -> bool:
            # Answered by *our* server: its log shows the request id (the port could be taken).
            request_id = uuid.uuid4().hex
            status, _ = http("GET", f"{url}/up", headers={"X-Request-Id": request_id})
            log = (var_dir / "service.log").read_text(errors="replace")
            return status == 200 and request_id in log

        say(f"service: {' '.join(argv[1:])}")
        with server(argv, env, var_dir / "service.log", service_up) as pgid:
            status, body = http(
                "POST",
                f"{url}/oauth/token",
                data=(
                    "grant_type=client_credentials"
                    f"&client_id={api_editor['client_id']}"
                    f"&client_secret={api_editor['client_secret']}"
                ).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            if status != 200:
                raise RuntimeError(f"no token: {status} {body!r}")
            token = json.loads(body)["access_token"]
            wrk_env = {
                **os.environ,
                "BENCH_TOKEN": token,
                "BENCH_CLIENT_ID": token_editor["client_id"],
                "BENCH_CLIENT_SECRET": token_editor["client_secret"],
            }
            api = wrk(
                f"{url}/api/v1/public_markets", BENCH / "market.lua", wrk_env, "(a) API", pgid
            )
            token_result = wrk(
                f"{url}/oauth/token", BENCH / "token.lua", wrk_env, "(c) token", pgid
            )

    bare_port = free_port()
    bare_url = f"http://127.0.0.1:{bare_port}"

    def bare_up() -> bool:
        status, body = http(
            "POST",
            f"{bare_url}/api/v1/public_markets",
            data=b'{"public_market": {}}',
            headers={"Content-Type": "application/json"},
        )
        return status == 201 and b"VR-BARE" in body

    bare_argv = gunicorn_argv(bare_port, "bench.bare_app:app")
    say(f"bare Flask: gunicorn {' '.join(bare_argv[3:])}")
    with server(bare_argv, base_env, var_dir / "bare.log", bare_up) as pgid:
        bare = wrk(
            f"{bare_url}/api/v1/public_markets",
            BENCH / "market.lua",
            wrk_env,
            "(b) bare Flask",
            pgid,
        )
    return Results(api=api, bare=bare, token=token_result)


# --- report -----------------------------------------------------------------------------------


def idle_share(seconds: float = 1.0) -> float:
    """The share of CPU time left idle over `seconds`: other work on the machine skews a run."""
    busy0, total0 = machine_ticks()
    time.sleep(seconds)
    busy1, total1 = machine_ticks()
    return 1 - (busy1 - busy0) / max(total1 - total0, 1)


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load": load,
        "idle": f"{idle_share():.0%}",
    }


def _versions(redis_version: str) -> str:
    from importlib.metadata import version

    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_ADMIN_URL)
    with engine.connect() as connection:
        postgres = str(connection.execute(text("SHOW server_version")).scalar()).split()[0]
    engine.dispose()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    return (
        f"Python {platform.python_version()}, gunicorn {version('gunicorn')}, "
        f"Flask {version('flask')}, PostgreSQL {postgres}, Redis {redis_version}, "
        f"wrk {wrk_version[1] if len(wrk_version) > 1 else '?'}"
    )


def table(results: Results) -> str:
    def row(name: str, r: WrkResult) -> str:
        return (
            f"| {name} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.requests:,} | {r.server_cpu_ms:.2f} | {r.machine_busy:.0%} |"
        )

    return "\n".join(
        [
            "| Benchmark | Requests/s | p50 (ms) | p90 (ms) | p99 (ms) | Requests | "
            "gunicorn CPU per request (ms) | Machine CPU busy |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            row("(a) `POST /api/v1/public_markets` (service)", results.api),
            row("(b) `POST` bare Flask, same gunicorn settings", results.bare),
            row("(c) `POST /oauth/token` (service)", results.token),
        ]
    )


def verdicts(results: Results) -> list[str]:
    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    return [
        f"- Throughput (a)/(b) = {results.api.requests_per_s:,.0f} / "
        f"{results.bare.requests_per_s:,.0f} = **{results.ratio:.1%}**; "
        f"target at least {TARGET_RATIO:.0%}: {met(results.ratio_met)}.",
        f"- p99 of (a) = **{results.api.p99_ms:.1f} ms**; target under {TARGET_P99_MS:.0f} ms "
        f"at {CONNECTIONS} connections: {met(results.p99_met)}.",
    ]


def run_section(results: Results, info: dict[str, str], versions: str, started: datetime) -> str:
    return "\n".join(
        [
            f"### {started:%Y-%m-%d %H:%M} UTC",
            "",
            f"- Command: `make bench` (`python -m bench.run`), {DURATION} s per wrk run after a "
            f"{WARMUP} s warm-up.",
            f"- Machine: {info['nproc']} CPU(s) (nproc), {info['cpu']}, Linux {info['kernel']}; "
            f"before the run, load average {info['load']} and {info['idle']} of the CPU idle.",
            f"- Software: {versions}.",
            f"- Load: wrk, {WRK_THREADS} threads, {CONNECTIONS} connections, keep-alive, "
            "loopback, on the same machine as the servers.",
            "",
            table(results),
            "",
            *verdicts(results),
            "",
        ]
    )


_SETUP = f"{WORKERS} `gthread` workers x {THREADS_PER_WORKER} threads"
_LOAD = (
    f"{CONNECTIONS} concurrent connections, {DURATION} s per measurement after a {WARMUP} s warm-up"
)
DOCS_INTRO = f"""# Benchmarks

`make bench` (that is, `python -m bench.run`) measures, in one run and with the same server set-up:

- **(a)** authenticated `POST /api/v1/public_markets` on the real server: `passemarche serve`
  (gunicorn, {_SETUP}), PostgreSQL (a fresh database the run creates,
  migrates and drops), Redis as the rate-limit storage, every limit raised out of reach
  (`RATE_LIMIT_*`), request logging at INFO as in production;
- **(b)** the same request (same path, headers and JSON body) to `bench/bare_app.py`, a bare
  Flask app returning a small JSON 201, under the same gunicorn settings;
- **(c)** `POST /oauth/token` (client credentials) on the real server.

The load generator is [wrk](https://github.com/wg/wrk) (`bench/market.lua`, `bench/token.lua`),
on loopback, {_LOAD}; one server
runs at a time, and the run stops if any response is not 2xx. Besides wrk's figures, each row
gives the CPU time the gunicorn processes spent per request (the steadiest figure when other work
shares the machine) and how busy the machine's CPUs were during the run.
wrk, the servers, PostgreSQL and Redis share the same CPUs: the figures compare runs on one
machine, they are not capacity planning.

The throughput target compares (a) with (b). Targets (from the issue):
**{TARGETS_TEXT}**.

## Runs

{DOCS_MARKER}
"""


def update_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else ""
    if DOCS_MARKER not in text:
        text = DOCS_INTRO
    head, _, tail = text.partition(DOCS_MARKER)
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(f"{head}{DOCS_MARKER}\n\n{section}\n{tail.lstrip()}".rstrip() + "\n")


def main() -> int:
    started = datetime.now(UTC)
    info = machine()
    say(
        f"Passe Marché benchmark: {info['nproc']} CPU(s), {info['cpu']}, load {info['load']}, "
        f"{info['idle']} idle; "
        f"{DURATION} s per run, {CONNECTIONS} connections"
    )
    ensure_wrk()
    redis_version = check_redis()
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        results = measure(Path(tmp))
    versions = _versions(redis_version)
    say("")
    say(table(results))
    say("")
    for line in verdicts(results):
        say(line.replace("**", ""))
    if os.environ.get("BENCH_NO_DOCS") != "1":
        update_docs(run_section(results, info, versions, started))
        say(f"\nrecorded in {DOCS.relative_to(ROOT)}")

    # --- Documents (bench/documents.py): attestation rendering, package memory -------------
    # A separate benchmark with its own section in docs/BENCHMARKS.md; BENCH_DOCUMENTS=0 skips it.
    documents_met = True
    if os.environ.get("BENCH_DOCUMENTS") != "0":
        from bench import documents

        say("")
        documents_met = documents.run_and_record()
    # --- end of the documents benchmark -------------------------------------------------------

    if os.environ.get("BENCH_STRICT") == "1" and not (
        results.ratio_met and results.p99_met and documents_met
    ):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
