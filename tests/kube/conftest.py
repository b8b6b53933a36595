"""Adapter tests: a seeded sandbox cluster and a ClusterConnection to it (no Django needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.kube.cluster import cluster_objects
from worker.kube import ClusterConnection, clear_client_cache
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
    return k8s_sandbox_factory(seed=cluster_objects())


@pytest.fixture
def conn(sandbox: Sandbox) -> ClusterConnection:
    return ClusterConnection("test", api_url=sandbox.url, timeout_seconds=5)
