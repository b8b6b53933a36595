"""Celery tasks of the clusters app: the periodic inventory sync, fanned out per cluster."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.clusters import services
from apps.clusters.models import Cluster
from worker.kube import ClusterError

log = logging.getLogger(__name__)

# Per-cluster tasks expire with the beat entry (every 5 minutes, expires after 4), so a
# backlog of syncs never piles up behind a slow cluster.
SYNC_TASK_EXPIRES_SECONDS = 240


@shared_task(name="clusters.sync_all_inventories", ignore_result=True)
def sync_all_inventories() -> int:
    """Beat: queue one inventory sync per active cluster. Returns how many were queued."""
    cluster_ids = list(Cluster.objects.active().values_list("pk", flat=True))
    for cluster_id in cluster_ids:
        sync_cluster_inventory.apply_async((cluster_id,), expires=SYNC_TASK_EXPIRES_SECONDS)
    return len(cluster_ids)


@shared_task(name="clusters.sync_cluster_inventory", ignore_result=True)
def sync_cluster_inventory(cluster_id: int) -> None:
    """Sync one cluster unless it already had a good sync in this window.

    Transient cluster errors are retried inside the sync; a failure is recorded on the
    cluster row (shown on the Clusters page) and the next window tries again.
    """
    cluster = Cluster.objects.active().filter(pk=cluster_id).first()
    if cluster is None:
        return
    try:
        outcome = services.sync_inventory(cluster, force=False)
    except ClusterError as error:
        log.warning("inventory sync of cluster %s failed: %s", cluster.name, error)
        return
    if not outcome.skipped:
        log.info("inventory of cluster %s synced in %.2fs", cluster.name, outcome.seconds)
