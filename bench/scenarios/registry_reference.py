"""The same registry calls over HTTP against MLflow's model registry server, for reference.

Issue 6 claims the established open-source registry server does each of Tarmac's
registry calls 3-10x slower on this machine. This scenario measures it instead: it
installs MLflow into ``var/bench-mlflow-venv``, seeds its PostgreSQL database
``mlflow_bench`` at the scale of Tarmac's bench (1,000 models x 100 versions, tags and
aliases) and drives ``mlflow server`` (uvicorn, 2 workers, like Tarmac's 2 gunicorn
workers) exactly as ``registry_http`` drives Tarmac: the same client (``http.client``,
one reused keep-alive connection, then a new connection per request), the same sample
counts and warm-up, 4 concurrent clients x 250 for create throughput. The figures are
emitted as ``mlflow.http.*`` beside Tarmac's ``registry.http.*``.

Optional and slow the first time (a minute to install MLflow, half a minute to seed),
so it runs only in the full run with ``BENCH_REFERENCE=1`` (``make bench-reference``).
See ``bench/reference/mlflow_server.py`` for the server setup.

MLflow's uvicorn with 2 workers leaves Nagle's algorithm on, which stalls every response
on a reused connection by ~40 ms (the stall Tarmac's gunicorn config prevents). So the
reused-connection reads and the creates are measured a second time with TCP_NODELAY
patched on (``mlflow.http.nodelay_patched.*``): what MLflow itself costs without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from bench.harness import Context, Scenario
from bench.reference.mlflow_server import (
    CREATE_VERSION_PATH,
    MLFLOW_VERSION,
    PREFIX,
    WORKERS,
    alias_path,
    check_answers,
    create_version_body,
    ensure_venv,
    mlflow_server,
    model_search_path,
    reset_uploads,
    seed,
    version_search_path,
)
from bench.scenarios.registry_http import Request, _timed, median_throughput

HEADERS = {"Accept": "application/json"}
POST_HEADERS = {**HEADERS, "Content-Type": "application/json"}


def _get(path: Callable[[str], str]) -> Callable[[int], Request]:
    """Requests that vary the model, as Tarmac's bench does (1 + i % 100)."""
    return lambda i: ("GET", path(f"{PREFIX}{1 + i % 100:04d}"), None)


def _create(i: int) -> Request:
    return ("POST", CREATE_VERSION_PATH, create_version_body(i))


# Metric names as in registry_http, under "mlflow.http." (or the what-if prefix).
READS = [
    ("version_search", _get(version_search_path)),
    ("get_by_alias", _get(alias_path)),
    ("model_search", _get(lambda _model: model_search_path())),
]


def _reads(ctx: Context, port: int, prefix: str, scale: str, *, new_conn: bool) -> None:
    for name, requests in READS:
        for reuse, suffix in ((True, ""), (False, "_new_conn")):
            if not reuse and not new_conn:
                continue
            p50, p95 = _timed(port, requests, HEADERS, reuse=reuse)
            ctx.emit(prefix + name + suffix, "p50_ms", p50, "ms", scale)
            ctx.emit(prefix + name + suffix, "p95_ms", p95, "ms", scale)


def _creates(ctx: Context, port: int, prefix: str, scale: str) -> None:
    reset_uploads()
    p50, p95 = _timed(port, _create, POST_HEADERS, reuse=True, n=200, expect=200)
    # MLflow answers a create with 200 where Tarmac answers 201.
    rate, t50, t95, spread = median_throughput(port, _create, POST_HEADERS, expect=200)
    name = prefix + "create_version"
    ctx.emit(name, "p50_ms", p50, "ms", scale + ", 1 client")
    ctx.emit(name, "p95_ms", p95, "ms", scale + ", 1 client")
    ctx.emit(name, "throughput_per_s", rate, "req/s", f"{scale}, 4 clients, median of 3 ({spread})")
    ctx.emit(name + "_4_clients", "p50_ms", t50, "ms", scale)
    ctx.emit(name + "_4_clients", "p95_ms", t95, "ms", scale)


def mlflow_reference(ctx: Context) -> None:
    if ctx.size != "full":
        return  # latencies only: nothing to show in the small run
    if os.environ.get("BENCH_REFERENCE") != "1":
        print(
            "   registry.reference.mlflow: skipped (optional; run it with `make bench-reference`,"
            " i.e. BENCH_REFERENCE=1 python -m bench --scenario registry.reference)"
        )
        return
    started = time.monotonic()
    ensure_venv()
    print(f"   MLflow {MLFLOW_VERSION} venv ready ({time.monotonic() - started:.1f} s)")
    started = time.monotonic()
    counts = seed()
    print(f"   mlflow_bench seeded: {counts} ({time.monotonic() - started:.1f} s)")

    server = f"MLflow {MLFLOW_VERSION}, uvicorn {WORKERS} workers, PostgreSQL"
    with mlflow_server() as port:
        print(f"   answers: {check_answers(port)}")
        _reads(ctx, port, "mlflow.http.", f"1000 models x 100 versions, {server}", new_conn=True)
        _creates(ctx, port, "mlflow.http.", f"3 tags each, {server}")
    # MLflow's default leaves Nagle's algorithm on (see mlflow_server.py), which adds
    # ~40 ms to every request on a reused connection. The same reused-connection figures
    # with TCP_NODELAY patched on show what MLflow costs without that stall.
    server += ", TCP_NODELAY patched on"
    with mlflow_server(nodelay=True) as port:
        prefix = "mlflow.http.nodelay_patched."
        _reads(ctx, port, prefix, f"1000 models x 100 versions, {server}", new_conn=False)
        _creates(ctx, port, prefix, f"3 tags each, {server}")


SCENARIOS = [
    Scenario(
        "registry.reference.mlflow",
        mlflow_reference,
        "the registry calls against MLflow's server, for reference (BENCH_REFERENCE=1)",
    ),
]
