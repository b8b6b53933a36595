"""The Clusters page, its htmx fragment, a cluster's page and its action buttons."""

from __future__ import annotations

import types
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.clusters import inventory, services
from apps.clusters.models import Cluster, GpuUsageHour
from apps.core.errors import DomainError
from apps.core.models import Operation
from tests.clusters.conftest import FakeQuotas
from tests.clusters.factories import (
    A100,
    H100,
    L4,
    ClusterFactory,
    GpuCapacityFactory,
    GpuNodeFactory,
    TeamNamespaceFactory,
)
from tests.factories import TeamFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quotas")]

SECRET_TOKEN = "tok-3f9a-never-show-me"


def make_clusters(count: int, *, start: int = 0) -> list[Cluster]:
    """Clusters with two GPU products, two team namespaces and a few nodes each."""
    made = []
    for index in range(start, start + count):
        cluster = ClusterFactory.create(
            name=f"gpu-{index:03d}",
            last_sync_status="ok",
            last_sync_at=timezone.now(),
        )
        GpuCapacityFactory.create(cluster=cluster, gpu_product=H100, allocatable=64, requested=40)
        GpuCapacityFactory.create(
            cluster=cluster, gpu_product=A100, nodes=2, ready_nodes=1, allocatable=16, requested=3
        )
        for team_index in range(2):
            team = TeamFactory(slug=f"team-{(index + team_index) % 7}")
            TeamNamespaceFactory.create(cluster=cluster, team=team, name=f"ns-{team.slug}")
        for node in range(3):
            GpuNodeFactory.create(cluster=cluster, name=f"{cluster.name}-node-{node}")
        made.append(cluster)
    return made


def get_count(client: Client, url: str, **headers: Any) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return response, len(captured)


def test_clusters_page_shows_each_clusters_gpus_health_nodes_and_namespaces(
    client: Client, member: Any
) -> None:
    (cluster,) = make_clusters(1)
    client.force_login(member)

    response = client.get(reverse("clusters:list"))

    page = response.content.decode()
    assert response.status_code == 200
    assert str(cluster) in page and "Healthy" in page
    assert H100 in page and A100 in page
    assert ">64<" in page and ">40<" in page  # allocatable and requested H100
    assert "6 with GPUs: 5 ready" in page and "1 not ready" in page
    assert "ns-team-0" in page and "ns-team-1" in page
    assert 'hx-trigger="every 15s"' in page


def test_under_quota_shows_a_dash_while_grants_are_unknown(
    client: Client, member: Any, monkeypatch: Any
) -> None:
    make_clusters(1)
    client.force_login(member)
    monkeypatch.setattr(inventory, "QUOTAS_SELECTORS", "apps.quotas.no_such_module")
    page = client.get(reverse("clusters:list")).content.decode()
    assert "—" in page and "while quota grants are not available" in page


def test_under_quota_shows_the_quotas_apps_grants(
    client: Client, member: Any, quotas: FakeQuotas
) -> None:
    (cluster,) = make_clusters(1)
    client.force_login(member)
    quotas.grants[(cluster.pk, H100)] = 48

    page = client.get(reverse("clusters:list")).content.decode()

    assert ">48<" in page and "while quota grants are not available" not in page
    assert ">0<" in page  # A100 has no grant


def test_a_failing_cluster_shows_its_error_in_text(client: Client, member: Any) -> None:
    ClusterFactory.create(
        name="broken",
        last_sync_status="error",
        last_sync_at=timezone.now(),
        last_sync_error="Reading the GPU inventory on cluster broken failed: HTTP 403 Forbidden",
    )
    client.force_login(member)
    page = client.get(reverse("clusters:list")).content.decode()
    assert "Sync failing" in page and "HTTP 403 Forbidden" in page


def test_a_cluster_not_synced_for_a_while_is_shown_as_stale(client: Client, member: Any) -> None:
    ClusterFactory.create(
        name="old", last_sync_status="ok", last_sync_at=timezone.now() - timedelta(hours=2)
    )
    client.force_login(member)
    assert "Stale" in client.get(reverse("clusters:list")).content.decode()


def test_retired_clusters_are_not_listed(client: Client, member: Any) -> None:
    ClusterFactory.create(name="retired", is_active=False)
    client.force_login(member)
    assert "retired" not in client.get(reverse("clusters:list")).content.decode()


def test_htmx_refresh_returns_only_the_cluster_table(client: Client, member: Any) -> None:
    make_clusters(1)
    client.force_login(member)
    response = client.get(reverse("clusters:list"), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert '<div id="cluster-table"' in page and "<html" not in page
    assert H100 in page


def test_clusters_page_query_count_does_not_grow_with_clusters(client: Client, member: Any) -> None:
    make_clusters(5)
    client.force_login(member)
    url = reverse("clusters:list")
    client.get(url)  # warm the session
    _, small = get_count(client, url)
    make_clusters(45, start=5)
    response, large = get_count(client, url)
    assert response.content.decode().count("<article") == 50
    assert large == small
    _, fragment = get_count(client, url, HTTP_HX_REQUEST="true")
    assert fragment == small


def test_cluster_page_shows_gpus_namespaces_nodes_and_history(client: Client, member: Any) -> None:
    (cluster,) = make_clusters(1)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    for back in range(3):
        GpuUsageHour.objects.create(
            cluster=cluster,
            hour=hour - timedelta(hours=back),
            gpu_product=H100,
            allocatable=64,
            requested=30 + back,
        )
    client.force_login(member)

    response = client.get(reverse("clusters:detail", args=[cluster.name]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "gpu-000-node-0" in page and "ns-team-0" in page
    assert 'id="capacity-chart"' in page and "plotly.min.js" in page
    assert "The chart&#x27;s numbers (3 hours)" in page or "The chart's numbers (3 hours)" in page
    assert ">32<" in page  # requested two hours ago, in the table beside the chart
    assert "Sync now" not in page  # members do not get the buttons


def test_cluster_page_filters_nodes_and_history_by_product(client: Client, member: Any) -> None:
    cluster = ClusterFactory.create(name="mixed")
    GpuCapacityFactory.create(cluster=cluster, gpu_product=H100)
    GpuCapacityFactory.create(cluster=cluster, gpu_product=L4)
    GpuNodeFactory.create(cluster=cluster, name="h-node", gpu_product=H100)
    GpuNodeFactory.create(cluster=cluster, name="l-node", gpu_product=L4)
    client.force_login(member)
    page = client.get(reverse("clusters:detail", args=["mixed"]), {"product": L4}).content.decode()
    assert "l-node" in page and "h-node" not in page


def test_cluster_page_query_count_does_not_grow_with_nodes(client: Client, lead: Any) -> None:
    (cluster,) = make_clusters(1)
    client.force_login(lead)
    url = reverse("clusters:detail", args=[cluster.name])
    client.get(url)
    _, small = get_count(client, url)
    for node in range(120):
        GpuNodeFactory.create(cluster=cluster, name=f"more-{node:03d}")
    _, large = get_count(client, url)
    assert large == small


def test_unknown_cluster_is_a_404(client: Client, member: Any) -> None:
    client.force_login(member)
    assert client.get(reverse("clusters:detail", args=["nope"])).status_code == 404


def test_a_lead_syncs_now_and_sees_the_operations_live_status(client: Client, lead: Any) -> None:
    cluster = ClusterFactory.create(name="target")
    client.force_login(lead)
    page = client.get(reverse("clusters:detail", args=["target"])).content.decode()
    assert "Sync now" in page and "Test connection" in page

    response = client.post(reverse("clusters:sync", args=["target"]), HTTP_HX_REQUEST="true")

    op = Operation.objects.get(kind="clusters.sync_inventory")
    assert op.target_id == str(cluster.pk) and op.created_by == lead
    assert f'id="operation-{op.pk}"' in response.content.decode()
    assert 'hx-trigger="every 1s"' in response.content.decode()


def test_test_connection_without_htmx_redirects_to_the_operation(
    client: Client, op_user: Any
) -> None:
    ClusterFactory.create(name="target")
    client.force_login(op_user)
    response = client.post(reverse("clusters:test-connection", args=["target"]))
    op = Operation.objects.get(kind="clusters.test_connection")
    assert response.status_code == 302 and response["Location"] == f"/operations/{op.pk}/"


def test_members_may_not_sync_or_test(client: Client, member: Any) -> None:
    ClusterFactory.create(name="target")
    client.force_login(member)
    assert client.post(reverse("clusters:sync", args=["target"])).status_code == 403
    assert client.post(reverse("clusters:test-connection", args=["target"])).status_code == 403
    assert not Operation.objects.exists()


def test_actions_need_post(client: Client, lead: Any) -> None:
    ClusterFactory.create(name="target")
    client.force_login(lead)
    assert client.get(reverse("clusters:sync", args=["target"])).status_code == 405


def test_a_lead_creates_a_team_namespace_from_the_cluster_page(client: Client, lead: Any) -> None:
    tns = TeamNamespaceFactory.create(cluster=ClusterFactory.create(name="target"), name="team-new")
    client.force_login(lead)
    assert "Create or label team-new" in client.get("/clusters/target/").content.decode()

    client.post(reverse("clusters:namespace-ensure", args=["target", tns.pk]))

    op = Operation.objects.get(kind="clusters.ensure_namespace")
    assert op.target_id == str(tns.pk) and op.team == tns.team


def test_credentials_are_never_rendered(
    client: Client, lead: Any, op_user: Any, tmp_path: Any
) -> None:
    token_file = tmp_path / "cluster-token"
    token_file.write_text(SECRET_TOKEN)
    cluster = ClusterFactory.create(
        name="secret",
        auth_method=Cluster.AuthMethod.API_TOKEN,
        api_url="https://10.1.2.3:6443",
        token_file=str(token_file),
        ca_cert_path=str(tmp_path / "ca.crt"),
        last_sync_status="ok",
        last_sync_at=timezone.now(),
    )
    GpuCapacityFactory.create(cluster=cluster)
    TeamNamespaceFactory.create(cluster=cluster)
    client.force_login(lead)
    client.post(reverse("clusters:sync", args=["secret"]))
    op = Operation.objects.get()

    pages = [
        reverse("clusters:list"),
        reverse("clusters:detail", args=["secret"]),
        reverse("operation-detail", args=[op.pk]),
        reverse("operation-list"),
        reverse("audit:event-list"),
        reverse("api:clusters-cluster-list"),
        reverse("api:clusters-cluster-detail", args=["secret"]),
        reverse("api:clusters-cluster-capacity", args=["secret"]),
        reverse("api:clusters-namespace-list"),
        reverse("api:clusters-capacity-list"),
        reverse("api:operation-list"),
        reverse("api:auditevent-list"),
    ]
    for url in pages:
        body = client.get(url, HTTP_ACCEPT="application/json,text/html").content.decode()
        assert str(tmp_path) not in body, url
        assert SECRET_TOKEN not in body, url
        assert "10.1.2.3" not in body, url


def test_a_refused_action_shows_its_reason_in_place(
    client: Client, lead: Any, monkeypatch: Any
) -> None:
    ClusterFactory.create(name="target")
    client.force_login(lead)

    def refuse(cluster: Cluster, *, actor: Any) -> Operation:
        raise DomainError("Cluster target is being retired.")

    monkeypatch.setattr(services, "request_inventory_sync", refuse)
    response = client.post(reverse("clusters:sync", args=["target"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'role="alert">Cluster target is being retired.' in response.content.decode()


def test_quota_drift_from_the_quotas_app_is_shown_on_both_pages(
    client: Client, member: Any, quotas: FakeQuotas
) -> None:
    (cluster,) = make_clusters(1)
    quotas.drifted.append(
        types.SimpleNamespace(
            cluster_id=cluster.pk,
            namespace="ns-team-0",
            desired_gpus=8,
            observed_gpus=64,
            drifted_at=timezone.now(),
            detail="edited with kubectl",
        )
    )
    client.force_login(member)

    listing = client.get(reverse("clusters:list")).content.decode()
    detail = client.get(reverse("clusters:detail", args=[cluster.name])).content.decode()

    assert "Quota drift" in listing and "1 namespace</strong> differs" in listing
    assert "edited with kubectl" in detail and ">64<" in detail
