"""The sandbox answers the official kubernetes client with API server semantics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from worker.kube.rbac import load_rules
from worker.sandbox import seed
from worker.sandbox.testing import Sandbox, running_sandbox

# shared/ sits beside the repository (on developer machines and in CI).
KSERVE_FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "shared/fixtures/kserve/status-components-predictor-traffic.json"
)

SEED = [
    seed.namespace("team-a"),
    seed.namespace("team-b"),
    *(seed.gpu_node(f"h100-{i}", "NVIDIA-H100-80GB-HBM3", 8) for i in range(5)),
    seed.gpu_node("cpu-0", None, 0),
    seed.gpu_pod("team-a", "train-0", node="h100-0", gpus=8),
    seed.gpu_pod("team-a", "train-1", node="h100-1", gpus=2),
    seed.gpu_pod("team-a", "done-0", node="h100-1", gpus=4, phase="Succeeded"),
    seed.gpu_pod("team-b", "serve-0", node="h100-2", gpus=1),
    seed.gpu_pod("team-b", "cpu-only", node="cpu-0", gpus=0),
]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SEED) as running:
        yield running


@pytest.fixture
def core(sandbox: Sandbox) -> Any:
    return client.CoreV1Api(sandbox.api_client())


@pytest.fixture
def custom(sandbox: Sandbox) -> Any:
    return client.CustomObjectsApi(sandbox.api_client())


def status_of(exc: client.ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body or "{}")
    return body


def create_cq(custom: Any, body: dict[str, Any], **kwargs: Any) -> Any:
    return custom.create_cluster_custom_object(
        "kueue.x-k8s.io", "v1beta1", "clusterqueues", body, **kwargs
    )


def test_created_objects_get_uid_timestamp_and_increasing_resource_versions(
    core: Any,
) -> None:
    first = core.create_namespaced_resource_quota(
        "team-a", seed.resource_quota("team-a", "q1", {"requests.nvidia.com/gpu": "4"})
    )
    second = core.create_namespaced_resource_quota(
        "team-a", seed.resource_quota("team-a", "q2", {"requests.nvidia.com/gpu": "4"})
    )
    assert first.metadata.uid and first.metadata.creation_timestamp
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)


def test_custom_object_generation_counts_spec_changes_only(
    custom: Any,
) -> None:
    created = create_cq(custom, seed.cluster_queue("cq", {"h100": 8}))
    assert created["metadata"]["generation"] == 1
    labelled = custom.patch_cluster_custom_object(
        "kueue.x-k8s.io", "v1beta1", "clusterqueues", "cq", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    changed = custom.patch_cluster_custom_object(
        "kueue.x-k8s.io", "v1beta1", "clusterqueues", "cq", {"spec": {"cohort": "pool"}}
    )
    assert changed["metadata"]["generation"] == 2
    assert int(changed["metadata"]["resourceVersion"]) > int(
        labelled["metadata"]["resourceVersion"]
    )


def test_creating_an_existing_object_is_409_already_exists(core: Any) -> None:
    body = seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "4"})
    core.create_namespaced_resource_quota("team-a", body)
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_resource_quota("team-a", body)
    status = status_of(caught.value)
    assert caught.value.status == 409
    assert status["kind"] == "Status" and status["reason"] == "AlreadyExists"
    assert status["message"] == 'resourcequotas "q" already exists'
    assert status["details"] == {"name": "q", "kind": "resourcequotas"}


def test_missing_objects_and_namespaces_are_404(core: Any, custom: Any) -> None:
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_resource_quota("nope", "team-a")
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'resourcequotas "nope" not found'

    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_resource_quota(
            "ghost", seed.resource_quota("ghost", "q", {"requests.nvidia.com/gpu": "1"})
        )
    assert status_of(caught.value)["message"] == 'namespaces "ghost" not found'

    with pytest.raises(client.ApiException) as caught:
        custom.get_cluster_custom_object("kueue.x-k8s.io", "v1beta1", "clusterqueues", "nope")
    assert status_of(caught.value)["message"] == 'clusterqueues.kueue.x-k8s.io "nope" not found'


def test_update_with_a_stale_resource_version_is_409_conflict(core: Any) -> None:
    created = core.create_namespaced_resource_quota(
        "team-a", seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "4"})
    )
    stale = created.to_dict()
    core.patch_namespaced_resource_quota(
        "q", "team-a", {"spec": {"hard": {"requests.nvidia.com/gpu": "5"}}}
    )
    stale["spec"]["hard"]["requests.nvidia.com/gpu"] = "6"
    with pytest.raises(client.ApiException) as caught:
        core.replace_namespaced_resource_quota("q", "team-a", stale)
    status = status_of(caught.value)
    assert caught.value.status == 409 and status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]


def test_a_negative_quota_is_422_invalid_with_the_api_servers_message(
    core: Any,
) -> None:
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_resource_quota(
            "team-a", seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "-1"})
        )
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'ResourceQuota "q" is invalid: spec.hard[requests.nvidia.com/gpu]: '
        'Invalid value: "-1": must be greater than or equal to 0'
    )
    assert status["details"]["causes"][0]["field"] == "spec.hard[requests.nvidia.com/gpu]"


def test_an_unparsable_quota_is_rejected_when_decoding(core: Any) -> None:
    # The API server cannot decode a bad quantity into a ResourceQuota: 400, not 422.
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_resource_quota(
            "team-a", seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "lots"})
        )
    assert caught.value.status == 400
    assert "quantities must match the regular expression" in status_of(caught.value)["message"]


def test_an_unknown_cluster_queue_field_is_rejected_in_strict_mode(
    custom: Any,
) -> None:
    body = seed.cluster_queue("cq", {"h100": 8}, gpuQuota=8)
    with pytest.raises(client.ApiException) as caught:
        create_cq(custom, body)
    status = status_of(caught.value)
    # As the API server does for fieldValidation=Strict: 400 BadRequest, strict decoding error.
    assert caught.value.status == 400 and status["reason"] == "BadRequest"
    assert status["message"] == (
        'ClusterQueue in version "v1beta1" cannot be handled as a ClusterQueue: '
        'strict decoding error: unknown field "spec.gpuQuota"'
    )


def test_unknown_fields_are_pruned_when_the_sandbox_is_lenient() -> None:
    with running_sandbox(strict_fields=False) as sandbox:
        custom: Any = client.CustomObjectsApi(sandbox.api_client())
        created = create_cq(custom, seed.cluster_queue("cq", {"h100": 8}, gpuQuota=8))
        assert "gpuQuota" not in created["spec"]
        with pytest.raises(client.ApiException) as caught:
            create_cq(
                custom, seed.cluster_queue("cq2", {"h100": 8}, x=1), field_validation="Strict"
            )
        assert caught.value.status == 400


def test_cluster_queue_is_validated_against_the_kueue_crd_schema(
    custom: Any,
) -> None:
    with pytest.raises(client.ApiException) as caught:
        create_cq(custom, seed.cluster_queue("cq", {"h100": "eight"}))
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith('ClusterQueue.kueue.x-k8s.io "cq" is invalid: ')
    assert "spec.resourceGroups[0].flavors[0].resources[0].nominalQuota" in status["message"]

    mismatched = seed.cluster_queue("cq", {"h100": 8})
    mismatched["spec"]["resourceGroups"][0]["coveredResources"].append("cpu")
    with pytest.raises(client.ApiException) as caught:
        create_cq(custom, mismatched)
    assert (
        "flavors must have the same number of resources as the coveredResources"
        in (status_of(caught.value)["message"])
    )


def test_cluster_queue_defaults_come_from_the_crd(custom: Any) -> None:
    created = create_cq(custom, seed.cluster_queue("cq", {"h100": 8}))
    assert created["spec"]["queueingStrategy"] == "BestEffortFIFO"
    assert created["spec"]["flavorFungibility"] == {
        "whenCanBorrow": "Borrow",
        "whenCanPreempt": "TryNextFlavor",
    }


def test_inference_service_canary_percent_must_be_0_to_100(
    custom: Any,
) -> None:
    body = seed.inference_service("team-a", "m", "gs://m/1", canaryTrafficPercent=150)
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object(
            "serving.kserve.io", "v1beta1", "team-a", "inferenceservices", body
        )
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert (
        "spec.predictor.canaryTrafficPercent in body should be less than or equal to 100"
        in (status["message"])
    )
    no_predictor = {**body, "spec": {}}
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object(
            "serving.kserve.io", "v1beta1", "team-a", "inferenceservices", no_predictor
        )
    assert "spec.predictor: Required value" in status_of(caught.value)["message"]


def test_node_lists_page_with_limit_and_continue(sandbox: Sandbox, core: Any) -> None:
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_node(limit=2, _continue=token)
        names += [node.metadata.name for node in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert pages == 3
    assert names == sorted(names) and len(names) == 6
    assert [r.verb for r in sandbox.state.requests] == ["list"] * 3


def test_lists_filter_by_label_and_field_selectors(core: Any) -> None:
    gpu_nodes = core.list_node(label_selector="nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3")
    assert len(gpu_nodes.items) == 5
    assert len(core.list_node(label_selector="!nvidia.com/gpu.product").items) == 1
    running = core.list_pod_for_all_namespaces(
        field_selector="status.phase!=Succeeded,status.phase!=Failed"
    )
    assert {p.metadata.name for p in running.items} == {"train-0", "train-1", "serve-0", "cpu-only"}
    in_team_b = core.list_namespaced_pod("team-b")
    assert {p.metadata.name for p in in_team_b.items} == {"serve-0", "cpu-only"}


def test_quota_status_used_is_computed_from_running_pods(sandbox: Sandbox, core: Any) -> None:
    core.create_namespaced_resource_quota(
        "team-a", seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "16"})
    )
    read = core.read_namespaced_resource_quota("q", "team-a")
    assert read.status.hard == {"requests.nvidia.com/gpu": "16"}
    assert read.status.used == {"requests.nvidia.com/gpu": "10"}  # 8 + 2; the Succeeded pod is out

    sandbox.state.load([seed.gpu_pod("team-a", "train-2", node="h100-3", gpus=4)])
    read = core.read_namespaced_resource_quota("q", "team-a")
    assert read.status.used == {"requests.nvidia.com/gpu": "14"}


def test_server_side_apply_is_idempotent_and_tracks_the_field_manager(
    core: Any,
) -> None:
    body = seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "4"})

    def apply() -> Any:
        return core.patch_namespaced_resource_quota(
            "q",
            "team-a",
            body,
            field_manager="tarmac",
            force=True,
            _content_type="application/apply-patch+yaml",
        )

    first = apply()
    second = apply()
    assert first.metadata.resource_version == second.metadata.resource_version
    managers = {entry.manager: entry.operation for entry in second.metadata.managed_fields}
    assert managers == {"tarmac": "Apply"}


def test_apply_without_force_conflicts_with_another_managers_edit(
    sandbox: Sandbox, core: Any
) -> None:
    body = seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "4"})
    options: dict[str, Any] = {
        "field_manager": "tarmac",
        "_content_type": "application/apply-patch+yaml",
    }
    core.patch_namespaced_resource_quota("q", "team-a", body, **options)
    sandbox.state.apply_out_of_band(
        "ResourceQuota", "team-a", "q", {"spec": {"hard": {"requests.nvidia.com/gpu": "40"}}}
    )
    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_resource_quota("q", "team-a", body, **options)
    status = status_of(caught.value)
    assert caught.value.status == 409
    assert 'conflict with "kubectl-edit"' in status["message"]
    taken_back = core.patch_namespaced_resource_quota("q", "team-a", body, force=True, **options)
    assert taken_back.spec.hard == {"requests.nvidia.com/gpu": "4"}


def test_merge_and_strategic_merge_patches_update_fields(core: Any) -> None:
    core.create_namespaced_resource_quota(
        "team-a", seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "4", "pods": "9"})
    )
    patched = core.patch_namespaced_resource_quota(
        "q",
        "team-a",
        {"spec": {"hard": {"pods": None}}},
        _content_type="application/merge-patch+json",
    )
    assert patched.spec.hard == {"requests.nvidia.com/gpu": "4"}
    patched = core.patch_namespaced_resource_quota(
        "q", "team-a", {"spec": {"hard": {"requests.nvidia.com/gpu": "6"}}}
    )  # the client's default for a dict body: strategic merge patch
    assert patched.spec.hard == {"requests.nvidia.com/gpu": "6"}


def test_requests_without_the_bearer_token_are_401() -> None:
    with running_sandbox(SEED, token="s3cret") as sandbox:
        anonymous: Any = client.CoreV1Api(sandbox.api_client())
        with pytest.raises(client.ApiException) as caught:
            anonymous.list_node()
        assert caught.value.status == 401
        authenticated: Any = client.CoreV1Api(sandbox.api_client(token="s3cret"))
        assert len(authenticated.list_node().items) == 6


def test_rbac_denies_verbs_the_rules_do_not_grant_with_the_api_servers_message() -> None:
    rules = [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["get", "list"]}]
    with running_sandbox(SEED, rbac_rules=rules) as sandbox:
        core: Any = client.CoreV1Api(sandbox.api_client())
        assert core.list_namespaced_resource_quota("team-a").items == []
        with pytest.raises(client.ApiException) as caught:
            core.patch_namespaced_resource_quota("x", "team-a", {"spec": {}})
        status = status_of(caught.value)
        assert caught.value.status == 403 and status["reason"] == "Forbidden"
        assert status["message"] == (
            'resourcequotas "x" is forbidden: User "system:serviceaccount:tarmac:tarmac-worker" '
            'cannot patch resource "resourcequotas" in API group "" in the namespace "team-a"'
        )
        with pytest.raises(client.ApiException) as caught:
            core.list_node()
        assert status_of(caught.value)["message"].endswith(
            'cannot list resource "nodes" in API group "" at the cluster scope'
        )
        assert [(r.resource, r.verb, r.status) for r in sandbox.state.requests] == [
            ("resourcequotas", "list", 200),
            ("resourcequotas", "patch", 403),
            ("nodes", "list", 403),
        ]


def test_the_rbac_manifest_loads_as_sandbox_rules() -> None:
    rules = load_rules()
    assert any("resourcequotas" in rule["resources"] for rule in rules)


def test_discovery_endpoints_answer_the_client(sandbox: Sandbox) -> None:
    api = sandbox.api_client()
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {group.name for group in client.ApisApi(api).get_api_versions().groups}
    assert groups == {"kueue.x-k8s.io", "serving.kserve.io"}
    resources = client.CoreV1Api(api).get_api_resources().resources
    assert {r.name for r in resources} >= {"nodes", "pods", "namespaces", "resourcequotas"}


def test_inference_service_status_has_kserves_shape(
    custom: Any,
) -> None:
    body = seed.inference_service(
        "team-a",
        "my-model",
        "gs://models/flowers",
        annotations={"serving.kserve.io/enable-tag-routing": "true"},
    )
    args = ("serving.kserve.io", "v1beta1", "team-a", "inferenceservices")
    custom.create_namespaced_custom_object(*args, body)
    canary = custom.patch_namespaced_custom_object(
        *args,
        "my-model",
        {"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": "gs://m/2"}}}},
    )
    predictor = canary["status"]["components"]["predictor"]
    real = json.loads(KSERVE_FIXTURE.read_text()) if KSERVE_FIXTURE.exists() else None
    if real is not None:
        assert set(predictor) == set(real)
        assert [set(t) for t in predictor["traffic"]] == [set(t) for t in real["traffic"]]
    assert [(t["revisionName"], t["percent"], t["tag"]) for t in predictor["traffic"]] == [
        ("my-model-predictor-00002", 10, "latest"),
        ("my-model-predictor-00001", 90, "prev"),
    ]
    assert predictor["latestRolledoutRevision"] == "my-model-predictor-00001"
    conditions = {c["type"]: c["status"] for c in canary["status"]["conditions"]}
    assert conditions["Ready"] == "True"
