"""GPU inventory: nodes with their GPU product and counts, and pods' GPU requests.

Both lists are paged (``limit``/``continue``) so that a cluster with thousands of nodes
and tens of thousands of pods is read in bounded pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import CoreV1Api

from worker.kube._calls import call_json, labels_of, list_pages
from worker.kube.connection import Target, resolve
from worker.kube.quantity import parse_count

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
# Labels kept on NodeInfo: GPU Feature Discovery's nvidia.com/* and where the node is.
_KEPT_LABEL_PREFIXES = (
    "nvidia.com/",
    "topology.kubernetes.io/",
    "node.kubernetes.io/instance-type",
)
NOT_TERMINATED = "status.phase!=Succeeded,status.phase!=Failed"


@dataclass(frozen=True)
class NodeInfo:
    """A node that has GPUs, as the inventory sees it."""

    name: str
    gpu_product: str | None
    gpu_allocatable: int
    gpu_capacity: int
    labels: dict[str, str]
    ready: bool
    unschedulable: bool


@dataclass(frozen=True)
class PodGpuRequest:
    """One running (or pending) pod's GPU request."""

    namespace: str
    pod: str
    node: str | None
    gpus: int
    phase: str


@dataclass(frozen=True)
class GpuPodRequests:
    """GPU requests of non-terminated pods: per-namespace totals and the pods behind them."""

    by_namespace: dict[str, int] = field(default_factory=dict)
    pods: list[PodGpuRequest] = field(default_factory=list)

    @property
    def total(self) -> int:
        """GPUs requested in the whole cluster."""
        return sum(self.by_namespace.values())


def _gpus(resources: dict[str, Any]) -> int:
    try:
        return parse_count(resources.get(GPU_RESOURCE, 0))
    except ValueError:
        return 0


def _node_info(node: dict[str, Any]) -> NodeInfo | None:
    labels = labels_of(node)
    status = node.get("status") or {}
    capacity = _gpus(status.get("capacity") or {})
    allocatable = _gpus(status.get("allocatable") or {})
    product = labels.get(GPU_PRODUCT_LABEL)
    if not capacity and not allocatable and product is None:
        return None
    ready = any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in status.get("conditions") or []
    )
    return NodeInfo(
        name=node["metadata"]["name"],
        gpu_product=product,
        gpu_allocatable=allocatable,
        gpu_capacity=capacity,
        labels={k: v for k, v in labels.items() if k.startswith(_KEPT_LABEL_PREFIXES)},
        ready=ready,
        unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
    )


def list_gpu_nodes(
    conn: Target, page_size: int = 500, *, label_selector: str | None = None
) -> list[NodeInfo]:
    """Every node with GPUs (capacity ``nvidia.com/gpu`` or a GFD product label)."""
    api, timeout = resolve(conn)
    core = CoreV1Api(api)

    def fetch(token: str | None) -> dict[str, Any]:
        return call_json(
            core.list_node,
            limit=page_size,
            _continue=token,
            label_selector=label_selector,
            timeout=timeout,
        )

    nodes = (_node_info(node) for node in list_pages(fetch))
    return [node for node in nodes if node is not None]


def _container_gpus(container: dict[str, Any]) -> int:
    resources = container.get("resources") or {}
    # Extended resources must have requests == limits; a pod may give only limits.
    requests = resources.get("requests") or {}
    if GPU_RESOURCE in requests:
        return _gpus(requests)
    return _gpus(resources.get("limits") or {})


def pod_gpu_request(pod: dict[str, Any]) -> int:
    """A pod's effective GPU request: max(sum over containers, largest init container)."""
    spec = pod.get("spec") or {}
    regular = sum(_container_gpus(c) for c in spec.get("containers") or [])
    init = max((_container_gpus(c) for c in spec.get("initContainers") or []), default=0)
    return max(regular, init)


def list_gpu_pod_requests(conn: Target, page_size: int = 500) -> GpuPodRequests:
    """GPU requests of all non-terminated pods in all namespaces (one paged list).

    Only pods that request at least one GPU are listed in ``pods``.
    """
    api, timeout = resolve(conn)
    core = CoreV1Api(api)

    def fetch(token: str | None) -> dict[str, Any]:
        return call_json(
            core.list_pod_for_all_namespaces,
            limit=page_size,
            _continue=token,
            field_selector=NOT_TERMINATED,
            timeout=timeout,
        )

    result = GpuPodRequests()
    for pod in list_pages(fetch):
        phase = (pod.get("status") or {}).get("phase") or "Unknown"
        if phase in ("Succeeded", "Failed"):
            continue
        gpus = pod_gpu_request(pod)
        if gpus <= 0:
            continue
        metadata = pod["metadata"]
        namespace = metadata.get("namespace", "")
        result.pods.append(
            PodGpuRequest(
                namespace=namespace,
                pod=metadata["name"],
                node=(pod.get("spec") or {}).get("nodeName"),
                gpus=gpus,
                phase=phase,
            )
        )
        result.by_namespace[namespace] = result.by_namespace.get(namespace, 0) + gpus
    return result
