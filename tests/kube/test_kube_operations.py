"""Every adapter operation, through the official client, against the sandbox."""

from __future__ import annotations

import pytest

from worker import kube
from worker.kube import ClusterConnection, ClusterError
from worker.sandbox.testing import Sandbox


def verbs(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [(r.resource, r.verb) for r in sandbox.state.requests]


# ------------------------------------------------------------------------ inventory


def test_gpu_nodes_are_listed_with_product_counts_and_health(conn: ClusterConnection) -> None:
    nodes = {node.name: node for node in kube.list_gpu_nodes(conn)}
    assert set(nodes) == {"h100-0", "h100-1", "h100-2", "l4-0", "l4-1"}  # not the CPU node
    h100 = nodes["h100-0"]
    assert h100.gpu_product == "NVIDIA-H100-80GB-HBM3"
    assert (h100.gpu_allocatable, h100.gpu_capacity) == (8, 8)
    assert h100.labels["nvidia.com/gpu.count"] == "8"
    assert "kubernetes.io/hostname" not in h100.labels
    assert h100.ready and not h100.unschedulable
    assert nodes["l4-0"].unschedulable
    assert not nodes["l4-1"].ready


def test_a_node_list_spanning_several_pages_makes_one_call_per_page(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    nodes = kube.list_gpu_nodes(conn, page_size=2)
    assert len(nodes) == 5
    assert verbs(sandbox) == [("nodes", "list")] * 3  # 6 nodes, 2 per page


def test_gpu_pod_requests_count_only_non_terminated_pods(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    requests = kube.list_gpu_pod_requests(conn, page_size=2)
    assert requests.by_namespace == {"team-a": 10, "team-b": 5}
    assert requests.total == 15
    rows = {(p.namespace, p.pod): p for p in requests.pods}
    assert set(rows) == {
        ("team-a", "train-0"),
        ("team-a", "train-1"),
        ("team-b", "serve-0"),
        ("team-b", "pending-0"),
    }
    assert rows[("team-b", "pending-0")].node is None
    assert rows[("team-b", "pending-0")].phase == "Pending"
    assert rows[("team-a", "train-0")].node == "h100-0"
    listed = [r for r in sandbox.state.requests if r.resource == "pods"]
    assert len(listed) == 3 and all(r.namespace is None for r in listed)


# ------------------------------------------------------------------------ namespaces and quota


def test_ensure_namespace_creates_then_leaves_a_labelled_namespace_alone(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    created = kube.ensure_namespace(conn, "team-c", team_slug="c")
    assert created.created and created.changed
    assert created.labels["app.kubernetes.io/managed-by"] == "tarmac"
    assert created.labels["tarmac.io/team"] == "c"
    again = kube.ensure_namespace(conn, "team-c", team_slug="c")
    assert not again.created and not again.changed
    assert again.resource_version == created.resource_version
    assert verbs(sandbox) == [
        ("namespaces", "get"),
        ("namespaces", "create"),
        ("namespaces", "get"),
    ]


def test_ensure_namespace_labels_an_existing_namespace(conn: ClusterConnection) -> None:
    labelled = kube.ensure_namespace(conn, "team-b", team_slug="b")
    assert not labelled.created and labelled.changed
    assert labelled.labels["tarmac.io/team"] == "b"
    assert labelled.labels["app.kubernetes.io/managed-by"] == "tarmac"


def test_gpu_quota_is_applied_read_and_deleted(conn: ClusterConnection) -> None:
    assert kube.read_gpu_quota(conn, "team-a") is None
    applied = kube.apply_gpu_quota(conn, "team-a", 16, labels={"tarmac.io/team": "a"})
    assert applied.hard_gpus == 16 and applied.used_gpus == 10
    assert applied.managed_by_tarmac
    again = kube.apply_gpu_quota(conn, "team-a", 16, labels={"tarmac.io/team": "a"})
    assert again.resource_version == applied.resource_version  # idempotent
    lowered = kube.apply_gpu_quota(conn, "team-a", 4, labels={"tarmac.io/team": "a"})
    assert lowered.hard_gpus == 4
    read = kube.read_gpu_quota(conn, "team-a")
    assert read == lowered
    assert kube.delete_gpu_quota(conn, "team-a") is True
    assert kube.delete_gpu_quota(conn, "team-a") is False  # already gone is success
    assert kube.read_gpu_quota(conn, "team-a") is None


def test_apply_takes_back_a_quota_edited_out_of_band(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    """GIVEN a quota Tarmac applied WHEN someone edits it with kubectl THEN re-applying wins."""
    kube.apply_gpu_quota(conn, "team-a", 8)
    sandbox.state.apply_out_of_band(
        "ResourceQuota",
        "team-a",
        "tarmac-gpu-quota",
        {"spec": {"hard": {"requests.nvidia.com/gpu": "64"}}},
    )
    edited = kube.read_gpu_quota(conn, "team-a")
    assert edited is not None and edited.hard_gpus == 64
    restored = kube.apply_gpu_quota(conn, "team-a", 8)
    assert restored.hard_gpus == 8


def test_a_negative_quota_is_refused_before_any_request(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    with pytest.raises(ValueError):
        kube.apply_gpu_quota(conn, "team-a", -1)
    assert sandbox.state.requests == []


def test_quota_in_a_missing_namespace_is_a_permanent_not_found(conn: ClusterConnection) -> None:
    with pytest.raises(ClusterError) as caught:
        kube.apply_gpu_quota(conn, "team-ghost", 4)
    assert caught.value.status == 404 and not caught.value.transient
    assert caught.value.message == 'namespaces "team-ghost" not found'


# ------------------------------------------------------------------------ Kueue


def test_cluster_queue_quota_changes_one_flavor_and_keeps_the_rest(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    before = kube.read_cluster_queue(conn, "team-a")
    assert before is not None and before.gpu_quota_by_flavor == {"h100": 8}
    added = kube.apply_cluster_queue_quota(conn, "team-a", flavor="l4", gpus=4)
    assert added.gpu_quota_by_flavor == {"h100": 8, "l4": 4}
    assert added.cohort == "pool" and added.managed_by_tarmac
    changed = kube.apply_cluster_queue_quota(conn, "team-a", flavor="h100", gpus=16)
    assert changed.gpu_quota_by_flavor == {"h100": 16, "l4": 4}
    same = kube.apply_cluster_queue_quota(conn, "team-a", flavor="h100", gpus=16)
    assert same.resource_version == changed.resource_version  # no write when nothing changes
    assert [v for r, v in verbs(sandbox) if r == "clusterqueues"].count("update") == 2


def test_cluster_queue_gets_gpu_added_to_a_cpu_only_resource_group(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    sandbox.state.load(
        [
            {
                "apiVersion": "kueue.x-k8s.io/v1beta1",
                "kind": "ClusterQueue",
                "metadata": {"name": "mixed"},
                "spec": {
                    "namespaceSelector": {},
                    "resourceGroups": [
                        {
                            "coveredResources": ["cpu", "memory"],
                            "flavors": [
                                {
                                    "name": "h100",
                                    "resources": [
                                        {"name": "cpu", "nominalQuota": 9},
                                        {"name": "memory", "nominalQuota": "36Gi"},
                                    ],
                                },
                                {
                                    "name": "spot",
                                    "resources": [
                                        {"name": "cpu", "nominalQuota": 4},
                                        {"name": "memory", "nominalQuota": "8Gi"},
                                    ],
                                },
                            ],
                        }
                    ],
                },
            }
        ]
    )
    state = kube.apply_cluster_queue_quota(conn, "mixed", flavor="h100", gpus=8)
    assert state.gpu_quota_by_flavor == {"h100": 8, "spot": 0}
    group = state.spec["resourceGroups"][0]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    assert group["flavors"][0]["resources"][0] == {"name": "cpu", "nominalQuota": 9}


def test_a_missing_cluster_queue_is_created_for_the_team(conn: ClusterConnection) -> None:
    assert kube.read_cluster_queue(conn, "team-new") is None
    created = kube.apply_cluster_queue_quota(
        conn, "team-new", flavor="h100", gpus=8, cohort="pool", namespace_selector_team="new"
    )
    assert created.gpu_quota_by_flavor == {"h100": 8}
    assert created.namespace_selector == {"matchLabels": {"tarmac.io/team": "new"}}
    assert kube.read_cluster_queue(conn, "team-new") == created


def test_local_queue_is_ensured_idempotently(conn: ClusterConnection) -> None:
    first = kube.ensure_local_queue(conn, "team-a", "default", "team-a")
    second = kube.ensure_local_queue(conn, "team-a", "default", "team-a")
    assert first.cluster_queue == "team-a"
    assert first.resource_version == second.resource_version


# ------------------------------------------------------------------------ KServe


def test_canary_splits_traffic_then_promotion_moves_all_of_it(conn: ClusterConnection) -> None:
    """GIVEN a served model WHEN a canary gets 10% and is promoted THEN it ends with 100%."""
    start = kube.read_inference_service(conn, "team-a", "fraud-detector")
    assert start is not None and start.ready
    assert start.storage_uri == "gs://models/fraud/v1"
    assert start.latest_rolled_out_revision == "fraud-detector-predictor-00001"

    canary = kube.set_canary(
        conn, "team-a", "fraud-detector", storage_uri="gs://models/fraud/v2", percent=10
    )
    assert canary.storage_uri == "gs://models/fraud/v2"
    assert canary.canary_traffic_percent == 10
    assert [(t.revision_name, t.percent, t.tag, t.latest_revision) for t in canary.traffic] == [
        ("fraud-detector-predictor-00002", 10, "latest", True),
        ("fraud-detector-predictor-00001", 90, "prev", False),
    ]
    assert canary.latest_rolled_out_revision == "fraud-detector-predictor-00001"

    again = kube.set_canary(
        conn, "team-a", "fraud-detector", storage_uri="gs://models/fraud/v2", percent=10
    )
    assert again.resource_version == canary.resource_version  # idempotent: no new revision

    half = kube.set_canary(
        conn, "team-a", "fraud-detector", storage_uri="gs://models/fraud/v2", percent=50
    )
    assert [t.percent for t in half.traffic] == [50, 50]
    assert half.latest_created_revision == "fraud-detector-predictor-00002"

    promoted = kube.promote_canary(conn, "team-a", "fraud-detector")
    assert promoted.canary_traffic_percent is None
    assert [(t.revision_name, t.percent) for t in promoted.traffic] == [
        ("fraud-detector-predictor-00002", 100)
    ]
    assert promoted.latest_rolled_out_revision == "fraud-detector-predictor-00002"


def test_rollback_sends_all_traffic_to_the_previous_revision(conn: ClusterConnection) -> None:
    kube.set_canary(
        conn, "team-a", "fraud-detector", storage_uri="gs://models/fraud/v2", percent=20
    )
    rolled_back = kube.rollback_canary(conn, "team-a", "fraud-detector")
    assert rolled_back.canary_traffic_percent == 0
    assert [(t.revision_name, t.percent, t.tag) for t in rolled_back.traffic] == [
        ("fraud-detector-predictor-00002", 0, "latest"),
        ("fraud-detector-predictor-00001", 100, "prev"),
    ]
    assert rolled_back.latest_rolled_out_revision == "fraud-detector-predictor-00001"


def test_canary_updates_a_framework_style_predictor_in_place(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    sandbox.state.load(
        [
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "flowers", "namespace": "team-a"},
                "spec": {"predictor": {"tensorflow": {"storageUri": "gs://flowers/1"}}},
            }
        ]
    )
    canary = kube.set_canary(conn, "team-a", "flowers", storage_uri="gs://flowers/2", percent=10)
    assert canary.storage_uri == "gs://flowers/2"
    stored = sandbox.state.get("InferenceService", "team-a", "flowers")
    assert stored is not None and "model" not in stored["spec"]["predictor"]


def test_canary_percent_outside_0_to_100_is_refused(conn: ClusterConnection) -> None:
    with pytest.raises(ValueError):
        kube.set_canary(conn, "team-a", "fraud-detector", storage_uri="gs://x", percent=150)


def test_a_missing_inference_service_reads_as_none_and_cannot_be_changed(
    conn: ClusterConnection,
) -> None:
    assert kube.read_inference_service(conn, "team-a", "nope") is None
    with pytest.raises(ClusterError) as caught:
        kube.promote_canary(conn, "team-a", "nope")
    assert caught.value.status == 404 and caught.value.reason == "NotFound"


def test_operations_accept_a_ready_api_client(sandbox: Sandbox) -> None:
    api = sandbox.api_client()
    assert len(kube.list_gpu_nodes(api)) == 5
