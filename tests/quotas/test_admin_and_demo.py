"""Operators' settings in the admin console (audited), the demo data, and the history
the team page charts."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.clusters.models import GpuUsageHour, NamespaceGpuUsage
from apps.core.models import Operation
from apps.quotas import demo, selectors
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import AutoApproveRule, KueueFlavorMapping, QuotaRequest
from tests.factories import TeamFactory, UserFactory, platform_lead
from tests.quotas.factories import H100, make_cluster, make_namespace, make_request

pytestmark = pytest.mark.django_db

S = QuotaStatus


def test_an_operator_adds_an_auto_approve_rule_in_the_admin_and_it_is_audited(
    client: Any, op_user: Any, team: Any, cluster: Any
) -> None:
    client.force_login(op_user)
    response = client.post(
        "/admin/quotas/autoapproverule/add/",
        {"team": team.pk, "cluster": cluster.pk, "max_gpus": 2, "max_days": 7, "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AutoApproveRule.objects.get()
    event = AuditEvent.objects.get(verb="admin.created", target_type="quotas.autoapproverule")
    assert event.after is not None
    assert event.actor == op_user and event.after["max_gpus"] == 2 and event.team == team
    assert rule.matches(2, 7) and not rule.matches(3, 7) and not rule.matches(2, 8)


def test_a_flavor_mapping_with_a_bad_template_is_refused_in_the_admin(
    client: Any, op_user: Any, cluster: Any
) -> None:
    client.force_login(op_user)
    response = client.post(
        "/admin/quotas/kueueflavormapping/add/",
        {
            "cluster": cluster.pk,
            "gpu_product": H100,
            "flavor": "h100-80gb",
            "cluster_queue_template": "{owner}-queue",
            "local_queue": "default",
            "cohort": "",
        },
    )
    assert response.status_code == 200
    assert "Use only {team} and {namespace}" in response.content.decode()
    assert not KueueFlavorMapping.objects.exists()


def test_quota_requests_are_read_only_in_the_admin(
    client: Any, op_user: Any, member: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member)
    client.force_login(op_user)
    assert client.get("/admin/quotas/quotarequest/").status_code == 200
    assert client.get("/admin/quotas/quotarequest/add/").status_code == 403
    client.post(f"/admin/quotas/quotarequest/{req.pk}/change/", {"status": "active"})
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


def test_the_history_adds_up_the_daily_peak_of_each_namespace(
    member: Any, team: Any, vision_ns: Any, cluster: Any
) -> None:
    second = make_namespace(cluster, team, "vision-batch")
    today = timezone.localdate()
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for hours_ago, namespace, requested in [
        (0, "team-vision", 4),
        (1, "team-vision", 6),  # the day's peak for team-vision
        (2, "vision-batch", 3),
        (24, "team-vision", 2),  # yesterday
        (24, "other-team-ns", 50),  # not the team's
    ]:
        GpuUsageHour.objects.create(
            cluster=cluster,
            hour=noon - timedelta(hours=hours_ago),
            gpu_product=H100,
            namespace=namespace,
            requested=requested,
        )
    points = selectors.team_history(team.pk, days=3, today=today)
    assert [(p.day, p.in_use) for p in points] == [
        (today - timedelta(days=2), 0),
        (today - timedelta(days=1), 2),
        (today, 9),
    ]
    assert second.name == "vision-batch"


def test_the_team_rows_count_the_pods_gpus_in_use(
    member: Any, team: Any, vision_ns: Any, cluster: Any
) -> None:
    NamespaceGpuUsage.objects.create(
        cluster=cluster,
        namespace="team-vision",
        gpu_product=H100,
        requested=5,
        pods=2,
        updated_at=timezone.now(),
    )
    make_request(vision_ns, member, status=S.ACTIVE, gpus=8)
    [row] = selectors.team_quota_rows(team.pk)
    assert (row.product, row.granted, row.in_use, row.allocatable) == (H100, 8, 5, 16)


def _demo_world() -> None:
    teams = {slug: TeamFactory(slug=slug) for slug in ("vision", "nlp", "recsys")}
    for name in ("ada", "grace"):
        UserFactory(username=name)
    platform_lead(username="lin")
    cluster = make_cluster("train-eu", capacity={H100: 32, "NVIDIA-A100-SXM4-80GB": 32})
    for slug, team in teams.items():
        make_namespace(cluster, team, f"team-{slug}")


def test_the_demo_seeds_requests_in_every_state_once() -> None:
    _demo_world()
    out = io.StringIO()
    demo.seed(out)
    demo.seed(out)
    statuses = dict(QuotaRequest.objects.values_list("submit_key", "status"))
    assert statuses["demo-recsys-h100"] == S.SUBMITTED
    assert statuses["demo-recsys-a100"] == S.APPLYING
    assert set(statuses.values()) == {
        S.ACTIVE,
        S.APPLYING,
        S.SUBMITTED,
        S.EXPIRED,
        S.REJECTED,
        S.CANCELLED,
    }
    assert QuotaRequest.objects.count() == 9  # not twice
    op = Operation.objects.get(kind="quotas.apply")
    assert op.status == "pending" and op.payload["namespace"] == "team-recsys"
    assert KueueFlavorMapping.objects.count() == 2
    assert "9 created" in out.getvalue() and "0 created" in out.getvalue()


def test_the_demo_skips_without_the_clusters_demo() -> None:
    out = io.StringIO()
    demo.seed(out)
    assert "skipped" in out.getvalue() and not QuotaRequest.objects.exists()
