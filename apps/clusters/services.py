"""Every state change of the clusters app: connection tests, inventory syncs, team namespaces.

Actions on a cluster are Operations (``clusters.test_connection``, ``clusters.sync_inventory``,
``clusters.ensure_namespace``): the request functions here check who may ask, audit the
request and create the Operation; ``apps.clusters.operations`` holds the handlers the worker
runs. The periodic inventory sync (beat, every five minutes per cluster) calls
``sync_inventory`` directly instead of creating an Operation row each time: the cluster row
records the outcome (``last_sync_*``) and a change of its health is audited.

Errors from a cluster come back as ``ClusterActionError``: a ``ClusterError`` whose text
says what was being done, on which cluster, the HTTP status and the API server's message,
with credential file paths taken out, so that it can be shown on the Operation row as is.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import is_operator, is_platform_lead
from apps.audit.services import record
from apps.clusters.choices import SyncStatus
from apps.clusters.connections import get_connection, probe
from apps.clusters.models import (
    Cluster,
    GpuCapacity,
    GpuNode,
    GpuUsageHour,
    NamespaceGpuUsage,
    TeamNamespace,
)
from apps.clusters.snapshot import InventorySnapshot, build_snapshot
from apps.core.choices import TERMINAL_OPERATION_STATUSES
from apps.core.errors import DomainError, NotAllowed
from apps.core.models import Operation
from apps.core.services import create_operation
from worker import kube
from worker.kube import ClusterConnection, ClusterError, with_retries

log = logging.getLogger(__name__)

T = TypeVar("T")

KIND_TEST_CONNECTION = "clusters.test_connection"
KIND_SYNC_INVENTORY = "clusters.sync_inventory"
KIND_ENSURE_NAMESPACE = "clusters.ensure_namespace"

# Inventory lists are read in pages of this size: 1,000 nodes and 20,000 pods take
# 2 + 40 list calls.
SYNC_PAGE_SIZE = 500
# Beat syncs every cluster once per window; a second run in the same window is skipped.
SYNC_WINDOW = timedelta(minutes=5)
# A cluster whose last good sync is older than this is shown as stale.
STALE_AFTER = timedelta(minutes=15)
# In-process retries of a transient failure (the Operation framework retries on top).
SYNC_ATTEMPTS = 5
OPERATION_ATTEMPTS = 3
# A connection test should answer quickly: one retry by the framework, not six.
TEST_CONNECTION_MAX_ATTEMPTS = 2

CREDENTIAL_FIELDS = ("token_file", "kubeconfig_path", "ca_cert_path")
REDACTED = "[redacted]"


# --------------------------------------------------------------------------- errors


class ClusterActionError(ClusterError):
    """A ClusterError whose message is a whole sentence for people; ``str()`` is that text."""

    def __str__(self) -> str:
        return self.message


def describe_cluster_error(error: ClusterError) -> str:
    """``HTTP 422 Invalid: <the API server's message>``, or the reason without a status."""
    if error.status is not None:
        return f"HTTP {error.status} {error.reason}: {error.message}"
    return f"{error.reason}: {error.message}"


def redact(text: str, cluster: Cluster) -> str:
    """``text`` with the cluster's credential file paths replaced by ``[redacted]``."""
    for name in CREDENTIAL_FIELDS:
        value = getattr(cluster, name, "")
        if value:
            text = text.replace(value, REDACTED)
    return text


def readable_error(error: ClusterError, cluster: Cluster, *, action: str) -> ClusterActionError:
    """The error as a sentence naming the action and the cluster, with its HTTP status."""
    if isinstance(error, ClusterActionError):
        return error
    text = f"{action} on cluster {cluster.name} failed: {describe_cluster_error(error)}"
    message = redact(text, cluster)
    return ClusterActionError(
        message,
        status=error.status,
        reason=error.reason,
        transient=error.transient,
        retry_after=error.retry_after,
    )


def call_cluster(
    cluster: Cluster,
    action: str,
    fn: Callable[[ClusterConnection], T],
    *,
    attempts: int = 1,
) -> T:
    """Run ``fn(connection)`` against the cluster through the adapter.

    Transient failures are retried ``attempts - 1`` times in-process (``with_retries``);
    the last failure is raised as a ``ClusterActionError`` ("Creating namespace team-a on
    cluster train-eu failed: HTTP 403 Forbidden: …"), transient or not as the adapter said.
    Other apps' Operation handlers use this too, so every cluster error reads the same.
    """
    try:
        conn = get_connection(cluster)
        return with_retries(lambda: fn(conn), attempts=attempts)
    except ClusterError as error:
        raise readable_error(error, cluster, action=action) from error


# ------------------------------------------------------------------- permissions


def can_manage_clusters(user: Any) -> bool:
    """Operators and platform leads test connections, sync inventories, create namespaces."""
    return is_operator(user) or is_platform_lead(user)


def _require_manager(actor: Any) -> None:
    # ``actor=None`` is the system itself (demo seeding, reconcilers).
    if actor is not None and not can_manage_clusters(actor):
        raise NotAllowed("Only operators and platform leads act on clusters.")


def _require_active(cluster: Cluster) -> None:
    if not cluster.is_active:
        raise DomainError(f"Cluster {cluster.name} is retired: it takes no requests.")


# -------------------------------------------------------------- connection test


def test_connection(cluster: Cluster, *, actor: Any, reason: str = "") -> Operation:
    """Queue a connection test: the worker reads ``/version`` and counts the nodes.

    The result (server version, node count) or the API's error lands on the Operation.
    """
    _require_manager(actor)
    _require_active(cluster)
    with transaction.atomic():
        op = create_operation(
            kind=KIND_TEST_CONNECTION,
            actor=actor,
            target=cluster,
            payload={"cluster": cluster.name},
            reason=reason,
        )
        # Still before the commit that enqueues it: the worker sees the lower limit.
        Operation.objects.filter(pk=op.pk).update(max_attempts=TEST_CONNECTION_MAX_ATTEMPTS)
        op.max_attempts = TEST_CONNECTION_MAX_ATTEMPTS
        record(
            actor=actor,
            verb="clusters.connection_test_requested",
            target=cluster,
            after={"operation": op.pk},
            reason=reason,
        )
    return op


def check_connection(cluster: Cluster) -> dict[str, Any]:
    """Run the connection test now (the Operation handler calls this); JSON-able result."""
    started = time.monotonic()
    seen = call_cluster(cluster, "Testing the connection", probe, attempts=1)
    return {
        "cluster": cluster.name,
        "server_version": seen.server_version,
        "platform": seen.platform,
        "nodes": seen.nodes,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }


# --------------------------------------------------------------- inventory sync


@dataclass(frozen=True)
class SyncOutcome:
    """What one inventory sync did."""

    cluster: str
    skipped: bool
    synced_at: datetime | None = None
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        """JSON-able, for an Operation's result."""
        return {
            "cluster": self.cluster,
            "skipped": self.skipped,
            "synced_at": self.synced_at.isoformat() if self.synced_at else None,
            "seconds": round(self.seconds, 3),
            **self.summary,
        }


def window_start(now: datetime) -> datetime:
    """Start of the sync window ``now`` falls in (windows of ``SYNC_WINDOW`` from midnight)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    size = SYNC_WINDOW.total_seconds()
    return midnight + timedelta(seconds=((now - midnight).total_seconds() // size) * size)


def synced_in_window(cluster: Cluster, now: datetime) -> bool:
    """Whether the cluster already had a good sync in the window ``now`` falls in."""
    return (
        cluster.last_sync_status == SyncStatus.OK
        and cluster.last_sync_at is not None
        and cluster.last_sync_at >= window_start(now)
    )


def request_inventory_sync(cluster: Cluster, *, actor: Any, reason: str = "") -> Operation:
    """Queue an inventory sync now ("Sync now"), whatever the window."""
    _require_manager(actor)
    _require_active(cluster)
    with transaction.atomic():
        op = create_operation(
            kind=KIND_SYNC_INVENTORY,
            actor=actor,
            target=cluster,
            payload={"cluster": cluster.name},
            reason=reason,
        )
        record(
            actor=actor,
            verb="clusters.sync_requested",
            target=cluster,
            after={"operation": op.pk},
            reason=reason,
        )
    return op


def sync_inventory(
    cluster: Cluster,
    *,
    force: bool = True,
    attempts: int = SYNC_ATTEMPTS,
    now: datetime | None = None,
) -> SyncOutcome:
    """Read the cluster's GPU nodes and pods' GPU requests and store the inventory.

    Two paged list calls (``SYNC_PAGE_SIZE`` per page), then one transaction of bulk writes:
    nodes, capacity per product and usage per namespace are upserted and the ones that
    vanished deleted; the current hour's history rows are replaced. Idempotent: a second
    run stores the same rows. ``force=False`` (beat) skips a cluster that already had a
    good sync in this window. A ``ClusterError`` is recorded on the cluster and raised as
    a ``ClusterActionError``.
    """
    now = now or timezone.now()
    if not force and synced_in_window(cluster, now):
        return SyncOutcome(cluster=cluster.name, skipped=True, synced_at=cluster.last_sync_at)
    started = time.monotonic()
    action = "Reading the GPU inventory"
    try:
        conn = get_connection(cluster)
        nodes = with_retries(
            lambda: kube.list_gpu_nodes(conn, page_size=SYNC_PAGE_SIZE), attempts=attempts
        )
        pods = with_retries(
            lambda: kube.list_gpu_pod_requests(conn, page_size=SYNC_PAGE_SIZE), attempts=attempts
        )
    except ClusterError as error:
        failure = readable_error(error, cluster, action=action)
        record_sync_failure(cluster, failure, now=now)
        raise failure from error
    snapshot = build_snapshot(nodes, pods)
    store_inventory(cluster, snapshot, now=now, started=started)
    return SyncOutcome(
        cluster=cluster.name,
        skipped=False,
        synced_at=now,
        seconds=time.monotonic() - started,
        summary=snapshot.summary(),
    )


def store_inventory(
    cluster: Cluster, snapshot: InventorySnapshot, *, now: datetime, started: float
) -> None:
    """Write a snapshot in one transaction (about a dozen statements, whatever its size).

    ``started`` is the ``time.monotonic()`` at which the sync began (for its duration).
    """
    hour = now.replace(minute=0, second=0, microsecond=0)
    with transaction.atomic():
        # Serialise syncs of one cluster (beat and "Sync now" at the same moment).
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        GpuNode.objects.bulk_create(
            [
                GpuNode(
                    cluster=locked,
                    name=node.name,
                    gpu_product=node.gpu_product or "",
                    gpu_allocatable=node.gpu_allocatable,
                    gpu_capacity=node.gpu_capacity,
                    ready=node.ready,
                    unschedulable=node.unschedulable,
                    labels=node.labels,
                    last_seen_at=now,
                )
                for node in snapshot.nodes
            ],
            update_conflicts=True,
            unique_fields=["cluster", "name"],
            update_fields=[
                "gpu_product",
                "gpu_allocatable",
                "gpu_capacity",
                "ready",
                "unschedulable",
                "labels",
                "last_seen_at",
            ],
            batch_size=1000,
        )
        GpuNode.objects.filter(cluster=locked, last_seen_at__lt=now).delete()
        GpuCapacity.objects.bulk_create(
            [
                GpuCapacity(
                    cluster=locked,
                    gpu_product=product,
                    nodes=totals.nodes,
                    ready_nodes=totals.ready_nodes,
                    allocatable=totals.allocatable,
                    requested=totals.requested,
                    updated_at=now,
                )
                for product, totals in snapshot.products.items()
            ],
            update_conflicts=True,
            unique_fields=["cluster", "gpu_product"],
            update_fields=["nodes", "ready_nodes", "allocatable", "requested", "updated_at"],
        )
        GpuCapacity.objects.filter(cluster=locked, updated_at__lt=now).delete()
        NamespaceGpuUsage.objects.bulk_create(
            [
                NamespaceGpuUsage(
                    cluster=locked,
                    namespace=namespace,
                    gpu_product=product,
                    requested=usage.requested,
                    pods=usage.pods,
                    updated_at=now,
                )
                for (namespace, product), usage in snapshot.namespaces.items()
            ],
            update_conflicts=True,
            unique_fields=["cluster", "namespace", "gpu_product"],
            update_fields=["requested", "pods", "updated_at"],
            batch_size=1000,
        )
        NamespaceGpuUsage.objects.filter(cluster=locked, updated_at__lt=now).delete()
        _store_hour(locked, snapshot, hour)
        before = locked.last_sync_status
        locked.last_sync_at = now
        locked.last_sync_status = SyncStatus.OK
        locked.last_sync_error = ""
        locked.last_sync_duration_ms = round((time.monotonic() - started) * 1000)
        locked.save(
            update_fields=[
                "last_sync_at",
                "last_sync_status",
                "last_sync_error",
                "last_sync_duration_ms",
            ]
        )
        if before != SyncStatus.OK:
            record(
                actor=None,
                verb="clusters.inventory_healthy",
                target=locked,
                before={"last_sync_status": before},
                after={
                    "last_sync_status": SyncStatus.OK,
                    "nodes": len(snapshot.nodes),
                    "allocatable": snapshot.allocatable,
                    "requested": snapshot.requested,
                },
            )
    _copy_sync_fields(locked, cluster)


def _store_hour(cluster: Cluster, snapshot: InventorySnapshot, hour: datetime) -> None:
    """Replace this hour's history rows: cluster totals per product (namespace "") and
    per namespace and product. The last sync of an hour is the hour's value."""
    rows = [
        GpuUsageHour(
            cluster=cluster,
            hour=hour,
            gpu_product=product,
            namespace="",
            allocatable=totals.allocatable,
            requested=totals.requested,
        )
        for product, totals in snapshot.products.items()
    ]
    rows.extend(
        GpuUsageHour(
            cluster=cluster,
            hour=hour,
            gpu_product=product,
            namespace=namespace,
            allocatable=0,
            requested=usage.requested,
        )
        for (namespace, product), usage in snapshot.namespaces.items()
    )
    GpuUsageHour.objects.filter(cluster=cluster, hour=hour).delete()
    GpuUsageHour.objects.bulk_create(rows, batch_size=1000)


def record_sync_failure(cluster: Cluster, error: ClusterError, *, now: datetime) -> None:
    """Mark the cluster's last sync as failed with a readable message; audit a change of
    health (not every failed attempt)."""
    message = str(error) if isinstance(error, ClusterActionError) else describe_cluster_error(error)
    message = redact(message, cluster)[:4000]
    with transaction.atomic():
        before = (
            Cluster.objects.filter(pk=cluster.pk).values_list("last_sync_status", flat=True).first()
        )
        Cluster.objects.filter(pk=cluster.pk).update(
            last_sync_at=now, last_sync_status=SyncStatus.ERROR, last_sync_error=message
        )
        if before != SyncStatus.ERROR:
            record(
                actor=None,
                verb="clusters.inventory_failing",
                target=cluster,
                before={"last_sync_status": before},
                after={"last_sync_status": SyncStatus.ERROR, "error": message},
            )
    cluster.last_sync_at = now
    cluster.last_sync_status = SyncStatus.ERROR
    cluster.last_sync_error = message


def _copy_sync_fields(source: Cluster, target: Cluster) -> None:
    for name in ("last_sync_at", "last_sync_status", "last_sync_error", "last_sync_duration_ms"):
        setattr(target, name, getattr(source, name))


def sync_health(cluster: Cluster, *, now: datetime | None = None) -> tuple[str, str]:
    """(badge status, label) of the cluster's inventory: ok, stale, error or never."""
    now = now or timezone.now()
    if cluster.last_sync_status == SyncStatus.ERROR:
        return "error", "Sync failing"
    if cluster.last_sync_status == SyncStatus.NEVER or cluster.last_sync_at is None:
        return "pending", "Not synced yet"
    if now - cluster.last_sync_at > STALE_AFTER:
        return "retrying", "Stale"
    return "ok", "Healthy"


def has_active_sync(cluster: Cluster) -> bool:
    """Whether a sync Operation for the cluster is waiting or running."""
    return (
        Operation.objects.for_target(cluster)
        .filter(kind=KIND_SYNC_INVENTORY)
        .exclude(status__in=TERMINAL_OPERATION_STATUSES)
        .exists()
    )


# ------------------------------------------------------------- team namespaces


def ensure_team_namespace(tns: TeamNamespace, *, actor: Any, reason: str = "") -> Operation:
    """Queue creating the namespace on its cluster (or labelling an existing one) with
    ``tarmac.io/team: <team>`` and ``app.kubernetes.io/managed-by: tarmac``."""
    _require_manager(actor)
    _require_active(tns.cluster)
    with transaction.atomic():
        op = create_operation(
            kind=KIND_ENSURE_NAMESPACE,
            actor=actor,
            target=tns,
            team=tns.team,
            payload={
                "cluster": tns.cluster.name,
                "namespace": tns.name,
                "team": tns.team.slug,
            },
            reason=reason,
        )
        record(
            actor=actor,
            verb="clusters.namespace_ensure_requested",
            target=tns,
            team=tns.team,
            after={"operation": op.pk, "cluster": tns.cluster.name, "namespace": tns.name},
            reason=reason,
        )
    return op


def apply_team_namespace(tns: TeamNamespace) -> dict[str, Any]:
    """Create or label the namespace now (the Operation handler calls this)."""
    state = call_cluster(
        tns.cluster,
        f"Creating namespace {tns.name}",
        lambda conn: kube.ensure_namespace(conn, tns.name, team_slug=tns.team.slug),
        attempts=OPERATION_ATTEMPTS,
    )
    return {
        "cluster": tns.cluster.name,
        "namespace": state.name,
        "team": tns.team.slug,
        "created": state.created,
        "changed": state.changed,
        "labels": state.labels,
    }


def fingerprint(value: str) -> str:
    """A short, stable stand-in for a credential location (for audit snapshots)."""
    if not value:
        return ""
    return "set, sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]
