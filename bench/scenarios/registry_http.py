"""The registry API over real HTTP against the production server setup.

Starts ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi`` (gthread workers, DEBUG off,
PostgreSQL: the bench database) on a free loopback port and drives it with
``http.client``: once over one persistent connection (reused, keep-alive) and once with a
new connection per request, timing each request client-side (send to last byte).

Targets (issue 6): version search by model name (50 rows) p95 <= 5 ms, get version by
alias p95 <= 3 ms, model search (100 a page, with aliases and tags) p95 <= 15 ms,
creating versions with 3 tags >= 400 per second. The requests vary the model name, so
the figures include PostgreSQL's planning, not only cached plans.

It also runs the server once with TCP_NODELAY off (``TARMAC_GUNICORN_NODELAY=0``) to
show the ~40 ms Nagle / delayed-ACK stall on reused connections that the setting
prevents ("nagle_off" figures).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from apps.accounts.models import Team
from apps.accounts.services import create_token
from apps.registry import services
from apps.registry.models import RegisteredModel
from bench.harness import Context, Scenario, percentile
from bench.scenarios.registry import PREFIX, seed

ROOT = Path(__file__).resolve().parent.parent.parent
UPLOAD_MODEL = "bench-http-uploads"
SAMPLES = 300
WARMUP = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def gunicorn(*, nodelay: bool = True, workers: int = 2, threads: int = 4) -> Iterator[int]:
    """Run the production web server on a free port; yields the port."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "TARMAC_GUNICORN_NODELAY": "1" if nodelay else "0",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "portal.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_up(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"gunicorn exited with {proc.returncode}: {err[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


Request = tuple[str, str, bytes | None]


def _call(conn: http.client.HTTPConnection, req: Request, headers: dict[str, str]) -> int:
    method, path, body = req
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def _timed(
    port: int,
    requests: Callable[[int], Request],
    headers: dict[str, str],
    *,
    reuse: bool,
    n: int = SAMPLES,
    expect: int = 200,
) -> tuple[float, float]:
    """(p50, p95) in ms of ``n`` sequential requests, client-side, after a warm-up."""
    durations: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(WARMUP + n):
        if not reuse:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        status = _call(conn, requests(i), headers)
        elapsed = (time.perf_counter() - started) * 1000
        if not reuse:
            conn.close()
        if status != expect:
            raise AssertionError(f"{requests(i)[:2]} answered {status}")
        if i >= WARMUP:
            durations.append(elapsed)
    conn.close()
    return round(statistics.median(durations), 2), round(percentile(durations, 95), 2)


def _throughput(
    port: int,
    requests: Callable[[int], Request],
    headers: dict[str, str],
    *,
    clients: int,
    each: int,
    expect: int = 201,
) -> tuple[float, float, float]:
    """Requests per second with ``clients`` keep-alive clients; also (p50, p95) latency.

    Each client sends 3 warm-up requests, then ``each`` timed ones, all started together;
    every answer must have the status ``expect``."""
    durations: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        for i in range(3):  # warm-up
            _call(conn, requests(k * 1_000_000 + i), headers)
        barrier.wait()
        for i in range(each):
            started = time.perf_counter()
            status = _call(conn, requests(k * 1_000_000 + 100 + i), headers)
            mine.append((time.perf_counter() - started) * 1000)
            if status != expect:
                errors.append(f"status {status}")
        conn.close()
        with lock:
            durations.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise AssertionError(f"{len(errors)} uploads failed, e.g. {errors[0]}")
    return (
        round(clients * each / elapsed, 1),
        round(statistics.median(durations), 2),
        round(percentile(durations, 95), 2),
    )


def median_throughput(
    port: int, requests: Callable[[int], Request], headers: dict[str, str], *, expect: int = 201
) -> tuple[float, float, float, str]:
    """:func:`_throughput` with 4 clients x 250, three times: the median run's (rate, p50,
    p95) and the three rates. Throughput swings with what else the shared 2-core host
    runs, so one run says little."""
    runs = sorted(
        (
            _throughput(port, requests, headers, clients=4, each=250, expect=expect)
            for _ in range(3)
        ),
        key=lambda run: run[0],
    )
    return (*runs[1], ", ".join(f"{run[0]:.0f}" for run in runs))


def _setup(ctx: Context) -> dict[str, str] | None:
    if ctx.size == "small":
        return None  # HTTP figures are latencies; the small run keeps only query counts
    if connection.vendor != "postgresql":
        print("   registry.http: skipped, the bench database is not PostgreSQL")
        return None
    data = seed(ctx)
    _vacuum()
    user = data["user"]
    if not RegisteredModel.objects.filter(name=UPLOAD_MODEL).exists():
        services.create_model(
            actor=user, name=UPLOAD_MODEL, team=Team.objects.get(slug="bench-reg-0")
        )
    key = create_token(actor=user, name="bench-http", expires_in_days=1).key
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


def _vacuum() -> None:
    """Clear the dead rows earlier runs left, so each run measures the same tables.

    Every upload updates its model's row. Where autovacuum is off (as on this machine's
    PostgreSQL), a few runs leave tens of thousands of dead versions of those rows, and
    lookups by model name slow down with them.
    """
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) registry_registeredmodel, registry_modelversion")


def _get(path: str) -> Callable[[int], Request]:
    return lambda i: ("GET", path.format(n=1 + i % 100), None)


def _upload(i: int) -> Request:
    body = {
        "name": UPLOAD_MODEL,
        "source": f"s3://bench/uploads/{i}/model",
        "run_id": f"run-{i}",
        "framework": "pytorch",
        "tags": {"git_sha": f"{i:07x}", "dataset": "q3", "trigger": "ci"},
    }
    return ("POST", "/api/v1/model-versions/", json.dumps(body).encode())


SEARCH = _get(f"/api/v1/model-versions/?name={PREFIX}{{n:04d}}&max_results=50")
BY_ALIAS = _get(f"/api/v1/registered-models/{PREFIX}{{n:04d}}/aliases/champion/")
MODELS = _get("/api/v1/registered-models/?max_results=100")

READS = [
    ("registry.http.version_search", SEARCH, "version search by model name, 50 rows"),
    ("registry.http.get_by_alias", BY_ALIAS, "get version by alias"),
    ("registry.http.model_search", MODELS, "model search, 100 a page with aliases and tags"),
]


def http_reads(ctx: Context) -> None:
    headers = _setup(ctx)
    if headers is None:
        return
    scale = "1000 models x 100 versions, gunicorn gthread 2x4, PostgreSQL"
    with gunicorn() as port:
        for name, requests, _ in READS:
            for reuse, suffix in ((True, ""), (False, "_new_conn")):
                p50, p95 = _timed(port, requests, headers, reuse=reuse)
                ctx.emit(name + suffix, "p50_ms", p50, "ms", scale)
                ctx.emit(name + suffix, "p95_ms", p95, "ms", scale)


def http_create(ctx: Context) -> None:
    headers = _setup(ctx)
    if headers is None:
        return
    headers = {**headers, "Content-Type": "application/json"}
    with gunicorn() as port:
        p50, p95 = _timed(port, _upload, headers, reuse=True, n=200, expect=201)
        rate, t50, t95, spread = median_throughput(port, _upload, headers)
    scale = "3 tags each, gunicorn gthread 2x4, PostgreSQL"
    ctx.emit("registry.http.create_version", "p50_ms", p50, "ms", scale + ", 1 client")
    ctx.emit("registry.http.create_version", "p95_ms", p95, "ms", scale + ", 1 client")
    ctx.emit(
        "registry.http.create_version",
        "throughput_per_s",
        rate,
        "req/s",
        f"{scale}, 4 clients, median of 3 runs ({spread})",
    )
    ctx.emit("registry.http.create_version_4_clients", "p50_ms", t50, "ms", scale)
    ctx.emit("registry.http.create_version_4_clients", "p95_ms", t95, "ms", scale)


def http_nagle(ctx: Context) -> None:
    """The same reused-connection reads with TCP_NODELAY off: the stall the fix prevents."""
    headers = _setup(ctx)
    if headers is None:
        return
    scale = "reused connection, TCP_NODELAY off (for comparison)"
    with gunicorn(nodelay=False) as port:
        for name, requests, _ in READS[:2]:
            p50, p95 = _timed(port, requests, headers, reuse=True, n=100)
            ctx.emit(name.replace(".http.", ".http.nagle_off."), "p50_ms", p50, "ms", scale)
            ctx.emit(name.replace(".http.", ".http.nagle_off."), "p95_ms", p95, "ms", scale)


SCENARIOS = [
    Scenario("registry.http.reads", http_reads, "API reads over HTTP (gunicorn, PostgreSQL)"),
    Scenario("registry.http.create", http_create, "creating versions over HTTP"),
    Scenario("registry.http.nagle", http_nagle, "reads with TCP_NODELAY off, for comparison"),
]
