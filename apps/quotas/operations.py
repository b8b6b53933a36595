"""Operation kinds of the quotas app: what the worker does to a cluster for a grant.

``quotas.apply``           a grant was approved (or retried): write its namespace's quota;
                           the outcome moves the request to active or failed.
``quotas.sync_namespace``  a grant expired or was revoked, or the cluster drifted: write the
                           namespace's quota as the grants now say.

Both write the same thing — the desired totals computed from the database when the
handler runs (see cluster_sync.py) — so either is safe to run twice.
"""

from __future__ import annotations

from typing import Any

from apps.core.models import Operation
from apps.core.operations import operation_handler
from apps.quotas import cluster_sync, services


@operation_handler(
    services.APPLY_KIND,
    label="Apply a GPU quota grant",
    on_success=services.on_apply_succeeded,
    on_failure=services.on_apply_failed,
)
def apply_grant(op: Operation) -> dict[str, Any]:
    return cluster_sync.sync_namespace(int(op.payload["namespace_id"]))


@operation_handler(
    services.SYNC_KIND,
    label="Set a namespace's GPU quota",
    on_success=services.on_sync_succeeded,
)
def sync_namespace(op: Operation) -> dict[str, Any]:
    return cluster_sync.sync_namespace(int(op.payload["namespace_id"]))
