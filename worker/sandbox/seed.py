"""Seeding the sandbox: the YAML seed format, object builders and a large-cluster generator.

Seed format: a multi-document YAML file. Each document is one of

- a plain Kubernetes object (Node, Pod, Namespace, ResourceQuota, ClusterQueue, LocalQueue,
  ResourceFlavor, InferenceService): it goes to the default cluster;
- a ``kind: List`` with ``items``: each item goes to the default cluster;
- a cluster wrapper ``{"cluster": "train-eu", "objects": [...]}``: the objects go to the
  named cluster (several wrappers may name the same cluster).

Clusters are created in the order they first appear; the first one is also served at the
root URL. The default cluster for plain objects is called ``default`` unless a caller says
otherwise. ``demo.yaml`` next to this file is an example with two clusters.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from worker.sandbox.state import ClusterState

DEMO_PATH = Path(__file__).parent / "demo.yaml"
DEFAULT_CLUSTER = "default"

# GPU Feature Discovery facts per product: memory in MiB (as NVML reports it), family,
# compute capability and a typical machine. Labels follow NVIDIA's GFD documentation.
GPU_PRODUCTS: dict[str, dict[str, str]] = {
    "NVIDIA-H100-80GB-HBM3": {
        "memory": "81559",
        "family": "hopper",
        "compute.major": "9",
        "compute.minor": "0",
        "machine": "NVIDIA-DGX-H100",
    },
    "NVIDIA-A100-SXM4-80GB": {
        "memory": "81920",
        "family": "ampere",
        "compute.major": "8",
        "compute.minor": "0",
        "machine": "NVIDIA-DGX-A100",
    },
    "NVIDIA-L4": {
        "memory": "23034",
        "family": "ada-lovelace",
        "compute.major": "8",
        "compute.minor": "9",
        "machine": "g2-standard-48",
    },
}


def parse_seed(
    text: str, *, default_cluster: str = DEFAULT_CLUSTER
) -> dict[str, list[dict[str, Any]]]:
    """Objects per cluster name from seed YAML text (see the module docstring)."""
    clusters: dict[str, list[dict[str, Any]]] = {}
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ValueError(f"a seed document must be a mapping, got {type(document).__name__}")
        if "cluster" in document and "kind" not in document:
            objects = document.get("objects") or []
            clusters.setdefault(str(document["cluster"]), []).extend(_expand(objects))
        else:
            clusters.setdefault(default_cluster, []).extend(_expand([document]))
    return clusters


def _expand(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    expanded: list[dict[str, Any]] = []
    for obj in objects:
        if obj.get("kind") == "List" or str(obj.get("kind", "")).endswith("List"):
            expanded.extend(_expand(obj.get("items") or []))
        else:
            expanded.append(obj)
    return expanded


def load_seed_file(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Objects per cluster from a seed file."""
    return parse_seed(Path(path).read_text(encoding="utf-8"))


def build_clusters(
    seed: dict[str, list[dict[str, Any]]], *, strict_fields: bool = True
) -> list[ClusterState]:
    """One ClusterState per seeded cluster, in seed order (at least one, possibly empty)."""
    if not seed:
        return [ClusterState(DEFAULT_CLUSTER, strict_fields=strict_fields)]
    return [
        ClusterState(name, objects, strict_fields=strict_fields) for name, objects in seed.items()
    ]


# --------------------------------------------------------------------- object builders


def namespace(name: str, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Namespace object."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(labels or {})},
    }


def gpu_node(
    name: str,
    product: str | None,
    gpus: int,
    *,
    cpu: int = 224,
    memory: str = "2Ti",
    ready: bool = True,
    unschedulable: bool = False,
    zone: str = "zone-a",
) -> dict[str, Any]:
    """A Node shaped like NVIDIA knavigator's virtual DGX nodes, with GPU Feature Discovery labels.

    ``product=None`` makes a CPU-only node (no nvidia.com labels or resources).
    """
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/agent": "",
        "topology.kubernetes.io/zone": zone,
    }
    resources: dict[str, Any] = {
        "cpu": str(cpu),
        "ephemeral-storage": "30Ti",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": memory,
        "pods": "110",
    }
    if product is not None:
        facts = GPU_PRODUCTS.get(product, {})
        labels.update(
            {
                "nvidia.com/cuda.driver.major": "550",
                "nvidia.com/cuda.driver.minor": "90",
                "nvidia.com/cuda.driver.rev": "07",
                "nvidia.com/cuda.runtime.major": "12",
                "nvidia.com/cuda.runtime.minor": "4",
                "nvidia.com/gfd.timestamp": "1718000000",
                "nvidia.com/gpu.compute.major": facts.get("compute.major", "8"),
                "nvidia.com/gpu.compute.minor": facts.get("compute.minor", "0"),
                "nvidia.com/gpu.count": str(gpus),
                "nvidia.com/gpu.family": facts.get("family", "unknown"),
                "nvidia.com/gpu.machine": facts.get("machine", "unknown"),
                "nvidia.com/gpu.memory": facts.get("memory", "0"),
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": product,
                "nvidia.com/gpu.replicas": "1",
            }
        )
        resources["nvidia.com/gpu"] = str(gpus)
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        (
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            "kubelet is posting ready status" if ready else "container runtime is down",
        ),
    ]
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {
            "allocatable": dict(resources),
            "capacity": dict(resources),
            "conditions": [
                {"type": kind, "status": status, "reason": reason, "message": message}
                for kind, status, reason, message in conditions
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "",
                "containerRuntimeVersion": "containerd://1.7.13",
                "kernelVersion": "5.15.0-105-generic",
                "kubeProxyVersion": "v1.31.0",
                "kubeletVersion": "v1.31.0",
                "machineID": "",
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.4 LTS",
                "systemUUID": "",
            },
        },
    }
    if unschedulable:
        node["spec"] = {
            "unschedulable": True,
            "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}],
        }
    return node


def gpu_pod(
    namespace_name: str,
    name: str,
    *,
    node: str | None,
    gpus: int,
    phase: str = "Running",
    labels: dict[str, str] | None = None,
    image: str = "nvcr.io/nvidia/pytorch:24.05-py3",
) -> dict[str, Any]:
    """A Pod whose single container requests ``gpus`` GPUs (``gpus=0``: a CPU-only pod)."""
    requests: dict[str, str] = {"cpu": "4", "memory": "32Gi"}
    limits: dict[str, str] = {}
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
        limits["nvidia.com/gpu"] = str(gpus)
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "resources": {"requests": requests, **({"limits": limits} if limits else {})},
    }
    spec: dict[str, Any] = {
        "containers": [container],
        "restartPolicy": "Never" if phase in ("Succeeded", "Failed") else "Always",
        "schedulerName": "default-scheduler",
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace_name, "labels": dict(labels or {})},
        "spec": spec,
        "status": {"phase": phase, "qosClass": "Burstable"},
    }


def generate_cluster(
    nodes: int = 1000,
    pods: int = 20000,
    *,
    namespaces: int = 50,
    products: tuple[str, ...] = ("NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", "NVIDIA-L4"),
    gpus_per_node: int = 8,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """A large synthetic cluster (for benchmarks): GPU nodes, team namespaces and pods.

    Deterministic for a given ``seed``. About 10% of pods are finished (Succeeded/Failed)
    and 20% request no GPU; pods are placed on nodes round-robin, ignoring capacity.
    """
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    team_names = [f"team-{index:03d}" for index in range(namespaces)]
    objects.extend(namespace(name, labels={"tarmac.io/team": name}) for name in team_names)
    node_names: list[str] = []
    for index in range(nodes):
        product = products[index % len(products)]
        name = f"gpu-{product.split('-')[1].lower()}-{index:05d}"
        node_names.append(name)
        objects.append(gpu_node(name, product, gpus_per_node, ready=rng.random() > 0.01))
    for index in range(pods):
        roll = rng.random()
        phase = "Succeeded" if roll < 0.07 else "Failed" if roll < 0.10 else "Running"
        gpus = 0 if rng.random() < 0.2 else rng.choice((1, 1, 2, 4, 8))
        objects.append(
            gpu_pod(
                team_names[index % namespaces],
                f"job-{index:06d}",
                node=node_names[index % nodes] if node_names else None,
                gpus=gpus,
                phase=phase,
            )
        )
    return objects


def resource_quota(
    namespace_name: str,
    name: str,
    hard: dict[str, Any],
    *,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ResourceQuota object with ``spec.hard``."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": namespace_name, "labels": dict(labels or {})},
        "spec": {"hard": dict(hard)},
    }


def resource_flavor(name: str, product: str) -> dict[str, Any]:
    """A Kueue ResourceFlavor selecting nodes of one GPU product."""
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "ResourceFlavor",
        "metadata": {"name": name},
        "spec": {"nodeLabels": {"nvidia.com/gpu.product": product}},
    }


def cluster_queue(name: str, gpus_by_flavor: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A Kueue ClusterQueue with one resource group covering only ``nvidia.com/gpu``."""
    flavors = [
        {"name": flavor, "resources": [{"name": "nvidia.com/gpu", "nominalQuota": gpus}]}
        for flavor, gpus in gpus_by_flavor.items()
    ]
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "ClusterQueue",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {},
            "resourceGroups": [{"coveredResources": ["nvidia.com/gpu"], "flavors": flavors}],
            **spec,
        },
    }


def local_queue(namespace_name: str, name: str, cluster_queue_name: str) -> dict[str, Any]:
    """A Kueue LocalQueue pointing at a ClusterQueue."""
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "LocalQueue",
        "metadata": {"name": name, "namespace": namespace_name},
        "spec": {"clusterQueue": cluster_queue_name},
    }


def inference_service(
    namespace_name: str,
    name: str,
    storage_uri: str,
    *,
    model_format: str = "sklearn",
    annotations: dict[str, str] | None = None,
    **predictor: Any,
) -> dict[str, Any]:
    """A KServe InferenceService with a ``model`` predictor (extra predictor fields as kwargs)."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": namespace_name,
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": model_format}, "storageUri": storage_uri},
                **predictor,
            }
        },
    }
