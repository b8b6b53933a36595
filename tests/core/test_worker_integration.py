"""Operations through a real ``celery worker`` process and the configured broker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.core import services
from apps.core.models import Operation
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_health_check_round_trips_through_broker_and_worker(member: Any, live_worker: Any) -> None:
    op = services.create_operation(kind="core.health_check", actor=member)
    done = wait_for(
        lambda: Operation.objects.filter(pk=op.pk, status="succeeded").first(), timeout=60
    )
    assert done.result["queued_seconds"] is not None
    assert done.claimed_by  # the worker's host name
    assert "core.run_operation[" in live_worker.log()


def test_an_operation_lost_with_its_worker_is_redriven_and_completed(
    member: Any, live_worker: Any
) -> None:
    """GIVEN an operation a worker claimed before it was killed (running, lease expired)
    WHEN beat's re-driver runs
    THEN the live worker picks it up again and completes it."""
    op = Operation.objects.create(
        kind="core.health_check",
        status="running",
        attempts=1,
        claimed_by="dead-worker",
        started_at=timezone.now() - timedelta(hours=2),
    )
    assert op.pk in services.redrive_stale_operations()
    done = wait_for(
        lambda: Operation.objects.filter(pk=op.pk, status="succeeded").first(), timeout=60
    )
    assert done.attempts == 2
    assert done.claimed_by != "dead-worker"
