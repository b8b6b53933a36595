"""The Operation lifecycle: claim, succeed, retry with backoff, fail, retry, re-drive."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.errors import DomainError, NotAllowed
from apps.core.models import Operation

pytestmark = pytest.mark.django_db


class Transient(Exception):
    transient = True


def _op(**fields: Any) -> Operation:
    return Operation.objects.create(kind="core.health_check", **fields)


def test_an_operation_can_be_claimed_only_once() -> None:
    op = _op()
    assert services.claim_operation(op.pk, worker="w1") is not None
    assert services.claim_operation(op.pk, worker="w2") is None
    op.refresh_from_db()
    assert (op.status, op.attempts, op.claimed_by) == ("running", 1, "w1")


def test_creating_an_operation_audits_it_and_runs_the_task_after_commit(
    member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        op = services.create_operation(kind="core.health_check", actor=member)
    op.refresh_from_db()
    assert op.status == "succeeded"
    assert op.result["database"] in {"sqlite", "postgresql"}
    verbs = list(AuditEvent.objects.filter(target_id=str(op.pk)).values_list("verb", flat=True))
    assert "operation.created" in verbs and "operation.succeeded" in verbs


def test_unknown_operation_kind_is_refused_before_anything_is_written(member: Any) -> None:
    with pytest.raises(LookupError):
        services.create_operation(kind="nope.nothing", actor=member)
    assert not Operation.objects.exists()


def test_a_transient_error_schedules_a_retry_with_backoff() -> None:
    op = services.claim_operation(_op().pk, worker="w")
    assert op is not None
    delay = services.fail_operation(op, error="HTTP 500", transient=True)
    assert delay is not None and 0 < delay <= 300
    op.refresh_from_db()
    assert op.status == "retrying"
    assert op.last_error == "HTTP 500"
    assert op.next_attempt_at is not None


def test_a_transient_error_on_the_last_attempt_fails_the_operation() -> None:
    op = _op(max_attempts=1)
    claimed = services.claim_operation(op.pk, worker="w")
    assert claimed is not None
    assert services.fail_operation(claimed, error="timeout", transient=True) is None
    op.refresh_from_db()
    assert op.status == "failed"
    assert "gave up after 1 attempts" in op.last_error


def test_a_permanent_error_fails_at_once_with_the_message() -> None:
    claimed = services.claim_operation(_op().pk, worker="w")
    assert claimed is not None
    assert services.fail_operation(claimed, error="403 forbidden", transient=False) is None
    claimed.refresh_from_db()
    assert (claimed.status, claimed.last_error) == ("failed", "403 forbidden")


def test_a_lead_retries_a_failed_operation_with_a_reason(lead: Any) -> None:
    op = _op(status="failed", attempts=3, last_error="boom")
    services.retry_operation(op, actor=lead, reason="RBAC fixed")
    op.refresh_from_db()
    assert (op.status, op.attempts, op.last_error) == ("pending", 0, "")
    event = AuditEvent.objects.get(verb="operation.retried")
    assert (event.actor, event.reason) == (lead, "RBAC fixed")


def test_a_member_cannot_retry_an_operation(member: Any) -> None:
    op = _op(status="failed")
    with pytest.raises(NotAllowed):
        services.retry_operation(op, actor=member)


def test_only_a_failed_operation_can_be_retried(lead: Any) -> None:
    with pytest.raises(DomainError):
        services.retry_operation(_op(status="succeeded"), actor=lead)


def test_an_operation_whose_worker_died_is_redriven_after_its_lease(settings: Any) -> None:
    """GIVEN a worker claimed an operation and died (it stays running past its lease)
    WHEN the re-driver runs
    THEN the operation is pending again, re-enqueued, and the re-drive is audited."""
    op = _op(status="running", attempts=1, started_at=timezone.now() - timedelta(hours=1))
    fresh = _op(status="running", attempts=1, started_at=timezone.now())
    redriven = services.redrive_stale_operations()
    assert op.pk in redriven and fresh.pk not in redriven
    op.refresh_from_db()
    # eager Celery ran it straight away
    assert op.status == "succeeded"
    assert AuditEvent.objects.filter(verb="operation.redriven", target_id=str(op.pk)).exists()


def test_retry_task_runs_the_handler_and_records_success() -> None:
    from apps.core.tasks import run_operation

    op = _op()
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.status == "succeeded" and op.attempts == 1


def test_the_task_quietly_ignores_a_missing_operation() -> None:
    from apps.core.tasks import run_operation

    run_operation(987654)  # no exception
