"""ClusterError, translate() and with_retries() against real failures from the sandbox."""

from __future__ import annotations

import pickle
import socket
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3 import exceptions as urllib3_errors

from tests.kube.cluster import cluster_objects
from worker import kube
from worker.kube import ClusterConnection, ClusterError, translate, with_retries
from worker.kube import kueue as kueue_module
from worker.sandbox.testing import Sandbox

NO_POOL: Any = None  # urllib3 errors accept a pool/connection; these tests have none


class Sleeps(list[float]):
    """A fake ``sleep`` that records the delays it was asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (401, False),
        (403, False),
        (404, False),
        (422, False),
        (400, False),
        (409, True),
        (410, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_http_statuses_map_to_transient_or_permanent(status: int, transient: bool) -> None:
    error = translate(ApiException(status=status, reason="x"))
    assert error.status == status and error.transient is transient


def test_the_status_bodys_message_and_reason_are_kept() -> None:
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = '{"kind":"Status","message":"nope, not you","reason":"Forbidden","code":403}'
    error = translate(exc)
    assert (error.message, error.reason) == ("nope, not you", "Forbidden")


@pytest.mark.parametrize(
    ("exc", "reason", "transient"),
    [
        (urllib3_errors.ReadTimeoutError(NO_POOL, "/", "read timed out"), "Timeout", True),
        (urllib3_errors.NewConnectionError(NO_POOL, "refused"), "ConnectionRefused", True),
        (urllib3_errors.ProtocolError("Connection aborted."), "ConnectionDropped", True),
        (
            urllib3_errors.MaxRetryError(NO_POOL, "/", urllib3_errors.ProtocolError("x")),
            "ConnectionDropped",
            True,
        ),
        (ConnectionRefusedError("refused"), "ConnectionError", True),
        (TimeoutError("slow"), "Timeout", True),
        (urllib3_errors.SSLError("bad cert"), "SSLError", False),
    ],
)
def test_transport_errors_map_to_cluster_errors(
    exc: BaseException, reason: str, transient: bool
) -> None:
    error = translate(exc)
    assert (error.reason, error.transient, error.status) == (reason, transient, None)


def test_cluster_errors_survive_pickling() -> None:
    error = ClusterError("boom", status=503, reason="ServiceUnavailable", transient=True)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.status, copy.reason, copy.transient) == (
        "boom",
        503,
        "ServiceUnavailable",
        True,
    )


def test_a_burst_of_500s_is_retried_with_backoff_until_it_succeeds(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    sandbox.faults.fail_next(3, 500, "etcdserver: request timed out", method="PATCH")
    sleeps = Sleeps()
    state = with_retries(lambda: kube.apply_gpu_quota(conn, "team-a", 8), sleep=sleeps)
    assert state.hard_gpus == 8
    assert len(sleeps) == 3
    assert all(0 <= delay <= min(5.0, 0.2 * 2**n) for n, delay in enumerate(sleeps))
    assert [r.status for r in sandbox.state.requests if r.verb == "patch"] == [500, 500, 500, 201]


def test_retries_give_up_after_the_last_attempt(sandbox: Sandbox, conn: ClusterConnection) -> None:
    sandbox.faults.fail_next(10, 503, "overloaded")
    sleeps = Sleeps()
    with pytest.raises(ClusterError) as caught:
        with_retries(lambda: kube.list_gpu_nodes(conn), attempts=3, sleep=sleeps)
    assert caught.value.status == 503 and caught.value.message == "overloaded"
    assert len(sleeps) == 2


def test_a_stale_update_is_a_transient_conflict_that_a_retry_resolves(
    sandbox: Sandbox, conn: ClusterConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN someone edits the ClusterQueue between our read and our write
    WHEN the quota is applied with retries THEN the first write gets 409 and the retry wins."""
    real_call_json = kueue_module.call_json
    edited: list[bool] = []

    def call_json_with_race(method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = real_call_json(method, *args, **kwargs)
        if method.__name__ == "get_cluster_custom_object" and not edited:
            edited.append(True)
            sandbox.state.apply_out_of_band(
                "ClusterQueue", None, "team-a", {"metadata": {"labels": {"edited-by": "kubectl"}}}
            )
        return result

    monkeypatch.setattr(kueue_module, "call_json", call_json_with_race)
    sleeps = Sleeps()
    state = with_retries(
        lambda: kube.apply_cluster_queue_quota(conn, "team-a", flavor="h100", gpus=12),
        sleep=sleeps,
    )
    assert state.gpu_quota_by_flavor == {"h100": 12}
    stored = sandbox.state.get("ClusterQueue", None, "team-a")
    assert stored is not None and stored["metadata"]["labels"]["edited-by"] == "kubectl"
    updates = [r.status for r in sandbox.state.requests if r.verb == "update"]
    assert updates == [409, 200]
    assert len(sleeps) == 1


def test_forbidden_is_permanent_and_carries_the_api_message(
    k8s_sandbox_factory: Any,
) -> None:
    no_patch = [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["get", "create"]}]
    sandbox = k8s_sandbox_factory(seed=cluster_objects(), rbac_rules=no_patch)
    conn = ClusterConnection("rbac", api_url=sandbox.url)
    sleeps = Sleeps()
    with pytest.raises(ClusterError) as caught:
        with_retries(lambda: kube.apply_gpu_quota(conn, "team-a", 4), sleep=sleeps)
    error = caught.value
    assert (error.status, error.reason, error.transient) == (403, "Forbidden", False)
    assert error.message == (
        'resourcequotas "tarmac-gpu-quota" is forbidden: User '
        '"system:serviceaccount:tarmac:tarmac-worker" cannot patch resource "resourcequotas" '
        'in API group "" in the namespace "team-a"'
    )
    assert sleeps == []  # permanent errors are not retried


def test_a_response_slower_than_the_timeout_is_a_transient_timeout(sandbox: Sandbox) -> None:
    conn = ClusterConnection("slow", api_url=sandbox.url, timeout_seconds=0.2)
    sandbox.faults.latency_seconds = 1.0
    with pytest.raises(ClusterError) as caught:
        kube.read_gpu_quota(conn, "team-a")
    assert caught.value.reason == "Timeout" and caught.value.transient
    assert caught.value.status is None


def test_a_dropped_connection_is_transient_and_retried(
    sandbox: Sandbox, conn: ClusterConnection
) -> None:
    sandbox.faults.drop_next(1)
    with pytest.raises(ClusterError) as caught:
        kube.list_gpu_nodes(conn)
    assert caught.value.reason == "ConnectionDropped" and caught.value.transient
    sandbox.faults.drop_next(1)
    assert len(with_retries(lambda: kube.list_gpu_nodes(conn), sleep=Sleeps())) == 5


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = ClusterConnection("down", api_url=f"http://127.0.0.1:{port}", timeout_seconds=1)
    with pytest.raises(ClusterError) as caught:
        kube.list_gpu_nodes(conn)
    assert caught.value.transient and caught.value.reason == "ConnectionRefused"


def test_bugs_are_not_swallowed_by_retries() -> None:
    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        with_retries(broken, sleep=Sleeps())
