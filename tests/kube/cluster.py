"""The small cluster the adapter tests run against."""

from __future__ import annotations

from typing import Any

from worker.sandbox import seed

H100 = "NVIDIA-H100-80GB-HBM3"
L4 = "NVIDIA-L4"


def cluster_objects() -> list[dict[str, Any]]:
    """Namespaces, GPU nodes (one cordoned, one not ready), pods, Kueue objects, a model."""
    return [
        seed.namespace("team-a", labels={"tarmac.io/team": "a"}),
        seed.namespace("team-b"),
        *(seed.gpu_node(f"h100-{i}", H100, 8) for i in range(3)),
        seed.gpu_node("l4-0", L4, 4, unschedulable=True),
        seed.gpu_node("l4-1", L4, 4, ready=False),
        seed.gpu_node("cpu-0", None, 0),
        seed.gpu_pod("team-a", "train-0", node="h100-0", gpus=8),
        seed.gpu_pod("team-a", "train-1", node="h100-1", gpus=2),
        seed.gpu_pod("team-a", "finished", node="h100-1", gpus=8, phase="Succeeded"),
        seed.gpu_pod("team-a", "crashed", node="h100-1", gpus=8, phase="Failed"),
        seed.gpu_pod("team-b", "serve-0", node="l4-0", gpus=1),
        seed.gpu_pod("team-b", "pending-0", node=None, gpus=4, phase="Pending"),
        seed.gpu_pod("team-b", "cpu-only", node="cpu-0", gpus=0),
        seed.resource_flavor("h100", H100),
        seed.resource_flavor("l4", L4),
        seed.cluster_queue("team-a", {"h100": 8}, cohort="pool"),
        seed.inference_service(
            "team-a", "fraud-detector", "gs://models/fraud/v1", model_format="xgboost"
        ),
    ]
