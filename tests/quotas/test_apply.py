"""Applying grants to a cluster (the Kubernetes API sandbox), and reconciling drift.

Tasks run inline here (eager Celery inside ``django_capture_on_commit_callbacks``); the
same handlers through a real worker process are in test_worker_faults.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.models import Operation
from apps.quotas import cluster_sync, selectors, services
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import KueueFlavorMapping, NamespaceQuotaState, QuotaRequest
from tests.quotas.conftest import queue_quota, quota_of
from tests.quotas.factories import A100, H100, make_request
from worker.sandbox.testing import Sandbox

pytestmark = pytest.mark.django_db

S = QuotaStatus


def approve(member: Any, lead: Any, namespace: Any, *, gpus: int, product: str = H100) -> Any:
    today = timezone.localdate()
    req = services.submit_request(
        actor=member,
        team=namespace.team,
        cluster=namespace.cluster,
        namespace=namespace,
        gpu_product=product,
        gpus=gpus,
        starts_on=today,
        ends_on=today + timedelta(days=6),
        justification="Training.",
    )
    return services.approve_request(req, actor=lead)


def test_an_approved_grant_sets_the_resource_quota_to_exactly_the_granted_count(
    member: Any,
    lead: Any,
    vision_ns: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        req = approve(member, lead, vision_ns, gpus=6)
    req.refresh_from_db()
    assert req.status == S.ACTIVE
    assert quota_of(sandbox, "team-vision") == 6
    stored = sandbox.state.get("ResourceQuota", "team-vision", "tarmac-gpu-quota")
    assert stored is not None
    assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tarmac"
    assert stored["metadata"]["labels"]["tarmac.io/team"] == "vision"
    op = Operation.objects.get(pk=req.apply_operation_id)
    assert op.status == "succeeded" and op.attempts == 1
    assert op.result["gpus"] == 6 and op.result["observed_gpus"] == 6
    state = NamespaceQuotaState.objects.get(namespace=vision_ns)
    assert (state.desired_gpus, state.applied_gpus) == (6, 6)


def test_the_quota_is_the_sum_of_the_namespaces_grants_across_products(
    member: Any,
    lead: Any,
    vision_ns: Any,
    nlp_ns: Any,
    outsider: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        approve(member, lead, vision_ns, gpus=4)
        approve(member, lead, vision_ns, gpus=2, product=A100)
        approve(outsider, lead, nlp_ns, gpus=3)
    assert quota_of(sandbox, "team-vision") == 6
    assert quota_of(sandbox, "team-nlp") == 3


def test_kueue_cluster_queue_and_local_queue_are_set_per_flavor(
    member: Any,
    lead: Any,
    vision_ns: Any,
    kueue_cluster: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """GIVEN a Kueue cluster whose vision ClusterQueue also holds a CPU quota
    WHEN 4 H100 and 2 A100 are granted to vision
    THEN the queue's GPU quota is 4 on h100-80gb and 2 on a100-80gb, CPU is untouched,
    and the namespace has a LocalQueue pointing at the team's ClusterQueue."""
    with django_capture_on_commit_callbacks(execute=True):
        approve(member, lead, vision_ns, gpus=4)
        approve(member, lead, vision_ns, gpus=2, product=A100)
    assert queue_quota(sandbox, "team-vision") == {"h100-80gb": 4, "a100-80gb": 2}
    queue = sandbox.state.get("ClusterQueue", None, "team-vision")
    assert queue is not None
    cpu = queue["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]
    assert cpu == {"name": "cpu", "nominalQuota": 224}
    assert queue["spec"]["cohort"] == "gpu-pool"
    assert queue["spec"]["namespaceSelector"] == {"matchLabels": {"tarmac.io/team": "vision"}}
    local = sandbox.state.get("LocalQueue", "team-vision", "default")
    assert local is not None and local["spec"]["clusterQueue"] == "team-vision"
    assert quota_of(sandbox, "team-vision") == 6


def test_a_missing_cluster_queue_is_created_for_the_team(
    outsider: Any,
    lead: Any,
    nlp_ns: Any,
    kueue_cluster: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert sandbox.state.get("ClusterQueue", None, "team-nlp") is None
    with django_capture_on_commit_callbacks(execute=True):
        approve(outsider, lead, nlp_ns, gpus=3, product=A100)
    assert queue_quota(sandbox, "team-nlp") == {"a100-80gb": 3, "h100-80gb": 0}


def test_a_kueue_cluster_without_a_flavor_mapping_fails_with_a_clear_message(
    member: Any,
    lead: Any,
    vision_ns: Any,
    kueue_cluster: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    KueueFlavorMapping.objects.filter(gpu_product=H100).delete()
    with django_capture_on_commit_callbacks(execute=True):
        req = approve(member, lead, vision_ns, gpus=4)
    req.refresh_from_db()
    assert req.status == S.FAILED
    assert "no flavor mapping for NVIDIA-H100-80GB-HBM3" in req.failure_message
    assert Operation.objects.get(pk=req.apply_operation_id).attempts == 1  # not retried


def test_expiry_lowers_the_quota_to_the_remaining_grants(
    member: Any,
    lead: Any,
    vision_ns: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        short = approve(member, lead, vision_ns, gpus=4)
        approve(member, lead, vision_ns, gpus=3, product=A100)
    QuotaRequest.objects.filter(pk=short.pk).update(ends_on=timezone.localdate())
    assert quota_of(sandbox, "team-vision") == 7
    with django_capture_on_commit_callbacks(execute=True):
        services.expire_due_grants(now=timezone.now() + timedelta(days=1))
    assert QuotaRequest.objects.get(pk=short.pk).status == S.EXPIRED
    assert quota_of(sandbox, "team-vision") == 3


def test_revoking_the_last_grant_sets_the_quota_to_zero(
    member: Any,
    lead: Any,
    vision_ns: Any,
    kueue_cluster: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        req = approve(member, lead, vision_ns, gpus=4)
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_request(QuotaRequest.objects.get(pk=req.pk), actor=lead, reason="done")
    assert quota_of(sandbox, "team-vision") == 0
    assert queue_quota(sandbox, "team-vision")["h100-80gb"] == 0
    op = QuotaRequest.objects.get(pk=req.pk).release_operation
    assert op is not None and op.status == "succeeded"


def test_applying_twice_writes_nothing_new(
    member: Any,
    lead: Any,
    vision_ns: Any,
    kueue_cluster: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        approve(member, lead, vision_ns, gpus=4)
    quota_rv = sandbox.state.get("ResourceQuota", "team-vision", "tarmac-gpu-quota")
    queue_rv = sandbox.state.get("ClusterQueue", None, "team-vision")
    assert quota_rv is not None and queue_rv is not None
    sandbox.state.clear_requests()
    cluster_sync.sync_namespace(vision_ns.pk)
    again = sandbox.state.get("ResourceQuota", "team-vision", "tarmac-gpu-quota")
    queue = sandbox.state.get("ClusterQueue", None, "team-vision")
    assert again is not None and queue is not None
    assert again["metadata"]["resourceVersion"] == quota_rv["metadata"]["resourceVersion"]
    assert queue["metadata"]["resourceVersion"] == queue_rv["metadata"]["resourceVersion"]
    assert not [r for r in sandbox.state.requests if r.verb in ("update", "create")]


def test_a_transient_error_is_retried_until_the_apply_succeeds(
    member: Any,
    lead: Any,
    vision_ns: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sandbox.faults.fail_next(2, 500, "etcdserver: leader changed", path_contains="resourcequotas")
    with django_capture_on_commit_callbacks(execute=True):
        req = approve(member, lead, vision_ns, gpus=5)
    req.refresh_from_db()
    assert req.status == S.ACTIVE
    assert Operation.objects.get(pk=req.apply_operation_id).attempts == 3
    assert quota_of(sandbox, "team-vision") == 5


# --- reconciliation -----------------------------------------------------------------


@pytest.fixture
def active_grant(
    member: Any,
    lead: Any,
    vision_ns: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        req = approve(member, lead, vision_ns, gpus=6)
    req.refresh_from_db()
    assert req.status == S.ACTIVE
    return req


def kubectl_set_quota(sandbox: Sandbox, namespace: str, gpus: int) -> None:
    sandbox.state.apply_out_of_band(
        "ResourceQuota",
        namespace,
        "tarmac-gpu-quota",
        {"spec": {"hard": {"requests.nvidia.com/gpu": str(gpus)}}},
    )


def test_an_out_of_band_edit_is_flagged_and_restored(
    active_grant: Any,
    vision_ns: Any,
    sandbox: Sandbox,
    client: Any,
    member: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """GIVEN an active grant of 6 GPUs, and someone sets the quota to 40 with kubectl
    WHEN the reconciler runs on a cluster whose drift policy is "restore"
    THEN the namespace is flagged drifted (audited), an operation restores 6, and the
    flag is cleared (audited)."""
    kubectl_set_quota(sandbox, "team-vision", 40)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        report = services.reconcile_quotas()
    assert report.drifted == [vision_ns.pk] and report.restoring == [vision_ns.pk]
    state = NamespaceQuotaState.objects.get(namespace=vision_ns)
    assert state.drifted_at is not None and state.observed_gpus == 40
    assert "40 GPUs on the cluster, 6 granted" in state.drift_detail
    drifted = AuditEvent.objects.get(verb="quota.drifted")
    assert drifted.after is not None
    assert drifted.after["gpus"] == 40 and drifted.after["policy"] == "restore"
    [row] = selectors.drifted_namespaces()
    assert (row.namespace, row.observed_gpus, row.desired_gpus) == ("team-vision", 40, 6)
    client.force_login(member)
    page = client.get(f"/quotas/{active_grant.pk}/")
    assert "Drifted" in page.content.decode()

    for callback in pending:
        callback()  # the restore operation runs (inline)
    assert quota_of(sandbox, "team-vision") == 6
    state.refresh_from_db()
    assert state.drifted_at is None and state.drift_detail == ""
    restored = AuditEvent.objects.get(verb="quota.drift_restored")
    assert restored.target_type == "clusters.teamnamespace"
    assert selectors.drifted_namespaces() == []
    assert services.reconcile_quotas().drifted == []


def test_with_the_flag_policy_a_drift_is_only_flagged_until_someone_fixes_it(
    active_grant: Any, vision_ns: Any, cluster: Any, sandbox: Sandbox
) -> None:
    cluster.drift_policy = "flag"
    cluster.save()
    kubectl_set_quota(sandbox, "team-vision", 2)
    report = services.reconcile_quotas()
    assert report.drifted == [vision_ns.pk] and report.restoring == []
    assert not Operation.objects.filter(kind="quotas.sync_namespace").exists()
    assert quota_of(sandbox, "team-vision") == 2
    flagged = AuditEvent.objects.get(verb="quota.drifted")
    assert flagged.after is not None and flagged.after["policy"] == "flag"
    services.reconcile_quotas()
    assert AuditEvent.objects.filter(verb="quota.drifted").count() == 1  # flagged once
    kubectl_set_quota(sandbox, "team-vision", 6)
    assert services.reconcile_quotas().cleared == [vision_ns.pk]
    assert AuditEvent.objects.filter(verb="quota.drift_cleared").count() == 1
    assert NamespaceQuotaState.objects.get(namespace=vision_ns).drifted_at is None


def test_a_deleted_quota_is_a_drift(active_grant: Any, vision_ns: Any, sandbox: Sandbox) -> None:
    sandbox.state.delete_out_of_band("ResourceQuota", "team-vision", "tarmac-gpu-quota")
    report = services.reconcile_quotas()
    assert report.drifted == [vision_ns.pk]
    state = NamespaceQuotaState.objects.get(namespace=vision_ns)
    assert state.observed_gpus is None and "is missing" in state.drift_detail


def test_a_cluster_queue_edit_is_a_drift(
    member: Any,
    lead: Any,
    vision_ns: Any,
    kueue_cluster: Any,
    sandbox: Sandbox,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        approve(member, lead, vision_ns, gpus=4)
    queue = sandbox.state.get("ClusterQueue", None, "team-vision")
    assert queue is not None
    groups = queue["spec"]["resourceGroups"]
    for flavor in groups[0]["flavors"]:
        for resource in flavor["resources"]:
            if flavor["name"] == "h100-80gb" and resource["name"] == "nvidia.com/gpu":
                resource["nominalQuota"] = 32
    sandbox.state.apply_out_of_band(
        "ClusterQueue", None, "team-vision", {"spec": {"resourceGroups": groups}}
    )
    report = services.reconcile_quotas()
    assert report.drifted == [vision_ns.pk]
    detail = NamespaceQuotaState.objects.get(namespace=vision_ns).drift_detail
    assert detail == "ClusterQueue team-vision flavor h100-80gb: 32 GPUs on the cluster, 4 granted"


def test_a_namespace_with_an_operation_in_flight_is_left_alone(
    member: Any, lead: Any, vision_ns: Any, sandbox: Sandbox
) -> None:
    approve(member, lead, vision_ns, gpus=4)  # its operation stays pending (not executed)
    report = services.reconcile_quotas()
    assert report.skipped_busy == 1 and report.drifted == []


def test_an_unreachable_cluster_is_recorded_not_flagged(
    active_grant: Any, vision_ns: Any, cluster: Any
) -> None:
    cluster.api_url = "http://127.0.0.1:9"
    cluster.timeout_seconds = 1
    cluster.save()
    report = services.reconcile_quotas()
    assert vision_ns.pk in report.errors and report.drifted == []
    state = NamespaceQuotaState.objects.get(namespace=vision_ns)
    assert state.check_error and state.drifted_at is None


def test_granted_gpus_by_cluster_product_sums_active_grants(
    member: Any, vision_ns: Any, nlp_ns: Any, outsider: Any, cluster: Any
) -> None:
    make_request(vision_ns, member, status=S.ACTIVE, gpus=4)
    make_request(vision_ns, member, status=S.ACTIVE, gpus=2, product=A100)
    make_request(nlp_ns, outsider, status=S.ACTIVE, gpus=3)
    make_request(nlp_ns, outsider, status=S.SUBMITTED, gpus=8)
    make_request(nlp_ns, outsider, status=S.EXPIRED, gpus=8)
    assert selectors.granted_gpus_by_cluster_product() == {
        (cluster.pk, H100): 7,
        (cluster.pk, A100): 2,
    }
