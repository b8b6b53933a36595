"""Cluster operations through a real ``celery worker`` process talking to a sandbox over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from apps.clusters import services
from apps.clusters.models import Cluster, GpuCapacity
from apps.core.models import Operation
from tests.clusters.factories import H100, L4, ClusterFactory
from tests.conftest import wait_for
from tests.kube.cluster import cluster_objects
from worker.sandbox.testing import running_sandbox

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def finished(op: Operation) -> Any:
    return wait_for(
        lambda: Operation.objects.filter(pk=op.pk, status__in=["succeeded", "failed"]).first(),
        timeout=60,
    )


def test_sync_now_runs_in_the_worker_against_the_sandbox(op_user: Any, live_worker: Any) -> None:
    """GIVEN a cluster served by a sandbox the worker process reaches over HTTP
    WHEN an operator asks for a sync and the sandbox fails the first two lists with 500
    THEN the worker retries, stores the inventory and the Operation succeeds."""
    with running_sandbox(seed=cluster_objects()) as sandbox:
        cluster = ClusterFactory.create(name="live", api_url=sandbox.cluster_url("default"))
        sandbox.faults.fail_next(2, 500, "etcd leader changed")

        done = finished(services.request_inventory_sync(cluster, actor=op_user))

    assert done.status == "succeeded", done.last_error
    assert done.result["products"][H100]["allocatable"] == 24
    assert dict(
        GpuCapacity.objects.filter(cluster=cluster).values_list("gpu_product", "requested")
    ) == {
        H100: 10,
        L4: 1,
    }
    assert Cluster.objects.get(pk=cluster.pk).last_sync_status == "ok"


def test_a_forbidden_sync_fails_in_the_worker_with_the_apis_message(
    op_user: Any, live_worker: Any
) -> None:
    with running_sandbox(seed=cluster_objects(), rbac_rules=[]) as sandbox:
        cluster = ClusterFactory.create(name="live-denied", api_url=sandbox.cluster_url("default"))

        done = finished(services.request_inventory_sync(cluster, actor=op_user))

    assert done.status == "failed" and done.attempts == 1
    assert "HTTP 403 Forbidden: nodes is forbidden" in done.last_error
    assert Cluster.objects.get(pk=cluster.pk).last_sync_status == "error"
