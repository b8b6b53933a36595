"""Read-only answers about GPU quota: capacity, a team's position, desired totals, drift.

Other apps read quota through these functions (the Clusters page calls
``granted_gpus_by_cluster_product`` and ``drifted_namespaces``); none of them writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.clusters.models import (
    Cluster,
    GpuCapacity,
    GpuUsageHour,
    NamespaceGpuUsage,
    TeamNamespace,
)
from apps.quotas.choices import IN_FORCE_STATUSES, RESERVED_STATUSES, QuotaStatus
from apps.quotas.models import AutoApproveRule, NamespaceQuotaState, QuotaRequest

PENDING_STATUSES = frozenset({QuotaStatus.SUBMITTED, QuotaStatus.APPROVED, QuotaStatus.APPLYING})


# --- for other apps ---------------------------------------------------------------------


def granted_gpus_by_cluster_product() -> dict[tuple[int, str], int]:
    """(cluster id, GPU product) → GPUs of the active grants there."""
    rows = (
        QuotaRequest.objects.filter(status=QuotaStatus.ACTIVE)
        .values("cluster_id", "gpu_product")
        .annotate(total=Sum("granted_gpus"))
        .order_by()
    )
    return {(row["cluster_id"], row["gpu_product"]): int(row["total"] or 0) for row in rows}


@dataclass(frozen=True)
class DriftedNamespace:
    """A namespace whose cluster quota differs from what Tarmac granted."""

    cluster_id: int
    cluster_name: str
    namespace: str
    team_slug: str
    desired_gpus: int
    observed_gpus: int | None
    drifted_at: datetime
    detail: str
    policy: str  # the cluster's drift policy: "restore" or "flag"


def drifted_namespaces(*, cluster_id: int | None = None) -> list[DriftedNamespace]:
    """Namespaces flagged as drifted by the reconciler, oldest drift first (one query)."""
    states = NamespaceQuotaState.objects.filter(drifted_at__isnull=False).select_related(
        "namespace__cluster", "namespace__team"
    )
    if cluster_id is not None:
        states = states.filter(namespace__cluster_id=cluster_id)
    return [
        DriftedNamespace(
            cluster_id=state.namespace.cluster_id,
            cluster_name=state.namespace.cluster.name,
            namespace=state.namespace.name,
            team_slug=state.namespace.team.slug,
            desired_gpus=state.desired_gpus,
            observed_gpus=state.observed_gpus,
            drifted_at=state.drifted_at,  # type: ignore[arg-type]
            detail=state.drift_detail,
            policy=state.namespace.cluster.drift_policy,
        )
        for state in states.order_by("drifted_at")
    ]


# --- capacity --------------------------------------------------------------------------


def cluster_products(cluster: Cluster) -> list[str]:
    """GPU products present on a cluster: its configured list and what the collector saw."""
    seen = set(cluster.gpu_products or [])
    seen.update(GpuCapacity.objects.filter(cluster=cluster).values_list("gpu_product", flat=True))
    return sorted(p for p in seen if p)


def all_products() -> list[str]:
    """GPU products of every active cluster (the form's choices)."""
    seen: set[str] = set()
    for products in Cluster.objects.active().values_list("gpu_products", flat=True):
        seen.update(products or [])
    seen.update(
        GpuCapacity.objects.filter(cluster__is_active=True).values_list("gpu_product", flat=True)
    )
    return sorted(p for p in seen if p)


def reserved_gpus(cluster_id: int, product: str, *, exclude_pk: int | None = None) -> int:
    """GPUs held by approved, applying and active grants of a product on a cluster."""
    qs = QuotaRequest.objects.filter(
        cluster_id=cluster_id, gpu_product=product, status__in=RESERVED_STATUSES
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return int(qs.aggregate(total=Sum("granted_gpus"))["total"] or 0)


def allocatable_gpus(cluster_id: int, product: str) -> int:
    """Allocatable GPUs of a product on a cluster, as the inventory last saw them."""
    row = (
        GpuCapacity.objects.filter(cluster_id=cluster_id, gpu_product=product)
        .values_list("allocatable", flat=True)
        .first()
    )
    return int(row or 0)


@dataclass(frozen=True)
class Capacity:
    """A cluster's GPUs of one product, and how many are still free to grant."""

    allocatable: int
    reserved: int
    pods_requested: int
    overcommit: bool

    @property
    def free(self) -> int:
        return max(0, self.allocatable - self.reserved)


def capacity(cluster: Cluster, product: str) -> Capacity:
    """Allocatable GPUs (from the inventory), grants holding them, and pods' requests."""
    row = GpuCapacity.objects.filter(cluster=cluster, gpu_product=product).first()
    return Capacity(
        allocatable=row.allocatable if row else 0,
        reserved=reserved_gpus(cluster.pk, product),
        pods_requested=row.requested if row else 0,
        overcommit=cluster.allow_overcommit,
    )


def free_by_cluster_product(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Free GPUs for many (cluster id, product) pairs in two queries (the queue's column)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    cluster_ids = {cluster_id for cluster_id, _ in wanted}
    products = {product for _, product in wanted}
    allocatable = {
        (row["cluster_id"], row["gpu_product"]): row["allocatable"]
        for row in GpuCapacity.objects.filter(
            cluster_id__in=cluster_ids, gpu_product__in=products
        ).values("cluster_id", "gpu_product", "allocatable")
    }
    reserved = {
        (row["cluster_id"], row["gpu_product"]): int(row["total"] or 0)
        for row in QuotaRequest.objects.filter(
            cluster_id__in=cluster_ids, gpu_product__in=products, status__in=RESERVED_STATUSES
        )
        .values("cluster_id", "gpu_product")
        .annotate(total=Sum("granted_gpus"))
        .order_by()
    }
    return {key: max(0, allocatable.get(key, 0) - reserved.get(key, 0)) for key in wanted}


# --- a team's position -----------------------------------------------------------------


@dataclass(frozen=True)
class TeamPosition:
    """A team's GPUs of one product on one cluster."""

    granted: int  # active grants
    pending: int  # submitted, approved or applying
    in_use: int  # GPUs requested by the team's running pods (inventory collector)


def team_position(team_id: int, cluster: Cluster, product: str) -> TeamPosition:
    """Granted, pending and in-use GPUs of a team for one cluster and product."""
    sums = QuotaRequest.objects.filter(
        team_id=team_id, cluster=cluster, gpu_product=product
    ).aggregate(
        granted=Sum("granted_gpus", filter=Q(status=QuotaStatus.ACTIVE)),
        pending_granted=Sum(
            "granted_gpus", filter=Q(status__in=[QuotaStatus.APPROVED, QuotaStatus.APPLYING])
        ),
        pending_asked=Sum("gpus", filter=Q(status=QuotaStatus.SUBMITTED)),
    )
    names = TeamNamespace.objects.filter(team_id=team_id, cluster=cluster).values_list(
        "name", flat=True
    )
    in_use = NamespaceGpuUsage.objects.filter(
        cluster=cluster, namespace__in=list(names), gpu_product=product
    ).aggregate(total=Sum("requested"))["total"]
    return TeamPosition(
        granted=int(sums["granted"] or 0),
        pending=int(sums["pending_granted"] or 0) + int(sums["pending_asked"] or 0),
        in_use=int(in_use or 0),
    )


def auto_approve_rule(team_id: int, cluster_id: int) -> AutoApproveRule | None:
    return AutoApproveRule.objects.filter(
        team_id=team_id, cluster_id=cluster_id, is_active=True
    ).first()


# --- what the cluster should hold -------------------------------------------------------


def desired_namespace_total(namespace_id: int) -> int:
    """The namespace's ResourceQuota: the sum of its grants in force (all products)."""
    total = QuotaRequest.objects.filter(
        namespace_id=namespace_id, status__in=IN_FORCE_STATUSES
    ).aggregate(total=Sum("granted_gpus"))["total"]
    return int(total or 0)


def desired_team_product_totals(team_id: int, cluster_id: int) -> dict[str, int]:
    """A team's grants in force on a cluster per product (its Kueue ClusterQueue quotas)."""
    rows = (
        QuotaRequest.objects.filter(
            team_id=team_id, cluster_id=cluster_id, status__in=IN_FORCE_STATUSES
        )
        .values("gpu_product")
        .annotate(total=Sum("granted_gpus"))
        .order_by()
    )
    return {row["gpu_product"]: int(row["total"] or 0) for row in rows}


# --- the team quota page ----------------------------------------------------------------


@dataclass
class QuotaRow:
    """One line of a team's quota page."""

    cluster: Cluster
    product: str
    granted: int = 0
    pending: int = 0
    in_use: int = 0
    allocatable: int = 0


def team_quota_rows(team_id: int) -> list[QuotaRow]:
    """Per cluster and product: granted, pending, in use, and the cluster's allocatable.

    A row exists for every (cluster, product) where the team holds or asks for a grant,
    or where its pods use GPUs. Four queries whatever the number of rows.
    """
    rows: dict[tuple[int, str], QuotaRow] = {}
    clusters: dict[int, Cluster] = {}

    def row(cluster: Cluster, product: str) -> QuotaRow:
        clusters.setdefault(cluster.pk, cluster)
        key = (cluster.pk, product)
        if key not in rows:
            rows[key] = QuotaRow(cluster=clusters[cluster.pk], product=product)
        return rows[key]

    sums = (
        QuotaRequest.objects.filter(team_id=team_id, status__in=[*RESERVED_STATUSES, "submitted"])
        .values("cluster_id", "gpu_product")
        .annotate(
            granted=Sum("granted_gpus", filter=Q(status=QuotaStatus.ACTIVE)),
            pending_granted=Sum(
                "granted_gpus",
                filter=Q(status__in=[QuotaStatus.APPROVED, QuotaStatus.APPLYING]),
            ),
            pending_asked=Sum("gpus", filter=Q(status=QuotaStatus.SUBMITTED)),
        )
        .order_by()
    )
    namespaces = list(
        TeamNamespace.objects.filter(team_id=team_id).select_related("cluster").order_by()
    )
    by_id = {ns.cluster_id: ns.cluster for ns in namespaces}
    sum_rows = list(sums)
    missing = {r["cluster_id"] for r in sum_rows} - set(by_id)
    if missing:
        by_id.update({c.pk: c for c in Cluster.objects.filter(pk__in=missing)})
    for r in sum_rows:
        line = row(by_id[r["cluster_id"]], r["gpu_product"])
        line.granted = int(r["granted"] or 0)
        line.pending = int(r["pending_granted"] or 0) + int(r["pending_asked"] or 0)
    names = {(ns.cluster_id, ns.name) for ns in namespaces}
    usage = NamespaceGpuUsage.objects.filter(
        cluster_id__in={ns.cluster_id for ns in namespaces},
        namespace__in={ns.name for ns in namespaces},
    ).values_list("cluster_id", "namespace", "gpu_product", "requested")
    for cluster_id, namespace, product, requested in usage:
        if (cluster_id, namespace) in names and requested:
            row(by_id[cluster_id], product or "(no product label)").in_use += requested
    capacities = GpuCapacity.objects.filter(cluster_id__in=set(clusters)).values_list(
        "cluster_id", "gpu_product", "allocatable"
    )
    for cluster_id, product, allocatable in capacities:
        if (cluster_id, product) in rows:
            rows[(cluster_id, product)].allocatable = allocatable
    return sorted(rows.values(), key=lambda r: (r.cluster.name, r.product))


@dataclass(frozen=True)
class HistoryPoint:
    """One day of a team's GPU history: granted (by active grants) and in use (peak)."""

    day: date
    granted: int
    in_use: int


def team_history(team_id: int, *, days: int = 30, today: date | None = None) -> list[HistoryPoint]:
    """Daily GPUs granted to and used by a team over the last ``days`` days (two queries).

    Granted: the sum of grants that were active at some time that day (activated on or
    before it, not ended before it). In use: the day's peak of the hourly samples of the
    team's namespaces, summed over namespaces.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    grants = QuotaRequest.objects.filter(
        team_id=team_id, activated_at__isnull=False, granted_gpus__isnull=False
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
    granted = [0] * days
    for activated_at, ended_at, gpus in grants.values_list(
        "activated_at", "ended_at", "granted_gpus"
    ):
        begin = max(timezone.localtime(activated_at).date(), first)
        end = timezone.localtime(ended_at).date() if ended_at else today
        for offset in range((begin - first).days, min((end - first).days, days - 1) + 1):
            granted[offset] += int(gpus or 0)
    namespaces = TeamNamespace.objects.filter(team_id=team_id).values_list("cluster_id", "name")
    keys = set(namespaces)
    # The database takes each namespace's daily peak; Python adds the namespaces up.
    peaks = (
        GpuUsageHour.objects.filter(
            cluster_id__in={c for c, _ in keys},
            namespace__in={n for _, n in keys},
            hour__gte=start,
        )
        .annotate(day=TruncDate("hour"))
        .values("cluster_id", "namespace", "day")
        .annotate(peak=Max("requested"))
        .order_by()
    )
    in_use = [0] * days
    for row in peaks:
        if (row["cluster_id"], row["namespace"]) not in keys:
            continue  # a namespace of the same name on another of the clusters
        offset = (row["day"] - first).days
        if 0 <= offset < days:
            in_use[offset] += int(row["peak"] or 0)
    return [
        HistoryPoint(day=first + timedelta(days=i), granted=granted[i], in_use=in_use[i])
        for i in range(days)
    ]


def as_json_safe(value: Any) -> Any:
    """Dates and datetimes as ISO strings (for audit payloads and API bodies)."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
