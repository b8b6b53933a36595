"""Fixtures shared by the whole suite.

Unit tests run Celery tasks eagerly inside ``django_capture_on_commit_callbacks``;
integration tests marked ``worker`` start a real ``celery worker`` process instead
(see tests/core/test_worker_integration.py).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import TeamFactory, member_of, operator, platform_lead


@pytest.fixture(autouse=True)
def _eager_celery(settings: Any) -> Any:
    """Tasks run inline in unit tests, and never reach a broker."""
    from worker import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _no_login_throttle(settings: Any) -> None:
    settings.AXES_ENABLED = False


@pytest.fixture
def team(db: Any) -> Any:
    return TeamFactory(slug="vision", name="Vision")


@pytest.fixture
def other_team(db: Any) -> Any:
    return TeamFactory(slug="nlp", name="Language")


@pytest.fixture
def member(team: Any) -> Any:
    return member_of(team, username="mia")


@pytest.fixture
def maintainer(team: Any) -> Any:
    return member_of(team, role="maintainer", username="max")


@pytest.fixture
def outsider(other_team: Any) -> Any:
    return member_of(other_team, username="otto")


@pytest.fixture
def lead(db: Any) -> Any:
    return platform_lead(username="lena")


@pytest.fixture
def op_user(db: Any) -> Any:
    return operator(username="oscar")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


# --- A real Celery worker process, for integration and browser tests ---------------------

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class WorkerProcess:
    """A ``celery worker`` subprocess bound to the test database and a private queue."""

    process: subprocess.Popen[bytes]
    queue: str
    broker_url: str
    transport_options: dict[str, Any]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """Start one real worker for the session (after the test database exists)."""
    queue = f"tarmac-test-{uuid.uuid4().hex[:8]}"
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    transport_options: dict[str, Any] = {}
    env = {**os.environ}
    if not broker_url or broker_url.startswith("filesystem://"):
        # The embedded broker: the worker's settings derive its folders from
        # TARMAC_VAR_DIR, and this process is pointed at the same ones.
        folder = tmp_path_factory.mktemp("var")
        broker_url = "filesystem://"
        env["TARMAC_VAR_DIR"] = str(folder)
        transport_options = {
            "data_folder_in": str(folder / "broker"),
            "data_folder_out": str(folder / "broker"),
            "control_folder": str(folder / "broker-control"),
        }
    env.update(
        DATABASE_URL=_test_database_url(),
        CELERY_BROKER_URL=broker_url,
        CELERY_QUEUE=queue,
        OPERATION_RETRY_BASE_SECONDS="1",
        LOG_LEVEL="INFO",
        DEBUG="true",
    )
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "worker",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queue,
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, queue, broker_url, transport_options, log_path)
    deadline = time.monotonic() + 60
    while "ready." not in worker.log():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the celery worker did not start:\n{worker.log()}")
        time.sleep(0.2)
    yield worker
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def live_worker(celery_worker_process: WorkerProcess) -> Iterator[WorkerProcess]:
    """Send tasks to the real worker process instead of running them inline."""
    from worker import app

    previous = (app.conf.broker_url, app.conf.task_default_queue, app.conf.broker_transport_options)
    app.conf.task_always_eager = False
    app.conf.update(
        broker_url=celery_worker_process.broker_url,
        task_default_queue=celery_worker_process.queue,
        broker_transport_options=celery_worker_process.transport_options,
    )
    _reset_broker_pools(app)
    yield celery_worker_process
    app.conf.update(
        broker_url=previous[0], task_default_queue=previous[1], broker_transport_options=previous[2]
    )
    _reset_broker_pools(app)
    app.conf.task_always_eager = True


def _reset_broker_pools(app: Any) -> None:
    """Drop pooled broker connections so the next send uses the current broker settings."""
    from kombu import pools

    pools.reset()  # kombu keeps a process-wide registry of connection/producer pools
    app._pool = None
    app.amqp._producer_pool = None


def wait_for(predicate: Any, *, timeout: float = 30, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
