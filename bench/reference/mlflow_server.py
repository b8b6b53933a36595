"""The MLflow model registry server as a reference point for Tarmac's registry API.

Issue 6 says the established open-source registry server does each registry call 3-10x
slower than Tarmac's targets on the same machine; this module lets the bench measure
that instead of asserting it. It

* installs a pinned MLflow into its own virtualenv, ``var/bench-mlflow-venv`` (MLflow's
  dependencies would clash with Tarmac's, so it never goes into ``.venv``);
* creates the PostgreSQL database ``mlflow_bench``, lets MLflow create its schema
  (``mlflow db upgrade``) and seeds it by bulk SQL at the scale of Tarmac's registry
  bench: 1,000 registered models x 100 versions, 2 tags a model, 3 tags a version,
  alias ``champion`` on every model (latest version) and ``production`` (five back) on
  two models in three, as Tarmac's seed does;
* runs ``mlflow server`` with its production defaults (uvicorn, MLflow's FastAPI app
  wrapping its Flask handlers) except for the worker count, 2 like Tarmac's gunicorn on
  this 2-core machine, and its GenAI job runner, which is off (see ``mlflow_server``).

Nothing here needs Django: the seeding talks to PostgreSQL with psycopg directly.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parent.parent.parent
VAR = ROOT / "var"
VENV = VAR / "bench-mlflow-venv"
SERVER_DIR = VAR / "bench-mlflow"  # the server's working directory (./mlartifacts etc.)

# The newest 3.x that installs from PyPI here (3.18.0 is listed, but its mlflow-skinny
# 3.18.0 is not published, so pip cannot resolve it).
MLFLOW_VERSION = "3.17.2"
WORKERS = 2

# SQLAlchemy 2.1 (which MLflow 3.17 pulls in) maps plain ``postgresql://`` to psycopg 3;
# name the psycopg2 driver that we install explicitly.
POSTGRES = os.environ.get("BENCH_REFERENCE_POSTGRES", "postgres@127.0.0.1:5432")
DATABASE = "mlflow_bench"
BACKEND_URI = f"postgresql+psycopg2://{POSTGRES}/{DATABASE}"

PREFIX = "bench-model-"
UPLOAD_MODEL = "bench-http-uploads"
MODELS = 1000
VERSIONS = 100

# No internet here: keep MLflow from trying to send usage data.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def _venv_bin(name: str) -> Path:
    return VENV / "bin" / name


def _installed_version() -> str | None:
    python = _venv_bin("python")
    if not python.exists():
        return None
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import psycopg2; from importlib.metadata import version; print(version('mlflow'))",
        ],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_venv() -> Path:
    """Install MLflow ``MLFLOW_VERSION`` into ``var/bench-mlflow-venv``; returns the venv.

    Skipped when that version (and psycopg2) is already there; takes about a minute
    otherwise.
    """
    if _installed_version() == MLFLOW_VERSION:
        return VENV
    VAR.mkdir(exist_ok=True)
    if not _venv_bin("python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(_venv_bin("python")), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", f"mlflow=={MLFLOW_VERSION}", "psycopg2-binary"], check=True)
    if (found := _installed_version()) != MLFLOW_VERSION:
        raise RuntimeError(f"{VENV}: expected mlflow {MLFLOW_VERSION}, found {found}")
    return VENV


def _connect(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"postgresql://{POSTGRES}/{database}", autocommit=True)


def _run_env() -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV}
    # Tarmac's own settings must not leak into MLflow (it reads MLFLOW_* and a few more).
    for key in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "DJANGO_SETTINGS_MODULE",
        "PYTHONPATH",
    ):
        env.pop(key, None)
    return env


def seed() -> dict[str, int]:
    """Create, migrate and seed ``mlflow_bench``; skipped when the rows are already there.

    Returns the row counts of the bench models. ``mlflow db upgrade`` runs every time (a
    few seconds, a no-op when the schema is current) so that the schema always matches
    the pinned MLflow.
    """
    with _connect("postgres") as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    upgrade = subprocess.run(
        [str(_venv_bin("mlflow")), "db", "upgrade", BACKEND_URI],
        env=_run_env(),
        capture_output=True,
        text=True,
    )
    if upgrade.returncode != 0:
        raise RuntimeError(f"mlflow db upgrade failed: {upgrade.stderr[-2000:]}")
    with _connect(DATABASE) as conn:
        counts = _counts(conn)
        if counts != {"models": MODELS, "versions": MODELS * VERSIONS}:
            with conn.transaction():
                _wipe(conn)
                _insert(conn)
            conn.execute("ANALYZE")
            counts = _counts(conn)
        conn.execute(
            """
            INSERT INTO registered_models (name, creation_time, last_updated_time, description,
                workspace)
            SELECT %(name)s, m, m, 'Versions created by the HTTP bench', 'default'
            FROM (SELECT (extract(epoch FROM now()) * 1000)::bigint AS m) AS t
            ON CONFLICT DO NOTHING
            """,
            {"name": UPLOAD_MODEL},
        )
    return counts


def reset_uploads() -> None:
    """Delete the versions an earlier run created, so every run starts from the same state."""
    with _connect(DATABASE) as conn, conn.transaction():
        for table in ("model_version_tags", "registered_model_aliases", "model_versions"):
            conn.execute(f"DELETE FROM {table} WHERE name = %s", [UPLOAD_MODEL])


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    like = PREFIX + "%"
    models = conn.execute(
        "SELECT count(*) FROM registered_models WHERE name LIKE %s", [like]
    ).fetchone()
    versions = conn.execute(
        "SELECT count(*) FROM model_versions WHERE name LIKE %s", [like]
    ).fetchone()
    return {"models": models[0] if models else 0, "versions": versions[0] if versions else 0}


def _wipe(conn: psycopg.Connection[Any]) -> None:
    for table in (
        "model_version_tags",
        "registered_model_aliases",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        conn.execute(f"DELETE FROM {table} WHERE name LIKE %s", [PREFIX + "%"])


def _insert(conn: psycopg.Connection[Any]) -> None:
    """Bulk-insert the bench models in MLflow's own tables, as its REST API would fill them."""
    day = "86400000::bigint"  # a day in ms (bigint: 100 days overflow int4)
    params = {"prefix": PREFIX, "like": PREFIX + "%", "models": MODELS, "versions": VERSIONS}
    conn.execute(
        f"""
        INSERT INTO registered_models (name, creation_time, last_updated_time, description,
            workspace)
        SELECT %(prefix)s || lpad(g::text, 4, '0'), t.now_ms - 400 * {day},
            t.now_ms - g * 60000, 'Bench model ' || g, 'default'
        FROM generate_series(1, %(models)s) AS g,
            (SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms) AS t
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO registered_model_tags (key, value, name, workspace)
        SELECT k.key, CASE k.key
                WHEN 'task' THEN (ARRAY['classification', 'ranking', 'detection'])[1 + n %% 3]
                ELSE 'team-' || (n %% 10) END,
            m.name, 'default'
        FROM (SELECT name, substr(name, length(%(prefix)s) + 1)::int AS n
              FROM registered_models WHERE name LIKE %(like)s) AS m,
            (VALUES ('task'), ('owner')) AS k(key)
        """,
        params,
    )
    conn.execute(
        f"""
        INSERT INTO model_versions (name, version, creation_time, last_updated_time, description,
            user_id, current_stage, source, run_id, status, status_message, run_link,
            storage_location, workspace)
        SELECT m.name, v, m.creation_time + v * {day}, m.creation_time + v * {day},
            'Run ' || v, 'bench-reg-user', 'None',
            's3://bench/' || m.name || '/' || v, md5(m.name || '-' || v), 'READY', '',
            'https://mlflow.example.com/#/runs/' || md5(m.name || '-' || v),
            's3://bench/' || m.name || '/' || v, 'default'
        FROM registered_models m CROSS JOIN generate_series(1, %(versions)s) AS v
        WHERE m.name LIKE %(like)s
        ORDER BY m.name, v
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO model_version_tags (key, value, name, version, workspace)
        SELECT k.key, CASE k.key
                WHEN 'git_sha' THEN left(md5(mv.name || mv.version), 7)
                WHEN 'dataset' THEN 'q' || (1 + mv.version %% 4)
                ELSE (ARRAY['ci', 'manual'])[1 + (mv.version %% 5 = 0)::int] END,
            mv.name, mv.version, 'default'
        FROM model_versions mv, (VALUES ('git_sha'), ('dataset'), ('trigger')) AS k(key)
        WHERE mv.name LIKE %(like)s
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO registered_model_aliases (alias, version, name, workspace)
        SELECT a.alias, %(versions)s - a.back, m.name, 'default'
        FROM (SELECT name, substr(name, length(%(prefix)s) + 1)::int AS n
              FROM registered_models WHERE name LIKE %(like)s) AS m,
            (VALUES ('champion', 0), ('production', 5)) AS a(alias, back)
        WHERE a.alias = 'champion' OR m.n %% 3 <> 0
        """,
        params,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# uvicorn binds its socket itself when it runs more than one worker, as
# ``socket.socket(family)``, whose ``proto`` is 0; asyncio sets TCP_NODELAY on accepted
# connections only when ``proto == IPPROTO_TCP``, so with ``--workers 2`` they keep Nagle's
# algorithm on. uvicorn writes a response's headers and body separately, so on a reused
# connection the body waits for the client's delayed ACK (~40 ms). With ``nodelay=True``
# the server's processes load this sitecustomize, which sets TCP_NODELAY regardless of
# ``proto``: a what-if figure for an MLflow with that fixed, not its default behaviour.
_NODELAY_SITECUSTOMIZE = """\
import asyncio.base_events
import socket


def _set_nodelay(sock):
    if sock.family in {socket.AF_INET, socket.AF_INET6} and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


asyncio.base_events._set_nodelay = _set_nodelay
"""


@contextmanager
def mlflow_server(
    *, workers: int = WORKERS, jobs: bool = False, nodelay: bool = False
) -> Iterator[int]:
    """Run ``mlflow server`` on a free loopback port; yields the port.

    MLflow's defaults otherwise: uvicorn (``mlflow.server.fastapi_app:app``, Flask
    handlers behind Starlette's WSGI bridge), security middleware and access log on.
    Except ``jobs``: MLflow 3 by default also starts a job runner for its GenAI features
    (seven huey consumers) that polls all the time, ~0.8 of a core here while idle. It
    has nothing to do with the registry, and Tarmac's bench does not run its Celery
    worker either, so it is off unless ``jobs=True``.

    ``nodelay=True`` patches TCP_NODELAY on (see ``_NODELAY_SITECUSTOMIZE``).

    The server runs in its own process group, which is what is stopped on exit.
    """
    port = _free_port()
    SERVER_DIR.mkdir(parents=True, exist_ok=True)
    env = {**_run_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true" if jobs else "false"}
    if nodelay:
        patch = SERVER_DIR / "nodelay"
        patch.mkdir(exist_ok=True)
        (patch / "sitecustomize.py").write_text(_NODELAY_SITECUSTOMIZE)
        env["PYTHONPATH"] = str(patch)
    log = (SERVER_DIR / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(_venv_bin("mlflow")),
            "server",
            "--backend-store-uri",
            BACKEND_URI,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=SERVER_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_up(port, proc)
        yield port
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (mlflow CLI, uvicorn and its workers, job runner)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(proc.pid):
            proc.poll()
            time.sleep(0.1)
        if not _group_alive(proc.pid):
            break
    proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (SERVER_DIR / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mlflow server exited with {proc.returncode}: {tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("mlflow server did not answer /health within 120 s")


# REST paths (MLflow REST API 2.0, model registry section).
def version_search_path(model: str, max_results: int = 50) -> str:
    name_filter = quote(f"name='{model}'")
    return f"/api/2.0/mlflow/model-versions/search?filter={name_filter}&max_results={max_results}"


def alias_path(model: str, alias: str = "champion") -> str:
    return f"/api/2.0/mlflow/registered-models/alias?name={quote(model)}&alias={quote(alias)}"


def model_search_path(max_results: int = 100) -> str:
    return f"/api/2.0/mlflow/registered-models/search?max_results={max_results}"


CREATE_VERSION_PATH = "/api/2.0/mlflow/model-versions/create"


def create_version_body(i: int) -> bytes:
    """The create request the bench sends: the upload model, a source, a run id, 3 tags."""
    body = {
        "name": UPLOAD_MODEL,
        "source": f"s3://bench/uploads/{i}/model",
        "run_id": f"{i:032x}",
        "tags": [
            {"key": "git_sha", "value": f"{i:07x}"},
            {"key": "dataset", "value": "q3"},
            {"key": "trigger", "value": "ci"},
        ],
    }
    return json.dumps(body).encode()


def _fetch(port: int, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    if response.status != 200:
        raise AssertionError(f"{method} {path} answered {response.status}: {payload[:500]!r}")
    result: dict[str, Any] = json.loads(payload)
    return result


def check_answers(port: int) -> dict[str, Any]:
    """Call each benchmarked endpoint once and check it returns what the bench assumes.

    Returns a short description of the payloads (rows, and whether tags and aliases are
    inline) for the report.
    """
    model = f"{PREFIX}0001"
    versions = _fetch(port, "GET", version_search_path(model)).get("model_versions", [])
    if len(versions) != 50 or any(v["name"] != model for v in versions):
        raise AssertionError(f"version search returned {len(versions)} rows, expected 50")
    by_alias = _fetch(port, "GET", alias_path(model))["model_version"]
    if int(by_alias["version"]) != VERSIONS or "champion" not in by_alias.get("aliases", []):
        raise AssertionError(f"alias champion resolved to {by_alias}")
    models = _fetch(port, "GET", model_search_path()).get("registered_models", [])
    if len(models) != 100:
        raise AssertionError(f"model search returned {len(models)} models, expected 100")
    with_tags = sum(1 for m in models if len(m.get("tags", [])) == 2)
    with_aliases = sum(1 for m in models if m.get("aliases"))
    if with_aliases == 0 or with_tags == 0:
        raise AssertionError("model search returned no inline tags or aliases")
    return {
        "version_search_rows": len(versions),
        "version_search_tags_inline": all(len(v.get("tags", [])) == 3 for v in versions),
        "version_search_aliases_inline": any(v.get("aliases") for v in versions),
        "alias_version": by_alias["version"],
        "alias_tags_inline": len(by_alias.get("tags", [])) == 3,
        "model_search_rows": len(models),
        "model_search_with_2_tags": with_tags,
        "model_search_with_aliases": with_aliases,
        "model_search_latest_versions": sum(len(m.get("latest_versions", [])) for m in models),
    }


if __name__ == "__main__":
    # Set up by hand and check the answers: python -m bench.reference.mlflow_server
    started = time.monotonic()
    print("venv:", ensure_venv(), f"({time.monotonic() - started:.1f} s)")
    started = time.monotonic()
    print("seed:", seed(), f"({time.monotonic() - started:.1f} s)")
    with mlflow_server() as server_port:
        print("port:", server_port, check_answers(server_port))
