"""Settings come from the environment; production settings pass ``check --deploy``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.logging import JsonFormatter
from portal.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_helpers_parse_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("T_BOOL", "yes")
    monkeypatch.setenv("T_INT", "42")
    monkeypatch.setenv("T_LIST", "a, b,,c")
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("T_SECRET_FILE", str(secret))
    assert env_bool("T_BOOL") is True
    assert env_int("T_INT", 1) == 42
    assert env_list("T_LIST") == ["a", "b", "c"]
    assert env_str("T_SECRET") == "s3cret"


def test_env_helpers_reject_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_BOOL", "maybe")
    monkeypatch.setenv("T_INT", "many")
    with pytest.raises(ImproperlyConfigured, match="T_BOOL"):
        env_bool("T_BOOL")
    with pytest.raises(ImproperlyConfigured, match="T_INT"):
        env_int("T_INT", 1)


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEBUG"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_a_secret_key_refuses_to_start() -> None:
    result = _manage("check", DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        DATABASE_URL="postgres://tarmac@db.example:5432/tarmac",
        CELERY_BROKER_URL="redis://redis.example:6379/0",
        ALLOWED_HOSTS="tarmac.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_json_logs_carry_the_request_id() -> None:
    record = logging.makeLogRecord({"msg": "hello %s", "args": ("world",), "levelname": "INFO"})
    record.request_id = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world" and line["request_id"] == "abc123"


@pytest.mark.django_db
def test_responses_carry_a_request_id(client: object) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-42")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-42"
