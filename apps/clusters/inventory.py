"""Reading the GPU inventory: cheap lookups for other apps, and the clusters overview.

The lookups (``allocatable_gpus``, ``requested_gpus``, ``free_gpus``, ``gpu_products``)
are one query each and read what the last inventory sync stored. The overview builds the
Clusters page and API in a constant number of queries, whatever the number of clusters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Any

from django.apps import apps as django_apps
from django.db.models import QuerySet, Sum

from apps.clusters.models import Cluster, GpuCapacity, NamespaceGpuUsage, TeamNamespace
from apps.clusters.services import sync_health

ClusterRef = Cluster | int


def _cluster_id(cluster: ClusterRef) -> int:
    return cluster if isinstance(cluster, int) else cluster.pk


def allocatable_gpus(cluster: ClusterRef, product: str) -> int:
    """Allocatable GPUs of ``product`` on the cluster (0 if it has none)."""
    value = (
        GpuCapacity.objects.filter(cluster_id=_cluster_id(cluster), gpu_product=product)
        .values_list("allocatable", flat=True)
        .first()
    )
    return int(value or 0)


def requested_gpus(
    cluster: ClusterRef, namespace: str | None = None, product: str | None = None
) -> int:
    """GPUs requested by the non-terminated pods of the cluster, a namespace and/or a product.

    Without a product this includes pods not placed on a GPU node yet (pending).
    """
    usages = NamespaceGpuUsage.objects.filter(cluster_id=_cluster_id(cluster))
    if namespace is not None:
        usages = usages.filter(namespace=namespace)
    if product is not None:
        usages = usages.filter(gpu_product=product)
    return int(usages.aggregate(total=Sum("requested"))["total"] or 0)


def free_gpus(cluster: ClusterRef, product: str) -> int:
    """Allocatable minus requested GPUs of ``product`` on the cluster (never below 0)."""
    row = (
        GpuCapacity.objects.filter(cluster_id=_cluster_id(cluster), gpu_product=product)
        .values_list("allocatable", "requested")
        .first()
    )
    if row is None:
        return 0
    return max(0, row[0] - row[1])


def gpu_products(cluster: ClusterRef) -> list[str]:
    """GPU products the last sync saw on the cluster's nodes, sorted."""
    return list(
        GpuCapacity.objects.filter(cluster_id=_cluster_id(cluster))
        .exclude(gpu_product="")
        .order_by("gpu_product")
        .values_list("gpu_product", flat=True)
    )


# ----------------------------------------------------------------------- overview

# What the quotas app provides, looked up by name so that neither app imports the other
# at load time (apps.quotas builds on these models).
QUOTAS_SELECTORS = "apps.quotas.selectors"


def _quotas_selector(name: str) -> Callable[..., Any] | None:
    """A function of ``apps.quotas.selectors``, or None when there is no such function."""
    if not django_apps.is_installed("apps.quotas"):
        return None
    try:
        module = import_module(QUOTAS_SELECTORS)
    except ModuleNotFoundError as exc:
        if exc.name == QUOTAS_SELECTORS:
            return None
        raise
    function = getattr(module, name, None)
    return function if callable(function) else None


def granted_gpus() -> dict[tuple[int, str], int] | None:
    """Active quota grants per (cluster id, GPU product), from the quotas app
    (``granted_gpus_by_cluster_product``); None when it is not available (pages show "—")."""
    function = _quotas_selector("granted_gpus_by_cluster_product")
    return None if function is None else dict(function())


def drifted_namespaces(cluster_id: int | None = None) -> list[Any]:
    """Namespaces whose cluster quota differs from what Tarmac granted, from the quotas app
    (``drifted_namespaces``); empty when it is not available."""
    function = _quotas_selector("drifted_namespaces")
    return [] if function is None else list(function(cluster_id=cluster_id))


@dataclass
class ProductRow:
    """One GPU product of a cluster on the overview."""

    product: str
    nodes: int
    ready_nodes: int
    allocatable: int
    requested: int
    granted: int | None

    @property
    def label(self) -> str:
        """The product name, or "unlabelled" for GPU nodes without a product label."""
        return self.product or "unlabelled"

    @property
    def free(self) -> int:
        """Allocatable GPUs no pod requests."""
        return max(0, self.allocatable - self.requested)


@dataclass(frozen=True)
class NamespaceRef:
    """A team namespace as the overview shows it."""

    pk: int
    name: str
    team_slug: str
    team_name: str


@dataclass
class ClusterCard:
    """A cluster as the overview shows it: health, GPUs per product, nodes, namespaces.

    Totals are computed once when the card is built (templates read them many times).
    """

    cluster: Cluster
    health: str
    health_label: str
    products: list[ProductRow] = field(default_factory=list)
    namespaces: list[NamespaceRef] = field(default_factory=list)
    synced_at: datetime | None = None
    nodes: int = 0
    ready_nodes: int = 0
    not_ready_nodes: int = 0
    allocatable: int = 0
    requested: int = 0
    runs: str = ""
    drifted: list[Any] = field(default_factory=list)


def _runs(cluster: Cluster) -> str:
    parts = [
        name for name, on in (("Kueue", cluster.uses_kueue), ("KServe", cluster.uses_kserve)) if on
    ]
    label = ", ".join(parts) or "plain Kubernetes"
    return f"{label} · {cluster.region}" if cluster.region else label


def cluster_cards(
    clusters: QuerySet[Cluster],
    *,
    granted: dict[tuple[int, str], int] | None = None,
    drifted: list[Any] | None = None,
) -> list[ClusterCard]:
    """Cards for the clusters in three queries (clusters, capacities, namespaces).

    Products the operator declared in ``gpu_products`` that the sync has not seen are
    listed with zero GPUs. ``drifted`` (from ``drifted_namespaces``) is shared out to the
    cards. Plain rows, not prefetched models: the page renders dozens of clusters and
    hundreds of namespaces.
    """
    cluster_list = list(clusters)
    ids = [cluster.pk for cluster in cluster_list]
    capacities: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in ids}
    for row in (
        GpuCapacity.objects.filter(cluster_id__in=ids)
        .order_by("cluster_id", "gpu_product")
        .values_list(
            "cluster_id",
            "gpu_product",
            "nodes",
            "ready_nodes",
            "allocatable",
            "requested",
            "updated_at",
        )
    ):
        capacities[row[0]].append(row)
    namespaces: dict[int, list[NamespaceRef]] = {pk: [] for pk in ids}
    for pk, cluster_id, name, team_slug, team_name in (
        TeamNamespace.objects.filter(cluster_id__in=ids)
        .order_by("cluster_id", "name")
        .values_list("pk", "cluster_id", "name", "team__slug", "team__name")
    ):
        namespaces[cluster_id].append(NamespaceRef(pk, name, team_slug, team_name))

    drift: dict[int, list[Any]] = {pk: [] for pk in ids}
    for namespace in drifted or []:
        if namespace.cluster_id in drift:
            drift[namespace.cluster_id].append(namespace)

    def grant(cluster_id: int, product: str) -> int | None:
        return None if granted is None else granted.get((cluster_id, product), 0)

    cards = []
    for cluster in cluster_list:
        health, label = sync_health(cluster)
        rows = [
            ProductRow(product, nodes, ready, allocatable, requested, grant(cluster.pk, product))
            for _, product, nodes, ready, allocatable, requested, _ in capacities[cluster.pk]
        ]
        seen = {row.product for row in rows}
        rows.extend(
            ProductRow(str(product), 0, 0, 0, 0, grant(cluster.pk, str(product)))
            for product in cluster.gpu_products or []
            if product not in seen
        )
        nodes = sum(row.nodes for row in rows)
        ready = sum(row.ready_nodes for row in rows)
        cards.append(
            ClusterCard(
                cluster=cluster,
                health=health,
                health_label=label,
                products=rows,
                namespaces=namespaces[cluster.pk],
                synced_at=max((row[6] for row in capacities[cluster.pk]), default=None),
                nodes=nodes,
                ready_nodes=ready,
                not_ready_nodes=nodes - ready,
                allocatable=sum(row.allocatable for row in rows),
                requested=sum(row.requested for row in rows),
                runs=_runs(cluster),
                drifted=drift[cluster.pk],
            )
        )
    return cards
