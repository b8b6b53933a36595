"""Every state change of an Operation: create, claim, finish, retry, re-drive.

Domain apps call ``create_operation`` inside their own transaction; the task is
enqueued only after that transaction commits, so a worker never sees a row that
does not exist yet, and a rolled-back request enqueues nothing.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.roles import is_operator, is_platform_lead
from apps.audit.services import describe, record
from apps.core.choices import OperationStatus
from apps.core.errors import DomainError, NotAllowed
from apps.core.models import Operation
from apps.core.operations import OperationKind, get_kind

log = logging.getLogger(__name__)

# Pending rows older than this with no worker on them are presumed lost in the broker.
PENDING_GRACE = timedelta(minutes=2)


def create_operation(
    *,
    kind: str,
    actor: Any,
    target: models.Model | None = None,
    team: Any = None,
    payload: dict[str, Any] | None = None,
    reason: str = "",
    **extra: Any,
) -> Operation:
    """Create a pending operation, audit it, and enqueue its task after commit."""
    get_kind(kind)  # fail early on a typo, not in the worker
    target_type, target_id, target_repr = describe(target) if target is not None else ("", "", "")
    with transaction.atomic():
        op = Operation.objects.create(
            kind=kind,
            target_type=target_type,
            target_id=target_id,
            target_repr=target_repr,
            team=team,
            payload=payload or {},
            created_by=actor if actor is not None and actor.is_authenticated else None,
            max_attempts=settings.OPERATION_MAX_ATTEMPTS,
            **extra,
        )
        record(
            actor=actor,
            verb="operation.created",
            target=op,
            team=team,
            after={"kind": kind, "target": f"{target_type}:{target_id}", "payload": op.payload},
            reason=reason,
        )
        transaction.on_commit(lambda: enqueue(op.pk))
    return op


def enqueue(op_id: int, *, countdown: float = 0) -> None:
    """Send the task. A broker outage is logged, not raised: the re-driver sends it later."""
    from apps.core.tasks import run_operation

    try:
        run_operation.apply_async((op_id,), countdown=countdown)
    except Exception:  # the broker may be down; the row stays pending and is re-driven
        log.exception("could not enqueue operation %s; the reconciler will re-drive it", op_id)


def claim_operation(op_id: int, *, worker: str) -> Operation | None:
    """Move a pending/retrying operation to running. Returns None if someone else has it."""
    claimed = Operation.objects.filter(
        pk=op_id, status__in=[OperationStatus.PENDING, OperationStatus.RETRYING]
    ).update(
        status=OperationStatus.RUNNING,
        attempts=F("attempts") + 1,
        claimed_by=worker[:200],
        started_at=timezone.now(),
        next_attempt_at=None,
        updated_at=timezone.now(),
    )
    if claimed != 1:
        return None
    return Operation.objects.select_related("team", "created_by").get(pk=op_id)


def complete_operation(op: Operation, *, result: dict[str, Any]) -> None:
    """Record success and let the owning app react, in one transaction."""
    with transaction.atomic():
        _finish(op, status=OperationStatus.SUCCEEDED, result=result, error="")
        hook = get_kind(op.kind).on_success
        if hook is not None:
            hook(op)


def fail_operation(op: Operation, *, error: str, transient: bool) -> float | None:
    """Record a failed attempt. Returns the retry delay in seconds, or None if final."""
    if transient and op.attempts < op.max_attempts:
        delay = backoff_seconds(op.attempts)
        Operation.objects.filter(pk=op.pk, status=OperationStatus.RUNNING).update(
            status=OperationStatus.RETRYING,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        return delay
    with transaction.atomic():
        if transient:
            error = f"{error} (gave up after {op.attempts} attempts)"
        _finish(op, status=OperationStatus.FAILED, result=op.result, error=error)
        kind = _kind_or_none(op.kind)
        hook = kind.on_failure if kind else None
        if hook is not None:
            hook(op)
    return None


def _kind_or_none(name: str) -> OperationKind | None:
    try:
        return get_kind(name)
    except LookupError:
        return None


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter, capped at five minutes."""
    ceiling = min(300.0, settings.OPERATION_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


def _finish(op: Operation, *, status: str, result: dict[str, Any], error: str) -> None:
    before = op.status
    op.status = status
    op.result = result
    op.last_error = error
    op.finished_at = timezone.now()
    op.save(update_fields=["status", "result", "last_error", "finished_at", "updated_at"])
    record(
        actor=None,
        verb=f"operation.{status}",
        target=op,
        team=op.team,
        before={"status": before},
        after={"status": status, "attempts": op.attempts, "error": error, "result": result},
    )


def retry_operation(op: Operation, *, actor: Any, reason: str = "") -> Operation:
    """Send a failed operation round again (platform leads and operators)."""
    if not (is_operator(actor) or is_platform_lead(actor)):
        raise NotAllowed("Only platform leads and operators retry operations.")
    with transaction.atomic():
        updated = Operation.objects.filter(pk=op.pk, status=OperationStatus.FAILED).update(
            status=OperationStatus.PENDING,
            attempts=0,
            last_error="",
            finished_at=None,
            updated_at=timezone.now(),
        )
        if updated != 1:
            raise DomainError("Only a failed operation can be retried.")
        record(
            actor=actor,
            verb="operation.retried",
            target=op,
            team=op.team,
            before={"status": OperationStatus.FAILED},
            after={"status": OperationStatus.PENDING},
            reason=reason,
        )
        transaction.on_commit(lambda: enqueue(op.pk))
    op.refresh_from_db()
    return op


def redrive_stale_operations(*, now: Any = None) -> list[int]:
    """Re-enqueue operations whose task was lost: a worker died holding them, the broker
    dropped the message, or a retry's countdown message vanished. Returns their ids."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.OPERATION_LEASE_SECONDS)
    lost_running = Operation.objects.filter(
        status=OperationStatus.RUNNING, started_at__lt=now - lease
    )
    lost_queued = Operation.objects.filter(
        models.Q(status=OperationStatus.PENDING, updated_at__lt=now - PENDING_GRACE)
        | models.Q(status=OperationStatus.RETRYING, next_attempt_at__lt=now - PENDING_GRACE)
    )
    redriven: list[int] = []
    for op_id in lost_running.values_list("pk", flat=True):
        with transaction.atomic():
            moved = Operation.objects.filter(pk=op_id, status=OperationStatus.RUNNING).update(
                status=OperationStatus.PENDING, updated_at=now
            )
            if moved:
                op = Operation.objects.get(pk=op_id)
                record(
                    actor=None,
                    verb="operation.redriven",
                    target=op,
                    team=op.team,
                    before={"status": OperationStatus.RUNNING, "claimed_by": op.claimed_by},
                    after={"status": OperationStatus.PENDING},
                    reason="worker lease expired",
                )
                redriven.append(op_id)
    for op_id in lost_queued.values_list("pk", flat=True):
        Operation.objects.filter(pk=op_id).update(updated_at=now)
        redriven.append(op_id)
    for op_id in redriven:
        enqueue(op_id)
    return redriven
