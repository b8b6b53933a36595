"""Applying grants through a real ``celery worker`` process, with the sandbox failing.

The worker shares the test database; the sandbox runs in this process and the cluster's
``api_url`` points at it, so the worker talks to it over HTTP as it would to a cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from apps.core import services as core_services
from apps.core.models import Operation
from apps.quotas import services
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import QuotaRequest
from tests.conftest import ROOT, _test_database_url, wait_for
from tests.quotas.conftest import quota_of
from tests.quotas.factories import H100
from worker.kube.rbac import load_rules
from worker.sandbox.testing import Sandbox

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

S = QuotaStatus


def approve(member: Any, lead: Any, namespace: Any, *, gpus: int) -> QuotaRequest:
    today = timezone.localdate()
    req = services.submit_request(
        actor=member,
        team=namespace.team,
        cluster=namespace.cluster,
        namespace=namespace,
        gpu_product=H100,
        gpus=gpus,
        starts_on=today,
        ends_on=today + timedelta(days=6),
        justification="Training.",
    )
    return services.approve_request(req, actor=lead)


def settled(pk: int) -> QuotaRequest | None:
    req = QuotaRequest.objects.get(pk=pk)
    return req if req.status in (S.ACTIVE, S.FAILED) else None


def test_two_500s_are_retried_and_the_grant_becomes_active(
    member: Any, lead: Any, vision_ns: Any, sandbox: Sandbox, live_worker: Any
) -> None:
    sandbox.faults.fail_next(
        2, 500, "etcdserver: request timed out", path_contains="resourcequotas"
    )
    req = approve(member, lead, vision_ns, gpus=5)
    done = wait_for(lambda: settled(req.pk), timeout=90)
    assert done.status == S.ACTIVE, done.failure_message
    op = Operation.objects.get(pk=done.apply_operation_id)
    assert op.status == "succeeded" and op.attempts == 3
    patches = [
        r.status
        for r in sandbox.state.requests
        if r.resource == "resourcequotas" and r.verb == "patch"
    ]
    assert patches == [500, 500, 201]
    assert quota_of(sandbox, "team-vision") == 5
    assert "core.run_operation[" in live_worker.log()  # it went through the worker


def test_a_403_leaves_the_grant_failed_with_the_api_message(
    member: Any,
    lead: Any,
    vision_ns: Any,
    cluster: Any,
    k8s_sandbox_factory: Any,
    live_worker: Any,
) -> None:
    from tests.quotas.conftest import sandbox_objects

    rules = load_rules()
    for rule in rules:
        if rule.get("resources") == ["resourcequotas"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "patch"]
    box = k8s_sandbox_factory(seed=sandbox_objects(), rbac_rules=rules)
    cluster.api_url = box.url
    cluster.save()
    req = approve(member, lead, vision_ns, gpus=2)
    done = wait_for(lambda: settled(req.pk), timeout=60)
    assert done.status == S.FAILED
    assert done.failure_message == (
        'Forbidden 403: resourcequotas "tarmac-gpu-quota" is forbidden: User '
        '"system:serviceaccount:tarmac:tarmac-worker" cannot patch resource "resourcequotas" '
        'in API group "" in the namespace "team-vision"'
    )
    assert Operation.objects.get(pk=done.apply_operation_id).attempts == 1  # permanent
    assert box.state.get("ResourceQuota", "team-vision", "tarmac-gpu-quota") is None


def test_a_worker_killed_after_claiming_is_redriven_and_the_grant_applied(
    member: Any, lead: Any, vision_ns: Any, sandbox: Sandbox, live_worker: Any
) -> None:
    """GIVEN an approved grant whose operation a worker process claimed and then died
    on (killed with SIGKILL while waiting for the cluster)
    WHEN beat's re-driver runs after the lease has expired
    THEN the live worker applies it: active, attempts recorded as 2."""
    with mock.patch.object(core_services, "enqueue"):  # only the doomed process runs it
        req = approve(member, lead, vision_ns, gpus=3)
    op_id = req.apply_operation_id
    assert op_id is not None
    sandbox.faults.latency_seconds = 30
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": "WARNING",
    }
    script = (
        "import sys, django; django.setup()\n"
        "from apps.core.tasks import run_operation\n"
        "run_operation(int(sys.argv[1]))\n"
    )
    doomed = subprocess.Popen([sys.executable, "-c", script, str(op_id)], cwd=ROOT, env=env)
    try:
        wait_for(lambda: Operation.objects.filter(pk=op_id, status="running").exists(), timeout=60)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    sandbox.faults.latency_seconds = 0
    stuck = Operation.objects.get(pk=op_id)
    assert (stuck.status, stuck.attempts) == ("running", 1)
    assert QuotaRequest.objects.get(pk=req.pk).status == S.APPLYING

    later = timezone.now() + timedelta(seconds=settings.OPERATION_LEASE_SECONDS + 1)
    assert core_services.redrive_stale_operations(now=later) == [op_id]
    done = wait_for(lambda: settled(req.pk), timeout=60)
    assert done.status == S.ACTIVE
    op = Operation.objects.get(pk=op_id)
    assert (op.status, op.attempts) == ("succeeded", 2)
    assert quota_of(sandbox, "team-vision") == 3
