"""The periodic inventory sync: fanned out per active cluster, idempotent per window."""

from __future__ import annotations

from typing import Any

import pytest

from apps.clusters import tasks
from apps.clusters.models import Cluster, GpuCapacity
from tests.clusters.factories import H100, ClusterFactory
from worker import app
from worker.sandbox.testing import Sandbox

pytestmark = pytest.mark.django_db


def list_calls(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.state.requests if r.verb == "list")


def test_beat_entry_runs_every_five_minutes_and_expires_before_the_next() -> None:
    entry = next(
        e for e in app.conf.beat_schedule.values() if e["task"] == "clusters.sync_all_inventories"
    )
    assert entry["schedule"] == 300 and entry["options"]["expires"] < 300


def test_beat_syncs_every_active_cluster_once_per_window(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    ClusterFactory.create(name="retired", is_active=False, api_url=sandbox.url)

    assert tasks.sync_all_inventories.apply().get() == 1
    assert GpuCapacity.objects.filter(cluster=cluster, gpu_product=H100).exists()
    assert list_calls(sandbox) == 2

    tasks.sync_all_inventories.apply()  # a duplicate in the same window does nothing
    assert list_calls(sandbox) == 2


def test_a_failing_cluster_does_not_stop_the_others(
    cluster: Cluster, sandbox: Sandbox, caplog: Any
) -> None:
    ClusterFactory.create(name="aaa-unreachable", api_url="http://127.0.0.1:9", timeout_seconds=1)
    tasks.sync_all_inventories.apply()

    broken = Cluster.objects.get(name="aaa-unreachable")
    assert broken.last_sync_status == "error"
    assert "ConnectionRefused" in broken.last_sync_error
    cluster.refresh_from_db()
    assert cluster.last_sync_status == "ok"
    assert "inventory sync of cluster aaa-unreachable failed" in caplog.text


def test_a_deleted_cluster_is_skipped_quietly(db: Any) -> None:
    tasks.sync_cluster_inventory.apply(args=(987654,))  # no exception
