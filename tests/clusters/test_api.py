"""The clusters API: clusters and capacity (no credential fields), team namespaces, actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import create_token
from apps.clusters.models import Cluster
from apps.core.models import Operation
from tests.clusters.conftest import FakeQuotas
from tests.clusters.factories import (
    A100,
    H100,
    ClusterFactory,
    GpuCapacityFactory,
    TeamNamespaceFactory,
)
from tests.factories import TeamFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quotas")]

CREDENTIAL_KEYS = {"api_url", "token_file", "kubeconfig_path", "kube_context", "ca_cert_path"}


def token_client(user: Any, *, team: Any = None) -> APIClient:
    issued = create_token(actor=user, name="test", team=team, expires_in_days=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    return client


@pytest.fixture
def train(db: Any, team: Any) -> Cluster:
    cluster = ClusterFactory.create(
        name="train-eu",
        auth_method=Cluster.AuthMethod.API_TOKEN,
        api_url="https://10.0.0.1:6443",
        token_file="/var/run/secrets/train-eu/token",
        last_sync_status="ok",
        last_sync_at=timezone.now(),
    )
    GpuCapacityFactory.create(cluster=cluster, gpu_product=H100, allocatable=32, requested=12)
    GpuCapacityFactory.create(cluster=cluster, gpu_product=A100, allocatable=16, requested=16)
    TeamNamespaceFactory.create(cluster=cluster, team=team, name="team-vision")
    return cluster


def test_clusters_list_has_capacity_and_namespaces_but_no_credentials(
    member: Any, train: Cluster
) -> None:
    response = token_client(member).get(reverse("api:clusters-cluster-list"))

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["name"] == "train-eu" and row["health"] == "ok"
    assert {c["gpu_product"]: c["allocatable"] for c in row["capacities"]} == {H100: 32, A100: 16}
    assert row["namespaces"] == [
        {"id": row["namespaces"][0]["id"], "name": "team-vision", "team": "vision"}
    ]
    assert not CREDENTIAL_KEYS & set(row)
    assert "secrets" not in response.content.decode()


def test_cluster_detail_by_name(member: Any, train: Cluster) -> None:
    response = token_client(member).get(reverse("api:clusters-cluster-detail", args=["train-eu"]))
    assert response.status_code == 200 and response.json()["name"] == "train-eu"
    assert not CREDENTIAL_KEYS & set(response.json())


def test_capacity_gives_free_and_granted_gpus_per_product(
    member: Any, train: Cluster, quotas: FakeQuotas
) -> None:
    quotas.grants[(train.pk, H100)] = 24

    response = token_client(member).get(reverse("api:clusters-cluster-capacity", args=["train-eu"]))

    body = response.json()
    products = {p["gpu_product"]: p for p in body["products"]}
    assert products[H100] == {
        "gpu_product": H100,
        "nodes": 4,
        "ready_nodes": 4,
        "allocatable": 32,
        "requested": 12,
        "free": 20,
        "granted": 24,
    }
    assert products[A100]["free"] == 0 and products[A100]["granted"] == 0


def test_clusters_list_query_count_does_not_grow(member: Any, train: Cluster) -> None:
    client = token_client(member)
    url = reverse("api:clusters-cluster-list")
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for index in range(20):
        cluster = ClusterFactory.create(name=f"more-{index}")
        GpuCapacityFactory.create(cluster=cluster)
        TeamNamespaceFactory.create(cluster=cluster)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get(url).json()["results"]) == 21
    assert len(large) == len(small)


def test_namespaces_filter_by_team_and_cluster(member: Any, train: Cluster) -> None:
    other = TeamFactory(slug="nlp")
    serve = ClusterFactory.create(name="serve-us")
    TeamNamespaceFactory.create(cluster=serve, team=other, name="team-nlp")
    TeamNamespaceFactory.create(cluster=train, team=other, name="team-nlp")
    client = token_client(member)
    url = reverse("api:clusters-namespace-list")

    by_team = client.get(url, {"team": "nlp"}).json()["results"]
    assert {(n["cluster"], n["name"]) for n in by_team} == {
        ("serve-us", "team-nlp"),
        ("train-eu", "team-nlp"),
    }
    both = client.get(url, {"team": "nlp", "cluster": "serve-us"}).json()["results"]
    assert [(n["cluster"], n["name"], n["team"]) for n in both] == [("serve-us", "team-nlp", "nlp")]


def test_capacity_list_filters_by_product(member: Any, train: Cluster) -> None:
    rows = token_client(member).get(reverse("api:clusters-capacity-list"), {"gpu_product": A100})
    assert [(r["cluster"], r["gpu_product"]) for r in rows.json()["results"]] == [
        ("train-eu", A100)
    ]


def test_a_lead_queues_a_sync_through_the_api(lead: Any, train: Cluster) -> None:
    response = token_client(lead).post(
        reverse("api:clusters-cluster-sync", args=["train-eu"]), {"reason": "after upgrade"}
    )
    assert response.status_code == 202
    op = Operation.objects.get(pk=response.json()["id"])
    assert op.kind == "clusters.sync_inventory" and response.json()["status"] == "pending"


def test_a_member_may_not_queue_a_connection_test(member: Any, train: Cluster) -> None:
    response = token_client(member).post(
        reverse("api:clusters-cluster-test-connection", args=["train-eu"])
    )
    assert response.status_code == 403 and response.json()["code"] == "notallowed"
    assert not Operation.objects.exists()


def test_an_operator_ensures_a_namespace_through_the_api(op_user: Any, train: Cluster) -> None:
    tns = train.namespaces.get()
    response = token_client(op_user).post(reverse("api:clusters-namespace-ensure", args=[tns.pk]))
    assert response.status_code == 202
    assert response.json()["kind"] == "clusters.ensure_namespace"
    assert response.json()["team"] == "vision"


def test_an_unknown_cluster_is_a_json_404(member: Any) -> None:
    response = token_client(member).get(reverse("api:clusters-cluster-detail", args=["ghost"]))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_anonymous_requests_are_refused(db: Any) -> None:
    assert APIClient().get(reverse("api:clusters-cluster-list")).status_code in (401, 403)
