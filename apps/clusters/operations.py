"""Operation handlers of the clusters app (imported by ``ClustersConfig.ready``).

Each handler re-reads its target, calls one service function and returns a JSON-able
result. Cluster failures are ``ClusterActionError``s with a readable message; the
framework retries the transient ones (timeouts, 5xx, 409) with backoff and records the
others on the Operation as they are.
"""

from __future__ import annotations

from typing import Any

from apps.clusters import services
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.models import Operation
from apps.core.operations import operation_handler


class TargetGone(LookupError):
    """The Operation's target was deleted before the worker got to it (not retried)."""


def _cluster(op: Operation) -> Cluster:
    cluster = Cluster.objects.filter(pk=op.target_id).first()
    if cluster is None:
        raise TargetGone(f"Cluster {op.payload.get('cluster', op.target_repr)} no longer exists.")
    return cluster


@operation_handler(services.KIND_TEST_CONNECTION, label="Test the connection to a cluster")
def test_connection(op: Operation) -> dict[str, Any]:
    """Read the API server's version and count its nodes."""
    return services.check_connection(_cluster(op))


@operation_handler(services.KIND_SYNC_INVENTORY, label="Sync a cluster's GPU inventory")
def sync_inventory(op: Operation) -> dict[str, Any]:
    """Sync now, whatever the window (someone asked for it)."""
    outcome = services.sync_inventory(
        _cluster(op), force=True, attempts=services.OPERATION_ATTEMPTS
    )
    return outcome.as_result()


@operation_handler(services.KIND_ENSURE_NAMESPACE, label="Create a team namespace on a cluster")
def ensure_namespace(op: Operation) -> dict[str, Any]:
    """Create the namespace (or label the existing one) for its team."""
    tns = TeamNamespace.objects.select_related("cluster", "team").filter(pk=op.target_id).first()
    if tns is None:
        raise TargetGone(f"Team namespace {op.target_repr} no longer exists.")
    return services.apply_team_namespace(tns)
