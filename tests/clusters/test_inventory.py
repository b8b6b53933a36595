"""Lookups other apps use (one query each) and the snapshot arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from apps.clusters import inventory, services
from apps.clusters.models import Cluster
from apps.clusters.snapshot import build_snapshot
from tests.clusters.factories import H100, L4, GpuCapacityFactory
from worker.kube import GpuPodRequests, NodeInfo, PodGpuRequest

pytestmark = pytest.mark.django_db


def node(name: str, product: str | None, gpus: int, *, ready: bool = True) -> NodeInfo:
    return NodeInfo(name, product, gpus, gpus, {}, ready, False)


def test_lookups_read_the_synced_inventory(
    cluster: Cluster, django_assert_num_queries: Any
) -> None:
    services.sync_inventory(cluster)

    with django_assert_num_queries(1):
        assert inventory.allocatable_gpus(cluster, H100) == 24
    with django_assert_num_queries(1):
        assert inventory.free_gpus(cluster, H100) == 14
    with django_assert_num_queries(1):
        assert inventory.requested_gpus(cluster) == 15  # the pending pod's 4 included
    with django_assert_num_queries(1):
        assert inventory.requested_gpus(cluster.pk, namespace="team-b") == 5
    with django_assert_num_queries(1):
        assert inventory.requested_gpus(cluster, namespace="team-b", product=L4) == 1
    with django_assert_num_queries(1):
        assert inventory.gpu_products(cluster) == [H100, L4]


def test_lookups_of_an_unknown_product_are_zero(cluster: Cluster) -> None:
    assert inventory.allocatable_gpus(cluster, "NVIDIA-B200") == 0
    assert inventory.free_gpus(cluster, "NVIDIA-B200") == 0
    assert inventory.requested_gpus(cluster, product="NVIDIA-B200") == 0


def test_free_gpus_never_go_below_zero(db: Any) -> None:
    # Pods may request more than is allocatable (a node went away under running pods).
    capacity = GpuCapacityFactory.create(gpu_product=H100, allocatable=8, requested=12)
    assert inventory.free_gpus(capacity.cluster, H100) == 0


def test_pods_count_for_the_product_of_their_node() -> None:
    snapshot = build_snapshot(
        [node("h", H100, 8), node("l", L4, 4, ready=False), node("bare", None, 2)],
        GpuPodRequests(
            pods=[
                PodGpuRequest("a", "p1", "h", 4, "Running"),
                PodGpuRequest("a", "p2", "l", 1, "Running"),
                PodGpuRequest("a", "p3", None, 2, "Pending"),
                PodGpuRequest("b", "p4", "bare", 2, "Running"),
                PodGpuRequest("b", "p5", "cpu-node", 1, "Running"),
            ]
        ),
    )
    assert {
        p: (t.nodes, t.ready_nodes, t.allocatable, t.requested)
        for p, t in snapshot.products.items()
    } == {
        H100: (1, 1, 8, 4),
        L4: (1, 0, 4, 1),
        "": (1, 1, 2, 2),
    }
    assert {k: (v.requested, v.pods) for k, v in snapshot.namespaces.items()} == {
        ("a", H100): (4, 1),
        ("a", L4): (1, 1),
        ("a", ""): (2, 1),
        ("b", ""): (3, 2),
    }
    assert snapshot.requested == 10 and snapshot.allocatable == 14


def test_window_start_is_aligned_to_five_minutes() -> None:
    from datetime import UTC, datetime

    assert services.window_start(datetime(2026, 1, 1, 10, 7, 59, tzinfo=UTC)) == datetime(
        2026, 1, 1, 10, 5, tzinfo=UTC
    )
