"""From the adapter's node and pod lists to the totals the inventory stores (pure functions).

Pods are attributed to the GPU product of the node they run on. A pod that is not on a
GPU node (pending, not scheduled yet) keeps its request under the product ``""`` of its
namespace: it counts as requested by the namespace but uses no product's capacity. GPU
nodes without a product label are the product ``""`` too ("unlabelled" on the pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from worker.kube import GpuPodRequests, NodeInfo

UNPLACED = ""


@dataclass
class ProductTotals:
    """One GPU product of a cluster: its nodes and GPUs, and the GPUs pods on them request."""

    nodes: int = 0
    ready_nodes: int = 0
    allocatable: int = 0
    capacity: int = 0
    requested: int = 0


@dataclass
class NamespaceTotals:
    """GPUs requested by the non-terminated pods of one namespace on one product."""

    requested: int = 0
    pods: int = 0


@dataclass
class InventorySnapshot:
    """A cluster's GPU inventory at one moment."""

    nodes: list[NodeInfo] = field(default_factory=list)
    products: dict[str, ProductTotals] = field(default_factory=dict)
    namespaces: dict[tuple[str, str], NamespaceTotals] = field(default_factory=dict)
    gpu_pods: int = 0

    @property
    def ready_nodes(self) -> int:
        """GPU nodes whose Ready condition is True."""
        return sum(1 for node in self.nodes if node.ready)

    @property
    def allocatable(self) -> int:
        """Allocatable GPUs over all products."""
        return sum(totals.allocatable for totals in self.products.values())

    @property
    def requested(self) -> int:
        """GPUs requested by every non-terminated pod, placed or not."""
        return sum(totals.requested for totals in self.namespaces.values())

    def summary(self) -> dict[str, object]:
        """A JSON-able summary (an Operation's result)."""
        return {
            "nodes": len(self.nodes),
            "ready_nodes": self.ready_nodes,
            "gpu_pods": self.gpu_pods,
            "namespaces": len({namespace for namespace, _ in self.namespaces}),
            "allocatable": self.allocatable,
            "requested": self.requested,
            "products": {
                product or "unlabelled": {
                    "nodes": totals.nodes,
                    "allocatable": totals.allocatable,
                    "requested": totals.requested,
                }
                for product, totals in sorted(self.products.items())
            },
        }


def build_snapshot(nodes: Iterable[NodeInfo], pods: GpuPodRequests) -> InventorySnapshot:
    """Totals per product and per (namespace, product) from the adapter's lists."""
    snapshot = InventorySnapshot(nodes=list(nodes))
    product_of_node: dict[str, str] = {}
    for node in snapshot.nodes:
        product = node.gpu_product or ""
        product_of_node[node.name] = product
        totals = snapshot.products.setdefault(product, ProductTotals())
        totals.nodes += 1
        totals.ready_nodes += int(node.ready)
        totals.allocatable += node.gpu_allocatable
        totals.capacity += node.gpu_capacity
    for pod in pods.pods:
        snapshot.gpu_pods += 1
        placed_on = product_of_node.get(pod.node or "")
        if placed_on is not None:
            snapshot.products[placed_on].requested += pod.gpus
        usage = snapshot.namespaces.setdefault(
            (pod.namespace, UNPLACED if placed_on is None else placed_on), NamespaceTotals()
        )
        usage.requested += pod.gpus
        usage.pods += 1
    return snapshot
