"""Cluster services against the Kubernetes API sandbox: sync, connection test, namespaces,
and how a cluster's errors reach the Operation row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from kubernetes.client import CoreV1Api, CustomObjectsApi

from apps.audit.models import AuditEvent
from apps.clusters import services
from apps.clusters.models import (
    Cluster,
    GpuCapacity,
    GpuNode,
    GpuUsageHour,
    NamespaceGpuUsage,
)
from apps.core.errors import DomainError, NotAllowed
from apps.core.models import Operation
from apps.core.operations import operation_handler
from apps.core.services import create_operation
from apps.core.tasks import run_operation
from tests.clusters.factories import H100, L4, ClusterFactory, TeamNamespaceFactory
from worker.kube import ClusterConnection, ClusterError
from worker.kube.connection import resolve
from worker.sandbox import seed
from worker.sandbox.testing import Sandbox

pytestmark = pytest.mark.django_db


def capacities(cluster: Cluster) -> dict[str, tuple[int, int, int, int]]:
    return {
        c.gpu_product: (c.nodes, c.ready_nodes, c.allocatable, c.requested)
        for c in GpuCapacity.objects.filter(cluster=cluster)
    }


def usages(cluster: Cluster) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (u.namespace, u.gpu_product): (u.requested, u.pods)
        for u in NamespaceGpuUsage.objects.filter(cluster=cluster)
    }


def list_calls(sandbox: Sandbox) -> list[str]:
    return [r.resource for r in sandbox.state.requests if r.verb == "list"]


def run_queued(op: Operation) -> Operation:
    """Run the operation's task once, as the worker would, and re-read the row."""
    run_operation.apply(args=(op.pk,))
    op.refresh_from_db()
    return op


# ------------------------------------------------------------------ inventory sync


def test_sync_stores_nodes_capacity_per_product_and_usage_per_namespace(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    outcome = services.sync_inventory(cluster)

    assert not outcome.skipped
    nodes = {n.name: n for n in GpuNode.objects.filter(cluster=cluster)}
    assert set(nodes) == {"h100-0", "h100-1", "h100-2", "l4-0", "l4-1"}  # not the CPU node
    assert nodes["l4-0"].unschedulable and not nodes["l4-1"].ready
    assert nodes["h100-0"].labels["nvidia.com/gpu.product"] == H100
    assert capacities(cluster) == {H100: (3, 3, 24, 10), L4: (2, 1, 8, 1)}
    # The pending pod's 4 GPUs count for its namespace but for no product's capacity.
    assert usages(cluster) == {
        ("team-a", H100): (10, 2),
        ("team-b", L4): (1, 1),
        ("team-b", ""): (4, 1),
    }
    cluster.refresh_from_db()
    assert cluster.last_sync_status == "ok" and cluster.last_sync_error == ""
    assert cluster.last_sync_duration_ms is not None
    assert list_calls(sandbox) == ["nodes", "pods"]


def test_sync_records_the_current_hour_for_the_cluster_and_each_namespace(
    cluster: Cluster,
) -> None:
    now = timezone.now()
    services.sync_inventory(cluster, now=now)

    hour = now.replace(minute=0, second=0, microsecond=0)
    rows = {
        (r.namespace, r.gpu_product): (r.allocatable, r.requested)
        for r in GpuUsageHour.objects.filter(cluster=cluster)
    }
    assert {r.hour for r in GpuUsageHour.objects.filter(cluster=cluster)} == {hour}
    assert rows == {
        ("", H100): (24, 10),
        ("", L4): (8, 1),
        ("team-a", H100): (0, 10),
        ("team-b", L4): (0, 1),
        ("team-b", ""): (0, 4),
    }


def test_syncing_twice_stores_the_same_rows(cluster: Cluster) -> None:
    now = timezone.now()
    services.sync_inventory(cluster, now=now)
    first = (capacities(cluster), usages(cluster), GpuUsageHour.objects.count())
    node_ids = set(GpuNode.objects.values_list("pk", flat=True))

    services.sync_inventory(cluster, now=now + timedelta(minutes=1))

    assert (capacities(cluster), usages(cluster), GpuUsageHour.objects.count()) == first
    assert set(GpuNode.objects.values_list("pk", flat=True)) == node_ids  # upserted in place


def test_the_next_hour_adds_history_and_keeps_the_previous_hour(cluster: Cluster) -> None:
    now = timezone.now().replace(minute=30)
    services.sync_inventory(cluster, now=now)
    services.sync_inventory(cluster, now=now + timedelta(hours=1))
    totals = GpuUsageHour.objects.filter(cluster=cluster, namespace="", gpu_product=H100)
    assert totals.count() == 2


def test_vanished_nodes_products_and_namespaces_are_removed(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    services.sync_inventory(cluster)
    for name in ("l4-0", "l4-1"):
        assert sandbox.state.delete_out_of_band("Node", None, name)
    for name in ("serve-0", "pending-0"):
        assert sandbox.state.delete_out_of_band("Pod", "team-b", name)

    services.sync_inventory(cluster, now=timezone.now() + timedelta(seconds=1))

    assert set(GpuNode.objects.filter(cluster=cluster).values_list("name", flat=True)) == {
        "h100-0",
        "h100-1",
        "h100-2",
    }
    assert set(capacities(cluster)) == {H100}
    assert set(usages(cluster)) == {("team-a", H100)}


def test_a_sync_in_the_same_window_is_skipped_unless_forced(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    now = timezone.now()
    services.sync_inventory(cluster, now=now)
    sandbox.state.clear_requests()

    skipped = services.sync_inventory(cluster, force=False, now=now + timedelta(seconds=1))
    assert skipped.skipped and list_calls(sandbox) == []

    next_window = services.window_start(now) + services.SYNC_WINDOW
    later = services.sync_inventory(cluster, force=False, now=next_window)
    assert not later.skipped and list_calls(sandbox) == ["nodes", "pods"]


def test_a_burst_of_server_errors_is_retried_within_the_sync(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    sandbox.faults.fail_next(2, 500, "etcd leader changed")

    services.sync_inventory(cluster)

    assert capacities(cluster)[H100] == (3, 3, 24, 10)
    statuses = [r.status for r in sandbox.state.requests if r.verb == "list"]
    assert statuses[:2] == [500, 500] and statuses[2:] == [200, 200]


def test_a_forbidden_list_is_recorded_on_the_cluster_readably(
    k8s_sandbox_factory: Any, db: Any
) -> None:
    only_pods = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    sandbox = k8s_sandbox_factory(seed=[seed.gpu_node("h100-0", H100, 8)], rbac_rules=only_pods)
    cluster = ClusterFactory.create(name="locked-down", api_url=sandbox.url)

    with pytest.raises(ClusterError) as caught:
        services.sync_inventory(cluster)

    assert caught.value.status == 403 and not caught.value.transient
    cluster.refresh_from_db()
    assert cluster.last_sync_status == "error"
    assert cluster.last_sync_error == (
        "Reading the GPU inventory on cluster locked-down failed: HTTP 403 Forbidden: "
        'nodes is forbidden: User "system:serviceaccount:tarmac:tarmac-worker" cannot list '
        'resource "nodes" in API group "" at the cluster scope'
    )
    assert AuditEvent.objects.filter(verb="clusters.inventory_failing").count() == 1


def test_a_failing_cluster_is_audited_once_and_again_when_it_recovers(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    sandbox.faults.fail_next(20, 503, "apiserver overloaded")
    for _ in range(2):
        with pytest.raises(ClusterError):
            services.sync_inventory(cluster, attempts=1)
    sandbox.faults.clear()
    services.sync_inventory(cluster)

    verbs = list(
        AuditEvent.objects.filter(target_type="clusters.cluster")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["clusters.inventory_failing", "clusters.inventory_healthy"]


def test_a_retired_cluster_takes_no_requests(cluster: Cluster, op_user: Any) -> None:
    cluster.is_active = False
    cluster.save()
    with pytest.raises(DomainError):
        services.request_inventory_sync(cluster, actor=op_user)


def test_members_may_not_ask_for_a_sync(cluster: Cluster, member: Any) -> None:
    with pytest.raises(NotAllowed):
        services.request_inventory_sync(cluster, actor=member)
    with pytest.raises(NotAllowed):
        services.test_connection(cluster, actor=member)


# ---------------------------------------------------------- operations end to end


def test_sync_now_runs_as_an_operation_with_a_summary(
    cluster: Cluster, lead: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        op = services.request_inventory_sync(cluster, actor=lead, reason="new nodes")
    op.refresh_from_db()

    assert op.status == "succeeded", op.last_error
    assert op.result["nodes"] == 5 and op.result["allocatable"] == 32
    assert op.result["products"][H100] == {"nodes": 3, "allocatable": 24, "requested": 10}
    assert AuditEvent.objects.filter(
        verb="clusters.sync_requested", target_id=str(cluster.pk), reason="new nodes"
    ).exists()


def test_a_forbidden_sync_fails_the_operation_with_the_apis_message(
    k8s_sandbox_factory: Any, op_user: Any
) -> None:
    sandbox = k8s_sandbox_factory(seed=[], rbac_rules=[])
    cluster = ClusterFactory.create(name="no-rbac", api_url=sandbox.url)
    op = services.request_inventory_sync(cluster, actor=op_user)

    op = run_queued(op)

    assert op.status == "failed" and op.attempts == 1  # 403 is not retried
    assert op.last_error.startswith(
        "Reading the GPU inventory on cluster no-rbac failed: HTTP 403 Forbidden: "
        'nodes is forbidden: User "system:serviceaccount:tarmac:tarmac-worker"'
    )


def test_a_server_error_that_persists_is_retried_until_the_operation_gives_up(
    cluster: Cluster, sandbox: Sandbox, op_user: Any
) -> None:
    sandbox.faults.fail_next(100, 500, "etcd timeout")
    op = services.request_inventory_sync(cluster, actor=op_user)

    op = run_queued(op)  # eager Celery runs each retry at once

    assert op.status == "failed" and op.attempts == op.max_attempts
    assert op.last_error == (
        "Reading the GPU inventory on cluster train-test failed: HTTP 500 InternalError: "
        f"etcd timeout (gave up after {op.max_attempts} attempts)"
    )
    cluster.refresh_from_db()
    assert cluster.last_sync_status == "error"


def test_test_connection_records_the_server_version_and_node_count(
    cluster: Cluster, op_user: Any, sandbox: Sandbox
) -> None:
    op = run_queued(services.test_connection(cluster, actor=op_user))

    assert op.status == "succeeded", op.last_error
    assert op.result["server_version"] == "v1.31.0-tarmac-sandbox"
    assert op.result["nodes"] == 6  # every node, the CPU node too
    # /version and one page of one node: the node list is not read in full.
    assert [(r.resource, r.verb) for r in sandbox.state.requests] == [("nodes", "list")]


def test_test_connection_to_a_closed_port_fails_fast_with_a_readable_error(
    db: Any, op_user: Any
) -> None:
    cluster = ClusterFactory.create(name="nowhere", api_url="http://127.0.0.1:9", timeout_seconds=1)
    op = services.test_connection(cluster, actor=op_user)
    assert op.max_attempts == services.TEST_CONNECTION_MAX_ATTEMPTS

    op = run_queued(op)

    assert op.status == "failed" and op.attempts == 2  # refused is transient: one retry
    assert op.last_error.startswith(
        "Testing the connection on cluster nowhere failed: ConnectionRefused:"
    )


def test_an_unreadable_token_file_fails_without_showing_its_path(
    db: Any, op_user: Any, tmp_path: Any
) -> None:
    secret_path = str(tmp_path / "no-such-token")
    cluster = ClusterFactory.create(
        name="secret-cluster",
        auth_method=Cluster.AuthMethod.API_TOKEN,
        api_url="http://127.0.0.1:9",
        token_file=secret_path,
    )
    op = run_queued(services.test_connection(cluster, actor=op_user))

    assert op.status == "failed"
    assert "cannot read the token file of cluster secret-cluster" in op.last_error
    assert secret_path not in op.last_error


def test_a_bearer_token_from_the_secret_file_reaches_the_sandbox(
    k8s_sandbox_factory: Any, db: Any, tmp_path: Any
) -> None:
    sandbox = k8s_sandbox_factory(seed=[seed.gpu_node("h100-0", H100, 8)], token="s3cret-token")
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    cluster = ClusterFactory.create(
        name="with-token",
        auth_method=Cluster.AuthMethod.API_TOKEN,
        api_url=sandbox.url,
        token_file=str(token_file),
    )
    services.sync_inventory(cluster)
    assert capacities(cluster) == {H100: (1, 1, 8, 0)}

    token_file.write_text("wrong-token")
    with pytest.raises(ClusterError) as caught:
        services.sync_inventory(cluster)
    assert caught.value.status == 401
    cluster.refresh_from_db()
    assert "wrong-token" not in cluster.last_sync_error
    assert str(token_file) not in cluster.last_sync_error


def test_ensure_namespace_creates_it_labelled_with_the_team(
    cluster: Cluster, sandbox: Sandbox, op_user: Any, team: Any
) -> None:
    tns = TeamNamespaceFactory.create(cluster=cluster, team=team, name="team-vision")

    op = run_queued(services.ensure_team_namespace(tns, actor=op_user))

    assert op.status == "succeeded", op.last_error
    assert op.team == team and op.result["created"] is True
    namespace = sandbox.state.get("Namespace", "", "team-vision")
    assert namespace is not None
    labels = namespace["metadata"]["labels"]
    assert labels["tarmac.io/team"] == "vision"
    assert labels["app.kubernetes.io/managed-by"] == "tarmac"
    again = run_queued(services.ensure_team_namespace(tns, actor=op_user))
    assert again.result["created"] is False and again.result["changed"] is False


def test_ensure_namespace_with_an_invalid_name_fails_with_the_422_message(
    cluster: Cluster, op_user: Any, team: Any
) -> None:
    # The admin form refuses such a name; a row written around it still fails readably.
    tns = TeamNamespaceFactory.create(cluster=cluster, team=team, name="Team_Vision")

    op = run_queued(services.ensure_team_namespace(tns, actor=op_user))

    assert op.status == "failed" and op.attempts == 1
    assert op.last_error.startswith(
        "Creating namespace Team_Vision on cluster train-test failed: HTTP 422 Invalid: "
        'Namespace "Team_Vision" is invalid: metadata.name: Invalid value: "Team_Vision"'
    )


# ---------------------- invalid objects: the API's message reaches the Operation row

RAW_QUOTA = "tests.clusters.raw_quota"
RAW_CLUSTER_QUEUE = "tests.clusters.raw_cluster_queue"


@operation_handler(RAW_QUOTA, label="test: apply a quota body as given")
def _apply_raw_quota(op: Operation) -> dict[str, Any]:
    """Send a ResourceQuota the adapter would refuse to build (the adapter checks first)."""
    cluster = Cluster.objects.get(pk=op.target_id)

    def apply(conn: ClusterConnection) -> dict[str, Any]:
        api, timeout = resolve(conn)
        body = seed.resource_quota(
            op.payload["namespace"], "tarmac-gpu-quota", {"requests.nvidia.com/gpu": "-4"}
        )
        body_any: Any = body  # the client sends a plain dict as JSON
        CoreV1Api(api).create_namespaced_resource_quota(
            op.payload["namespace"], body_any, _request_timeout=timeout
        )
        return {}

    return services.call_cluster(cluster, "Applying the GPU quota of team-a", apply)


@operation_handler(RAW_CLUSTER_QUEUE, label="test: create a ClusterQueue as given")
def _create_raw_cluster_queue(op: Operation) -> dict[str, Any]:
    cluster = Cluster.objects.get(pk=op.target_id)

    def create(conn: ClusterConnection) -> dict[str, Any]:
        api, timeout = resolve(conn)
        CustomObjectsApi(api).create_cluster_custom_object(
            "kueue.x-k8s.io",
            "v1beta1",
            "clusterqueues",
            op.payload["body"],
            _request_timeout=timeout,
        )
        return {}

    return services.call_cluster(cluster, "Creating the team's ClusterQueue", create)


def test_a_negative_quota_comes_back_as_422_and_reaches_the_operation_row(
    cluster: Cluster, op_user: Any
) -> None:
    op = create_operation(
        kind=RAW_QUOTA, actor=op_user, target=cluster, payload={"namespace": "team-a"}
    )

    op = run_queued(op)

    assert op.status == "failed" and op.attempts == 1
    assert op.last_error == (
        "Applying the GPU quota of team-a on cluster train-test failed: HTTP 422 Invalid: "
        'ResourceQuota "tarmac-gpu-quota" is invalid: spec.hard[requests.nvidia.com/gpu]: '
        'Invalid value: "-4": must be greater than or equal to 0'
    )


def test_an_unknown_field_in_a_cluster_queue_is_refused_readably(
    cluster: Cluster, op_user: Any
) -> None:
    body = seed.cluster_queue("team-a-queue", {"h100": 8}, cohort="pool", preemptionPolicy="Any")
    op = create_operation(
        kind=RAW_CLUSTER_QUEUE, actor=op_user, target=cluster, payload={"body": body}
    )

    op = run_queued(op)

    assert op.status == "failed" and op.attempts == 1
    assert op.last_error == (
        "Creating the team's ClusterQueue on cluster train-test failed: HTTP 400 BadRequest: "
        'ClusterQueue in version "v1beta1" cannot be handled as a ClusterQueue: '
        'strict decoding error: unknown field "spec.preemptionPolicy"'
    )


def test_an_invalid_cluster_queue_comes_back_as_422_and_reaches_the_operation_row(
    cluster: Cluster, op_user: Any
) -> None:
    body = seed.cluster_queue("team-a-queue", {"h100": 8}, cohort="pool")
    body["spec"]["resourceGroups"][0]["coveredResources"].append("cpu")  # no cpu quota given
    op = create_operation(
        kind=RAW_CLUSTER_QUEUE, actor=op_user, target=cluster, payload={"body": body}
    )

    op = run_queued(op)

    assert op.status == "failed" and op.attempts == 1
    assert op.last_error == (
        "Creating the team's ClusterQueue on cluster train-test failed: HTTP 422 Invalid: "
        'ClusterQueue.kueue.x-k8s.io "team-a-queue" is invalid: spec.resourceGroups[0]: '
        'Invalid value: "object": flavors must have the same number of resources as the '
        "coveredResources"
    )


def test_credential_paths_are_taken_out_of_error_messages(db: Any) -> None:
    cluster = ClusterFactory.create(
        name="kc", auth_method=Cluster.AuthMethod.KUBECONFIG, kubeconfig_path="/secrets/kc.yaml"
    )
    error = ClusterError("Invalid kube-config file /secrets/kc.yaml", reason="Invalid")
    readable = services.readable_error(error, cluster, action="Testing the connection")
    assert str(readable) == (
        "Testing the connection on cluster kc failed: Invalid: Invalid kube-config file [redacted]"
    )
