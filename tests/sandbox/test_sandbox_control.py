"""Test endpoints (/_sandbox/...), fault knobs, seeding and the request log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client

from worker.sandbox import seed
from worker.sandbox.testing import Sandbox, running_sandbox


def http(method: str, url: str, body: bytes | None = None, token: str | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_faults_set_over_http_fail_the_next_matching_requests(k8s_sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(k8s_sandbox.api_client())
    plan = {"fail_next": {"n": 2, "status": 503, "message": "etcd is sad", "method": "GET"}}
    snapshot = http("POST", f"{k8s_sandbox.url}/_sandbox/faults", json.dumps(plan).encode())
    assert snapshot["planned"][0]["remaining"] == 2
    for _ in range(2):
        with pytest.raises(client.ApiException) as caught:
            core.list_node()
        assert caught.value.status == 503
        assert json.loads(caught.value.body or "{}")["message"] == "etcd is sad"
    assert core.list_node().items == []
    assert [r.status for r in k8s_sandbox.state.requests] == [503, 503, 200]


def test_a_path_filter_limits_a_fault_to_some_requests(k8s_sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(k8s_sandbox.api_client())
    k8s_sandbox.faults.fail_next(1, 500, path_contains="/namespaces")
    assert core.list_node().items == []
    with pytest.raises(client.ApiException):
        core.list_namespace()


def test_reset_restores_the_seed_and_clears_the_log_and_faults() -> None:
    with running_sandbox([seed.namespace("team-a")]) as sandbox:
        core: Any = client.CoreV1Api(sandbox.api_client())
        core.create_namespace({"metadata": {"name": "team-b"}})
        sandbox.faults.latency_seconds = 0.01
        http("POST", f"{sandbox.url}/_sandbox/reset", b"")
        assert [ns.metadata.name for ns in core.list_namespace().items] == ["team-a"]
        assert sandbox.faults.latency_seconds == 0
        assert len(sandbox.state.requests) == 1


def test_state_dump_and_seed_over_http() -> None:
    with running_sandbox([seed.namespace("team-a")]) as sandbox:
        text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-z\n"
        assert http("POST", f"{sandbox.url}/_sandbox/seed", text.encode()) == {"loaded": 1}
        state = http("GET", f"{sandbox.url}/_sandbox/state?kind=Namespace")
        assert [o["metadata"]["name"] for o in state["objects"]] == ["team-a", "team-z"]
        assert state["cluster"] == "default"


def test_test_endpoints_need_the_token_too() -> None:
    with running_sandbox(token="t0k") as sandbox:
        with pytest.raises(urllib.error.HTTPError) as caught:
            http("GET", f"{sandbox.url}/_sandbox/state")
        assert caught.value.code == 401
        assert http("GET", f"{sandbox.url}/_sandbox/state", token="t0k")["objects"] == []


def test_out_of_band_edits_bump_the_resource_version(k8s_sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(k8s_sandbox.api_client())
    core.create_namespace({"metadata": {"name": "team-a"}})
    created = core.create_namespaced_resource_quota(
        "team-a", seed.resource_quota("team-a", "q", {"requests.nvidia.com/gpu": "4"})
    )
    edited = k8s_sandbox.state.apply_out_of_band(
        "ResourceQuota", "team-a", "q", {"spec": {"hard": {"requests.nvidia.com/gpu": "99"}}}
    )
    assert int(edited["metadata"]["resourceVersion"]) > int(created.metadata.resource_version)
    current = k8s_sandbox.state.get("v1/ResourceQuota", "team-a", "q")
    assert current is not None and current["spec"]["hard"]["requests.nvidia.com/gpu"] == "99"
    assert k8s_sandbox.state.delete_out_of_band("resourcequotas", "team-a", "q")
    assert k8s_sandbox.state.get("ResourceQuota", "team-a", "q") is None


def test_a_dropped_connection_gets_no_response(k8s_sandbox: Sandbox) -> None:
    core: Any = client.CoreV1Api(k8s_sandbox.api_client())
    k8s_sandbox.faults.drop_next(1)
    with pytest.raises(Exception) as caught:
        core.list_node()
    assert "aborted" in str(caught.value).lower() or "disconnected" in str(caught.value).lower()
    assert core.list_node().items == []
