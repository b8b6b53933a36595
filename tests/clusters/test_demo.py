"""The demo seed: the sandbox's two clusters, their team namespaces and a first inventory."""

from __future__ import annotations

import io
from typing import Any

import pytest

from apps.accounts import demo as accounts_demo
from apps.clusters import demo
from apps.clusters.models import Cluster, GpuCapacity, TeamNamespace
from apps.core.models import Operation
from tests.clusters.factories import A100, H100, L4
from worker.sandbox.seed import DEMO_PATH
from worker.sandbox.testing import running_sandbox

pytestmark = pytest.mark.django_db


def seed_all() -> str:
    out = io.StringIO()
    accounts_demo.seed(out)
    demo.seed(out)
    return out.getvalue()


def test_demo_clusters_sync_from_the_sandbox_and_seeding_twice_changes_nothing(
    monkeypatch: Any,
) -> None:
    with running_sandbox(seed=DEMO_PATH) as sandbox:
        monkeypatch.setenv("TARMAC_SANDBOX_URL", sandbox.url)
        output = seed_all()
        first = sorted(
            GpuCapacity.objects.values_list("cluster__name", "gpu_product", "allocatable")
        )
        seed_all()

    assert first == [
        ("serve-us", L4, 24),
        ("train-eu", A100, 32),
        ("train-eu", H100, 32),
    ]
    assert (
        sorted(GpuCapacity.objects.values_list("cluster__name", "gpu_product", "allocatable"))
        == first
    )
    train = Cluster.objects.get(name="train-eu")
    assert train.uses_kueue and train.api_url == f"{sandbox.url}/clusters/train-eu"
    assert train.last_sync_status == "ok"
    assert set(TeamNamespace.objects.values_list("cluster__name", "name", "team__slug")) == {
        ("train-eu", "team-vision", "vision"),
        ("train-eu", "team-nlp", "nlp"),
        ("train-eu", "team-recsys", "recsys"),
        ("serve-us", "team-recsys", "recsys"),
        ("serve-us", "team-nlp", "nlp"),
    }
    assert "train-eu: 8 GPU nodes, 64 GPUs allocatable" in output
    assert not Operation.objects.exists()


def test_without_the_sandbox_the_seed_queues_one_sync_per_cluster(monkeypatch: Any) -> None:
    monkeypatch.setenv("TARMAC_SANDBOX_URL", "http://127.0.0.1:9")
    output = seed_all()
    seed_all()  # no second operation while the first waits

    assert "the sandbox did not answer" in output
    assert Operation.objects.filter(kind="clusters.sync_inventory").count() == 2
    assert set(Cluster.objects.values_list("last_sync_status", flat=True)) == {"never"}
