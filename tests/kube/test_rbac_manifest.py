"""deploy/rbac/clusterrole.yaml grants exactly what the adapter calls, no more, no less."""

from __future__ import annotations

from typing import Any

from tests.kube.cluster import cluster_objects
from worker import kube
from worker.kube import ClusterConnection
from worker.kube.rbac import MANIFEST_PATH, load_rules, permissions
from worker.sandbox.testing import Sandbox


def run_every_operation(conn: ClusterConnection) -> None:
    """Each adapter operation, through its create and its update paths."""
    kube.list_gpu_nodes(conn, page_size=2)
    kube.list_gpu_pod_requests(conn, page_size=2)
    kube.ensure_namespace(conn, "team-new", team_slug="new")  # get, create
    kube.ensure_namespace(conn, "team-b", team_slug="b")  # get, patch
    kube.read_gpu_quota(conn, "team-a")
    kube.apply_gpu_quota(conn, "team-a", 8)  # apply that creates
    kube.apply_gpu_quota(conn, "team-a", 4)  # apply that updates
    kube.delete_gpu_quota(conn, "team-a")
    kube.read_cluster_queue(conn, "team-a")
    kube.apply_cluster_queue_quota(conn, "team-a", flavor="h100", gpus=16)  # get, update
    kube.apply_cluster_queue_quota(conn, "team-new", flavor="h100", gpus=8)  # get, create
    kube.ensure_local_queue(conn, "team-new", "default", "team-new")
    kube.read_inference_service(conn, "team-a", "fraud-detector")
    kube.set_canary(conn, "team-a", "fraud-detector", storage_uri="gs://m/v2", percent=10)
    kube.promote_canary(conn, "team-a", "fraud-detector")
    kube.rollback_canary(conn, "team-a", "fraud-detector")


def test_every_adapter_operation_is_allowed_by_the_manifest(k8s_sandbox_factory: Any) -> None:
    rules = load_rules(MANIFEST_PATH)
    sandbox: Sandbox = k8s_sandbox_factory(seed=cluster_objects(), rbac_rules=rules)
    run_every_operation(ClusterConnection("rbac", api_url=sandbox.url))
    forbidden = [r for r in sandbox.state.requests if r.status == 403]
    assert forbidden == []
    used = {r.permission for r in sandbox.state.requests}
    granted = permissions(rules)
    assert used <= granted, f"the code calls what the manifest does not grant: {used - granted}"
    assert granted <= used, f"the manifest grants what the code never calls: {granted - used}"


def test_the_manifest_binds_the_role_to_the_worker_service_account() -> None:
    import yaml

    documents = list(yaml.safe_load_all(MANIFEST_PATH.read_text()))
    kinds = {doc["kind"]: doc for doc in documents}
    assert set(kinds) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    binding = kinds["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == kinds["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tarmac-worker", "namespace": "tarmac"}
    ]
