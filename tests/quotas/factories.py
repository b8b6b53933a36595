"""Builders for quota tests (direct ORM, no audit: test set-up only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.clusters.models import Cluster, GpuCapacity, TeamNamespace
from apps.quotas.models import KueueFlavorMapping, QuotaRequest

H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"


def make_cluster(
    name: str = "train-eu",
    *,
    capacity: dict[str, int] | None = None,
    api_url: str = "http://127.0.0.1:9",
    **fields: Any,
) -> Cluster:
    """A cluster with GPU capacity per product (allocatable), reached without credentials."""
    capacity = {H100: 16, A100: 8} if capacity is None else capacity
    fields.setdefault("gpu_products", sorted(capacity))
    cluster = Cluster.objects.create(
        name=name, auth_method="none", api_url=api_url, timeout_seconds=5, **fields
    )
    for product, allocatable in capacity.items():
        GpuCapacity.objects.create(
            cluster=cluster,
            gpu_product=product,
            allocatable=allocatable,
            requested=allocatable // 2,
            nodes=max(1, allocatable // 8),
            updated_at=timezone.now(),
        )
    return cluster


def make_namespace(cluster: Cluster, team: Any, name: str | None = None) -> TeamNamespace:
    return TeamNamespace.objects.create(
        cluster=cluster, team=team, name=name or f"team-{team.slug}"
    )


def map_flavors(cluster: Cluster, **extra: Any) -> None:
    """Kueue flavor mappings as in the demo sandbox (h100-80gb, a100-80gb)."""
    for product, flavor in ((H100, "h100-80gb"), (A100, "a100-80gb")):
        KueueFlavorMapping.objects.create(
            cluster=cluster, gpu_product=product, flavor=flavor, **extra
        )


def make_request(
    namespace: TeamNamespace,
    requester: Any,
    *,
    status: str = "submitted",
    gpus: int = 4,
    granted: int | None = None,
    product: str = H100,
    start_in: int = 0,
    days: int = 7,
    **fields: Any,
) -> QuotaRequest:
    """A request in any status, written directly (granted defaults to gpus once decided)."""
    today = timezone.localdate()
    if granted is None and status != "submitted":
        granted = gpus
    return QuotaRequest.objects.create(
        team=namespace.team,
        cluster=namespace.cluster,
        namespace=namespace,
        gpu_product=product,
        gpus=gpus,
        granted_gpus=granted,
        starts_on=today + timedelta(days=start_in),
        ends_on=today + timedelta(days=start_in + days - 1),
        justification="Training run.",
        requested_by=requester,
        status=status,
        **fields,
    )
