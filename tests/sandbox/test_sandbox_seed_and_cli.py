"""Seeding, the demo clusters, the generator and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from worker.sandbox.seed import DEMO_PATH, generate_cluster, load_seed_file, parse_seed
from worker.sandbox.state import ClusterState, resolve_type

REPO = Path(__file__).resolve().parents[2]


def test_seed_documents_go_to_their_clusters() -> None:
    text = """
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
cluster: east
objects:
- {apiVersion: v1, kind: Namespace, metadata: {name: a}}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: listed}}
"""
    seeded = parse_seed(text)
    assert list(seeded) == ["default", "east"]
    assert [o["metadata"]["name"] for o in seeded["default"]] == ["plain", "listed"]


def test_demo_seed_has_two_gpu_clusters_with_real_gfd_labels() -> None:
    seeded = load_seed_file(DEMO_PATH)
    assert list(seeded) == ["train-eu", "serve-us"]
    train = ClusterState("train-eu", seeded["train-eu"])
    products = [
        n["metadata"]["labels"].get("nvidia.com/gpu.product") for n in train.objects("Node")
    ]
    assert products.count("NVIDIA-H100-80GB-HBM3") == 4
    assert products.count("NVIDIA-A100-SXM4-80GB") == 4
    for node in train.objects("Node"):
        labels = node["metadata"]["labels"]
        if "nvidia.com/gpu.product" in labels:
            assert labels["nvidia.com/gpu.count"] == node["status"]["allocatable"]["nvidia.com/gpu"]
            assert labels["nvidia.com/gpu.memory"].isdigit()
    assert len(train.objects("ClusterQueue")) == 3 and len(train.objects("ResourceFlavor")) == 2
    serve = ClusterState("serve-us", seeded["serve-us"])
    isvc = serve.get("InferenceService", "team-recsys", "fraud-detector")
    assert isvc is not None
    assert isvc["status"]["components"]["predictor"]["latestRolledoutRevision"] == (
        "fraud-detector-predictor-00001"
    )


def test_generated_cluster_is_large_and_deterministic() -> None:
    objects = generate_cluster(nodes=30, pods=300, namespaces=5)
    assert objects == generate_cluster(nodes=30, pods=300, namespaces=5)
    kinds = [o["kind"] for o in objects]
    assert (kinds.count("Node"), kinds.count("Pod"), kinds.count("Namespace")) == (30, 300, 5)
    state = ClusterState("bench", objects)
    page = state.list_objects(resolve_type("pods"), None, limit=100)
    assert len(page["items"]) == 100 and page["metadata"]["continue"]


@pytest.fixture
def cli() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.sandbox", "--port", "0", "--seed", str(DEMO_PATH)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Kubernetes API sandbox at "), first
    yield process, first.split()[-1]
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)


def test_cli_serves_each_demo_cluster_under_its_path_prefix(
    cli: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = cli

    def nodes(host: str) -> list[str]:
        configuration = client.Configuration(host=host)
        configuration.retries = False
        core: Any = client.CoreV1Api(client.ApiClient(configuration))
        return [node.metadata.name for node in core.list_node().items]

    train = nodes(f"{url}/clusters/train-eu")
    serve = nodes(f"{url}/clusters/serve-us")
    assert len([n for n in train if n.startswith("train-h100")]) == 4
    assert serve == [f"serve-l4-{i:02d}" for i in range(1, 7)]
    assert nodes(url) == train  # the first cluster is also served at the root

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in output
