"""Celery tasks of the core app: the one generic operation runner and its re-driver."""

from __future__ import annotations

import logging
import socket

from celery import shared_task

from apps.core import services
from apps.core.models import Operation
from apps.core.operations import get_kind
from apps.core.request_context import reset_request_id, set_request_id

log = logging.getLogger(__name__)


@shared_task(name="core.run_operation", acks_late=True, ignore_result=True)
def run_operation(op_id: int) -> None:
    """Claim the operation, run its handler, record the outcome, schedule a retry."""
    op = services.claim_operation(op_id, worker=f"{socket.gethostname()}")
    if op is None:
        return  # gone, finished, or another worker has it
    token = set_request_id(f"op-{op.pk}")
    try:
        try:
            result = get_kind(op.kind).run(op)
        except Exception as exc:
            transient = bool(getattr(exc, "transient", False))
            log.warning("operation %s attempt %s failed: %s", op.pk, op.attempts, exc)
            delay = services.fail_operation(op, error=_message(exc), transient=transient)
            if delay is not None:
                services.enqueue(op.pk, countdown=delay)
            return
        services.complete_operation(op, result=result or {})
    finally:
        reset_request_id(token)


@shared_task(name="core.redrive_stale_operations", ignore_result=True)
def redrive_stale_operations() -> int:
    """Beat: re-drive operations whose task was lost."""
    return len(services.redrive_stale_operations())


def _message(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:4000]


__all__ = ["Operation", "redrive_stale_operations", "run_operation"]
