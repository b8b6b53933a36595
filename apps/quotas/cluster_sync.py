"""From the grants in the database to the cluster's objects, and back (worker side).

What a namespace should hold is computed from the database every time (never from the
Operation's payload), so applying twice, retrying, or applying after an expiry all
write the same, current answer:

* ResourceQuota ``tarmac-gpu-quota`` in the namespace: ``requests.nvidia.com/gpu`` =
  the sum of the namespace's grants in force (applying or active), all products;
* on a Kueue cluster, for each GPU product with a ``KueueFlavorMapping``: the team's
  ClusterQueue (``team-{team}`` by default) gets ``nominalQuota`` of ``nvidia.com/gpu``
  for that product's ResourceFlavor = the team's grants in force for that product on
  the cluster (all its namespaces), and the namespace gets a LocalQueue pointing at it.

Mapped flavors the team holds no grant for are set to 0: Tarmac owns the GPU quota of
the flavors it maps. Every write is idempotent (server-side apply, or a
read-modify-write that skips unchanged objects).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from apps.clusters.connections import get_connection
from apps.clusters.models import TeamNamespace
from apps.quotas import selectors
from apps.quotas.models import KueueFlavorMapping
from worker import kube
from worker.kube import ClusterConnection

TEAM_LABEL = "tarmac.io/team"
# A namespace's grants can change while the worker writes; re-check this many times.
MAX_PASSES = 3


class ApplyConfigError(Exception):
    """Tarmac's own configuration prevents the apply (not worth retrying)."""

    transient = False


@dataclass(frozen=True)
class KueueTarget:
    """One flavor's GPU nominalQuota in one ClusterQueue."""

    cluster_queue: str
    flavor: str
    product: str
    gpus: int
    cohort: str | None


@dataclass(frozen=True)
class DesiredQuota:
    """What one namespace (and its team's ClusterQueue) should hold."""

    namespace_gpus: int
    kueue: tuple[KueueTarget, ...] = ()
    local_queues: tuple[tuple[str, str], ...] = ()  # (LocalQueue name, ClusterQueue)


def desired_quota(namespace: TeamNamespace) -> DesiredQuota:
    """The namespace's desired quota, from the grants in force now."""
    total = selectors.desired_namespace_total(namespace.pk)
    cluster = namespace.cluster
    if not cluster.uses_kueue:
        return DesiredQuota(namespace_gpus=total)
    per_product = selectors.desired_team_product_totals(namespace.team_id, cluster.pk)
    mappings = {m.gpu_product: m for m in KueueFlavorMapping.objects.filter(cluster=cluster)}
    unmapped = sorted(p for p, gpus in per_product.items() if gpus and p not in mappings)
    if unmapped:
        raise ApplyConfigError(
            f"{cluster.name} runs Kueue but has no flavor mapping for {', '.join(unmapped)}; "
            "an operator adds one in the admin console (Quotas > Kueue flavor mappings), "
            "then a lead retries."
        )
    team = namespace.team.slug
    targets = []
    local_queues: dict[str, str] = {}
    for product, mapping in sorted(mappings.items()):
        queue = mapping.cluster_queue_for(team_slug=team, namespace=namespace.name)
        targets.append(
            KueueTarget(
                cluster_queue=queue,
                flavor=mapping.flavor,
                product=product,
                gpus=per_product.get(product, 0),
                cohort=mapping.cohort or None,
            )
        )
        if local_queues.setdefault(mapping.local_queue, queue) != queue:
            raise ApplyConfigError(
                f"The Kueue flavor mappings of {cluster.name} point LocalQueue "
                f"{mapping.local_queue!r} at two ClusterQueues; give each its own LocalQueue."
            )
    return DesiredQuota(
        namespace_gpus=total, kueue=tuple(targets), local_queues=tuple(sorted(local_queues.items()))
    )


def sync_namespace(namespace_id: int) -> dict[str, Any]:
    """Write the namespace's desired quota to its cluster; the Operation's result.

    Raises ``ClusterError`` (transient ones are retried by the operation runner) or
    ``ApplyConfigError``. After writing, the grants are read again: if they changed
    meanwhile (another approval, an expiry), the new totals are written too.
    """
    namespace = TeamNamespace.objects.select_related("cluster", "team").get(pk=namespace_id)
    cluster = namespace.cluster
    if not cluster.is_active:
        raise ApplyConfigError(f"{cluster.name} has been retired; nothing is written to it.")
    conn = get_connection(cluster)
    desired = desired_quota(namespace)
    for _ in range(MAX_PASSES):
        written = write(conn, namespace, desired)
        again = desired_quota(namespace)
        if again == desired:
            return written
        desired = again
    return written


def write(
    conn: ClusterConnection, namespace: TeamNamespace, desired: DesiredQuota
) -> dict[str, Any]:
    """Apply one desired quota: namespace labels, ResourceQuota, Kueue queues."""
    team = namespace.team.slug
    kube.ensure_namespace(conn, namespace.name, team_slug=team)
    quota = kube.apply_gpu_quota(
        conn, namespace.name, desired.namespace_gpus, labels={TEAM_LABEL: team}
    )
    queues: dict[str, dict[str, int | None]] = defaultdict(dict)
    for target in desired.kueue:
        state = kube.apply_cluster_queue_quota(
            conn,
            target.cluster_queue,
            flavor=target.flavor,
            gpus=target.gpus,
            cohort=target.cohort,
            namespace_selector_team=team,
        )
        queues[target.cluster_queue][target.flavor] = state.gpu_quota_by_flavor.get(target.flavor)
    for local_queue, cluster_queue in desired.local_queues:
        kube.ensure_local_queue(conn, namespace.name, local_queue, cluster_queue)
    return {
        "cluster": namespace.cluster.name,
        "namespace": namespace.name,
        "resource_quota": quota.name,
        "gpus": desired.namespace_gpus,
        "observed_gpus": quota.hard_gpus,
        "cluster_queues": dict(queues),
        "local_queues": [name for name, _ in desired.local_queues],
    }


@dataclass
class Observation:
    """A namespace's quota as read from the cluster, against what the grants say."""

    desired_gpus: int
    observed_gpus: int | None
    differences: list[str] = field(default_factory=list)


class ClusterReader:
    """Reads namespaces' quotas for the reconciler, one connection and one read of each
    ClusterQueue per cluster and pass."""

    def __init__(self) -> None:
        self._connections: dict[int, ClusterConnection] = {}
        self._queues: dict[tuple[int, str], Any] = {}

    def _conn(self, namespace: TeamNamespace) -> ClusterConnection:
        cluster = namespace.cluster
        if cluster.pk not in self._connections:
            self._connections[cluster.pk] = get_connection(cluster)
        return self._connections[cluster.pk]

    def _queue(self, namespace: TeamNamespace, name: str) -> Any:
        key = (namespace.cluster_id, name)
        if key not in self._queues:
            self._queues[key] = kube.read_cluster_queue(self._conn(namespace), name)
        return self._queues[key]

    def observe(self, namespace: TeamNamespace) -> Observation:
        """Compare the cluster's objects with the desired quota of ``namespace``."""
        desired = desired_quota(namespace)
        conn = self._conn(namespace)
        quota = kube.read_gpu_quota(conn, namespace.name)
        observed = quota.hard_gpus if quota is not None else None
        result = Observation(desired_gpus=desired.namespace_gpus, observed_gpus=observed)
        if quota is None:
            result.differences.append(
                f"ResourceQuota {kube.DEFAULT_QUOTA_NAME} is missing "
                f"({desired.namespace_gpus} GPUs granted)"
            )
        elif observed != desired.namespace_gpus:
            result.differences.append(
                f"ResourceQuota {kube.DEFAULT_QUOTA_NAME}: {_gpus(observed)} on the cluster, "
                f"{desired.namespace_gpus} granted"
            )
        for target in desired.kueue:
            queue = self._queue(namespace, target.cluster_queue)
            if queue is None:
                missing = f"ClusterQueue {target.cluster_queue} is missing"
                if target.gpus and missing not in result.differences:
                    result.differences.append(missing)
                continue
            actual = queue.gpu_quota_by_flavor.get(target.flavor)
            if (actual or 0) != target.gpus or (actual is None and target.gpus):
                result.differences.append(
                    f"ClusterQueue {target.cluster_queue} flavor {target.flavor}: "
                    f"{_gpus(actual)} on the cluster, {target.gpus} granted"
                )
        return result


def _gpus(value: int | None) -> str:
    return "no GPU limit" if value is None else f"{value} GPUs"
