"""Building and caching ApiClients per ClusterConnection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.kube.cluster import cluster_objects
from worker import kube
from worker.kube import ClusterConnection, ClusterError, get_client
from worker.sandbox.testing import Sandbox


def test_the_token_never_appears_in_repr() -> None:
    conn = ClusterConnection("prod", api_url="https://k8s.example", token="hunter2")
    assert "hunter2" not in repr(conn)


def test_clients_are_cached_per_connection_and_rebuilt_when_it_changes() -> None:
    conn = ClusterConnection("c", api_url="http://127.0.0.1:1")
    first = get_client(conn)
    assert get_client(ClusterConnection("c", api_url="http://127.0.0.1:1")) is first
    moved = get_client(ClusterConnection("c", api_url="http://127.0.0.1:2"))
    assert moved is not first
    assert moved.configuration.host == "http://127.0.0.1:2"


def test_the_global_default_configuration_is_not_touched() -> None:
    before = client.Configuration.get_default_copy().host
    get_client(ClusterConnection("c", api_url="http://127.0.0.1:9", token="t"))
    assert client.Configuration.get_default_copy().host == before


def test_urllib3_retries_are_off_so_retry_policy_is_ours() -> None:
    api = get_client(ClusterConnection("c", api_url="http://127.0.0.1:1"))
    assert api.configuration.retries is False


def test_the_bearer_token_is_sent(k8s_sandbox_factory: object) -> None:
    sandbox: Sandbox = k8s_sandbox_factory(token="s3cret")  # type: ignore[operator]
    good = ClusterConnection("a", api_url=sandbox.url, token="s3cret")
    bad = ClusterConnection("b", api_url=sandbox.url, token="wrong")
    assert kube.list_gpu_nodes(good) == []
    with pytest.raises(ClusterError) as caught:
        kube.list_gpu_nodes(bad)
    assert caught.value.status == 401 and not caught.value.transient


def test_a_kubeconfig_context_with_a_path_prefix_reaches_its_cluster(
    k8s_sandbox_factory: object, tmp_path: Path
) -> None:
    sandbox: Sandbox = k8s_sandbox_factory(  # type: ignore[operator]
        seed={"east": [], "west": cluster_objects()}, token="tok"
    )
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "west", "cluster": {"server": sandbox.cluster_url("west")}}],
        "users": [{"name": "worker", "user": {"token": "tok"}}],
        "contexts": [{"name": "west", "context": {"cluster": "west", "user": "worker"}}],
        "current-context": "west",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    conn = ClusterConnection("west", kubeconfig_path=str(path), context="west")
    assert len(kube.list_gpu_nodes(conn)) == 5


def test_a_connection_without_any_address_is_a_permanent_error() -> None:
    with pytest.raises(ClusterError) as caught:
        get_client(ClusterConnection("nowhere"))
    assert caught.value.reason == "InvalidConfiguration" and not caught.value.transient
