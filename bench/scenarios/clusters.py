"""Clusters: inventory sync of 1,000 nodes and 20,000 pods through the sandbox, and the
Clusters page with 50 clusters (query counts also at 100 nodes / 5 clusters)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Team
from apps.clusters import services
from apps.clusters.models import (
    Cluster,
    GpuCapacity,
    GpuNode,
    GpuUsageHour,
    NamespaceGpuUsage,
    TeamNamespace,
)
from bench.harness import Context, Scenario
from tests.factories import platform_lead
from worker.kube import clear_client_cache
from worker.sandbox.seed import generate_cluster
from worker.sandbox.testing import running_sandbox

PRODUCTS = ("NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", "NVIDIA-L4")
SYNC_CLUSTER = "bench-sync"
PAGE_PREFIX = "bench-cl-"
NODES_PER_CLUSTER = 24
NAMESPACES_PER_CLUSTER = 4
HISTORY_DAYS = 14


# ----------------------------------------------------------------------- sync


def run_sync(ctx: Context) -> None:
    nodes, pods = ctx.pick((1000, 20000), (100, 2000))
    scale = f"{nodes} nodes, {pods} pods"
    with running_sandbox(seed=generate_cluster(nodes=nodes, pods=pods)) as sandbox:
        cluster, _ = Cluster.objects.update_or_create(
            name=SYNC_CLUSTER,
            defaults={
                "auth_method": Cluster.AuthMethod.NONE,
                "api_url": sandbox.url,
                "timeout_seconds": 60,
                "is_active": True,
            },
        )
        for model in (GpuNode, GpuCapacity, NamespaceGpuUsage, GpuUsageHour):
            model.objects.filter(cluster=cluster).delete()  # a cold first sync
        clear_client_cache()
        sandbox.state.clear_requests()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            outcome = services.sync_inventory(cluster, force=True)
            first = time.perf_counter() - started
        list_calls = sum(1 for r in sandbox.state.requests if r.verb == "list")
        resync = ctx.measure(
            lambda: services.sync_inventory(cluster, force=True), n=ctx.pick(5, 1), warmup=0
        )
        # Out of the Clusters page's count.
        Cluster.objects.filter(pk=cluster.pk).update(is_active=False)
    assert outcome.summary["nodes"] == nodes, outcome.summary
    ctx.emit("clusters.sync", "seconds", first, "s", scale)
    ctx.emit("clusters.sync", "seconds_resync_p95", resync.p95_ms / 1000, "s", scale)
    ctx.emit("clusters.sync", "list_calls", list_calls, "calls", scale)
    ctx.emit("clusters.sync", "gpu_pods", outcome.summary["gpu_pods"], "pods", scale)
    ctx.emit("clusters.sync", "queries", len(queries), "queries", scale)


# ----------------------------------------------------------------------- page


def _seed_page_clusters(count: int) -> None:
    """``count`` synced clusters with three products, team namespaces, nodes and history."""
    existing = Cluster.objects.filter(name__startswith=PAGE_PREFIX).count()
    if existing >= count:
        return
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    teams = [
        Team.objects.get_or_create(slug=f"bench-team-{i}", defaults={"name": f"Bench {i}"})[0]
        for i in range(20)
    ]
    for index in range(existing, count):
        cluster = Cluster.objects.create(
            name=f"{PAGE_PREFIX}{index:03d}",
            display_name=f"Bench cluster {index}",
            region=f"region-{index % 5}",
            auth_method=Cluster.AuthMethod.NONE,
            api_url="http://127.0.0.1:9/unused",
            uses_kueue=index % 2 == 0,
            uses_kserve=index % 3 == 0,
            gpu_products=list(PRODUCTS),
            last_sync_at=now,
            last_sync_status="ok",
            last_sync_duration_ms=800,
        )
        namespaces = [
            TeamNamespace(
                cluster=cluster,
                team=teams[(index + n) % len(teams)],
                name=f"team-{(index + n) % len(teams):02d}",
            )
            for n in range(NAMESPACES_PER_CLUSTER)
        ]
        TeamNamespace.objects.bulk_create(namespaces)
        GpuNode.objects.bulk_create(
            GpuNode(
                cluster=cluster,
                name=f"{cluster.name}-node-{n:03d}",
                gpu_product=PRODUCTS[n % 3],
                gpu_allocatable=8,
                gpu_capacity=8,
                ready=n % 11 != 0,
                last_seen_at=now,
            )
            for n in range(NODES_PER_CLUSTER)
        )
        per_product = NODES_PER_CLUSTER // 3
        GpuCapacity.objects.bulk_create(
            GpuCapacity(
                cluster=cluster,
                gpu_product=product,
                nodes=per_product,
                ready_nodes=per_product - 1,
                allocatable=per_product * 8,
                requested=per_product * 5,
                updated_at=now,
            )
            for product in PRODUCTS
        )
        NamespaceGpuUsage.objects.bulk_create(
            NamespaceGpuUsage(
                cluster=cluster,
                namespace=tns.name,
                gpu_product=product,
                requested=10,
                pods=4,
                updated_at=now,
            )
            for tns in namespaces
            for product in PRODUCTS
        )
        GpuUsageHour.objects.bulk_create(
            (
                GpuUsageHour(
                    cluster=cluster,
                    hour=hour - timedelta(hours=back),
                    gpu_product=product,
                    namespace=namespace,
                    allocatable=per_product * 8 if not namespace else 0,
                    requested=(back * 7 + index) % (per_product * 8),
                )
                for back in range(HISTORY_DAYS * 24)
                for product in PRODUCTS
                for namespace in ["", *(tns.name for tns in namespaces)]
            ),
            batch_size=2000,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("clusters_gpuusagehour", "clusters_gpunode", "clusters_gpucapacity"):
                cursor.execute(f"ANALYZE {table}")


def run_page(ctx: Context) -> None:
    count = ctx.pick(50, 5)
    _seed_page_clusters(count)
    # Other scenarios may add clusters of their own: the scale says how many are shown.
    active = Cluster.objects.active().count()
    # Keep the page "healthy": the seeded sync time must not go stale between runs.
    Cluster.objects.active().update(last_sync_at=timezone.now())
    lead = platform_lead(username="bench-lead")
    client = ctx.client_for(lead)
    api = ctx.api_client_for(lead)
    scale = f"{active} clusters"
    n = ctx.pick(100, 5)
    runs = [
        ("clusters.page", client, "/clusters/", {}),
        ("clusters.page.htmx", client, "/clusters/", {"HTTP_HX_REQUEST": "true"}),
        ("clusters.detail", client, f"/clusters/{PAGE_PREFIX}000/", {}),
        ("clusters.api", api, "/api/v1/clusters/", {}),
    ]
    for name, http, url, headers in runs:
        timing = ctx.measure_get(WithHeaders(http, headers), url, n=n)
        ctx.emit_timing(name, timing, scale)


class WithHeaders:
    """A client whose GETs carry extra headers (the htmx request header)."""

    def __init__(self, client: object, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def get(self, url: str) -> object:
        return self.client.get(url, **self.headers)  # type: ignore[attr-defined]


SCENARIOS = [
    Scenario("clusters.page", run_page, "Clusters page, its htmx fragment, detail and API"),
    Scenario("clusters.sync", run_sync, "inventory sync of 1,000 nodes / 20,000 pods via sandbox"),
]
