"""Quota fixtures: a GPU cluster with the two demo products, the teams' namespaces, and
a Kubernetes API sandbox the cluster points at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.clusters.models import Cluster, TeamNamespace
from tests.factories import member_of, platform_lead
from tests.quotas.factories import make_cluster, make_namespace, map_flavors
from worker.kube import clear_client_cache
from worker.sandbox import seed
from worker.sandbox.pytest_plugin import k8s_sandbox, k8s_sandbox_factory
from worker.sandbox.testing import Sandbox

__all__ = ["k8s_sandbox", "k8s_sandbox_factory"]


@pytest.fixture(autouse=True)
def _fresh_client_cache() -> Iterator[None]:
    clear_client_cache()
    yield
    clear_client_cache()


@pytest.fixture
def cluster(db: Any) -> Cluster:
    """train-eu: 16 H100 and 8 A100 allocatable, no Kueue, no over-commit."""
    return make_cluster()


@pytest.fixture
def vision_ns(cluster: Cluster, team: Any) -> TeamNamespace:
    return make_namespace(cluster, team)


@pytest.fixture
def nlp_ns(cluster: Cluster, other_team: Any) -> TeamNamespace:
    return make_namespace(cluster, other_team)


@pytest.fixture
def second_lead(db: Any) -> Any:
    return platform_lead(username="leo")


@pytest.fixture
def teammate(team: Any) -> Any:
    return member_of(team, username="tom")


def sandbox_objects() -> list[dict[str, Any]]:
    """Namespaces of the two teams (labelled as Tarmac labels them), the demo flavors, and
    a ClusterQueue for vision that also covers CPU (which Tarmac must leave alone)."""
    vision_queue = seed.cluster_queue("team-vision", {"h100-80gb": 0}, cohort="gpu-pool")
    vision_queue["spec"]["resourceGroups"] = [
        {
            "coveredResources": ["cpu", "nvidia.com/gpu"],
            "flavors": [
                {
                    "name": "h100-80gb",
                    "resources": [
                        {"name": "cpu", "nominalQuota": 224},
                        {"name": "nvidia.com/gpu", "nominalQuota": 0},
                    ],
                }
            ],
        }
    ]
    return [
        seed.namespace(
            "team-vision",
            labels={"tarmac.io/team": "vision", "app.kubernetes.io/managed-by": "tarmac"},
        ),
        seed.namespace(
            "team-nlp", labels={"tarmac.io/team": "nlp", "app.kubernetes.io/managed-by": "tarmac"}
        ),
        seed.resource_flavor("h100-80gb", "NVIDIA-H100-80GB-HBM3"),
        seed.resource_flavor("a100-80gb", "NVIDIA-A100-SXM4-80GB"),
        vision_queue,
    ]


@pytest.fixture
def sandbox(k8s_sandbox_factory: Callable[..., Sandbox], cluster: Cluster) -> Sandbox:
    """A sandbox with the teams' namespaces; the cluster points at it."""
    box = k8s_sandbox_factory(seed=sandbox_objects())
    Cluster.objects.filter(pk=cluster.pk).update(api_url=box.url)
    cluster.api_url = box.url
    return box


@pytest.fixture
def kueue_cluster(cluster: Cluster, sandbox: Sandbox) -> Cluster:
    """The same cluster, running Kueue, with the demo flavor mappings."""
    Cluster.objects.filter(pk=cluster.pk).update(uses_kueue=True)
    cluster.uses_kueue = True
    map_flavors(cluster)
    return cluster


def quota_of(sandbox: Sandbox, namespace: str) -> int | None:
    """``requests.nvidia.com/gpu`` of the namespace's Tarmac quota in the sandbox."""
    obj = sandbox.state.get("ResourceQuota", namespace, "tarmac-gpu-quota")
    if obj is None:
        return None
    return int(obj["spec"]["hard"]["requests.nvidia.com/gpu"])


def queue_quota(sandbox: Sandbox, queue: str) -> dict[str, int]:
    """GPU nominalQuota per flavor of a ClusterQueue in the sandbox."""
    obj = sandbox.state.get("ClusterQueue", None, queue)
    assert obj is not None, f"no ClusterQueue {queue}"
    out = {}
    for group in obj["spec"]["resourceGroups"]:
        for flavor in group["flavors"]:
            for resource in flavor["resources"]:
                if resource["name"] == "nvidia.com/gpu":
                    out[flavor["name"]] = int(resource["nominalQuota"])
    return out
