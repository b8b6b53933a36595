"""The registry of operation kinds: what a worker does for each ``Operation.kind``.

An app registers a handler for each kind it creates::

    @operation_handler("quotas.apply")
    def apply_quota(op: Operation) -> dict: ...

The handler performs the outside action and returns a JSON-able result. It raises an
exception with ``transient = True`` (such as ``ClusterError`` for a timeout or 409) to
be retried with backoff, or any other exception to fail the operation with its
message. ``on_success`` / ``on_failure`` hooks let the owning app move its own domain
object (a quota request becomes active or failed) in the same transaction that
records the outcome.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

if TYPE_CHECKING:
    from apps.core.models import Operation

Handler = Callable[["Operation"], dict[str, Any]]
Hook = Callable[["Operation"], None]


@dataclass(frozen=True)
class OperationKind:
    name: str
    run: Handler
    label: str
    on_success: Hook | None = None
    on_failure: Hook | None = None


_KINDS: dict[str, OperationKind] = {}


def operation_handler(
    name: str,
    *,
    label: str = "",
    on_success: Hook | None = None,
    on_failure: Hook | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of operation kind ``name``."""

    def register(func: Handler) -> Handler:
        _KINDS[name] = OperationKind(name, func, label or name, on_success, on_failure)
        return func

    return register


def get_kind(name: str) -> OperationKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"no handler is registered for operation kind {name!r}") from None


def registered_kinds() -> list[str]:
    return sorted(_KINDS)


@operation_handler("core.health_check", label="Broker and worker health check")
def health_check(op: Operation) -> dict[str, Any]:
    """Proves the round trip web → broker → worker → database, and how long it took."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    queued_for = (op.started_at - op.created_at).total_seconds() if op.started_at else None
    return {
        "worker": platform.node(),
        "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
        "database": connection.vendor,
        "queued_seconds": round(queued_for, 3) if queued_for is not None else None,
        "db_ping_ms": round((time.monotonic() - started) * 1000, 2),
    }
