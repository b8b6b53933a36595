"""Fixtures shared by the whole suite.

Unit tests run Celery tasks eagerly inside ``django_capture_on_commit_callbacks``;
integration tests marked ``worker`` start a real ``celery worker`` process instead
(see tests/core/test_worker_integration.py).
"""

from __future__ import annotations

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
