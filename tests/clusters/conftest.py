"""Fixtures of the clusters tests: a seeded sandbox cluster and a Cluster row pointing at it."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from apps.clusters.models import Cluster
from tests.clusters.factories import ClusterFactory
from tests.kube.cluster import cluster_objects
from worker.kube import clear_client_cache
from worker.sandbox.pytest_plugin import k8s_sandbox, k8s_sandbox_factory
from worker.sandbox.testing import Sandbox

__all__ = ["k8s_sandbox", "k8s_sandbox_factory"]


@pytest.fixture(autouse=True)
def _fresh_client_cache() -> Iterator[None]:
    clear_client_cache()
    yield
    clear_client_cache()


@pytest.fixture
def sandbox(k8s_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """The adapter tests' small cluster: 3 H100 nodes, 2 L4 nodes (one cordoned, one not
    ready), a CPU node; GPU pods in team-a and team-b (one pending), finished pods."""
    return k8s_sandbox_factory(seed=cluster_objects())


@pytest.fixture
def cluster(db: Any, sandbox: Sandbox) -> Cluster:
    """An active cluster reached through the sandbox without credentials."""
    return ClusterFactory.create(
        name="train-test",
        auth_method=Cluster.AuthMethod.NONE,
        api_url=sandbox.cluster_url("default"),
        timeout_seconds=5,
    )


@dataclass
class FakeQuotas:
    """What the stand-in for ``apps.quotas.selectors`` answers."""

    grants: dict[tuple[int, str], int] = field(default_factory=dict)
    drifted: list[Any] = field(default_factory=list)


@pytest.fixture
def quotas(monkeypatch: pytest.MonkeyPatch) -> FakeQuotas:
    """Stand in for ``apps.quotas.selectors`` (``granted_gpus_by_cluster_product`` and
    ``drifted_namespaces``) so that the clusters tests do not depend on the quotas app's
    tables. Fill ``grants`` / ``drifted`` to see them on the pages."""
    from apps.clusters import inventory

    fake = FakeQuotas()
    module = types.ModuleType("tests.clusters.fake_quota_selectors")
    module.granted_gpus_by_cluster_product = lambda: dict(fake.grants)  # type: ignore[attr-defined]
    module.drifted_namespaces = lambda *, cluster_id=None: [  # type: ignore[attr-defined]
        d for d in fake.drifted if cluster_id is None or d.cluster_id == cluster_id
    ]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(inventory, "QUOTAS_SELECTORS", module.__name__)
    return fake
