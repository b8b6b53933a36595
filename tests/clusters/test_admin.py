"""The admin console: cluster and namespace actions, the cluster form, audited edits
that never copy a credential location."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.models import Operation
from tests.clusters.factories import ClusterFactory, TeamNamespaceFactory

pytestmark = pytest.mark.django_db

TOKEN_TEXT = "eyJhbGciOi-never-shown"


@pytest.fixture
def admin_client(client: Client, op_user: Any) -> Client:
    client.force_login(op_user)
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "gpu-west",
        "display_name": "GPU West",
        "description": "",
        "region": "us-west1",
        "is_active": "on",
        "auth_method": "api_token",
        "api_url": "https://10.0.0.1:6443",
        "token_file": "/var/run/secrets/gpu-west/token",
        "kubeconfig_path": "",
        "kube_context": "",
        "ca_cert_path": "",
        "verify_ssl": "on",
        "timeout_seconds": "10",
        "gpu_products": '["NVIDIA-H100-80GB-HBM3"]',
        "drift_policy": "restore",
        "namespaces-TOTAL_FORMS": "0",
        "namespaces-INITIAL_FORMS": "0",
        "namespaces-MIN_NUM_FORMS": "0",
        "namespaces-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_test_connection_action_records_an_operation(admin_client: Client, op_user: Any) -> None:
    cluster = ClusterFactory.create(name="train-eu")
    response = admin_client.post(
        reverse("admin:clusters_cluster_changelist"),
        {"action": "test_connection_action", "_selected_action": [cluster.pk]},
        follow=True,
    )
    op = Operation.objects.get()
    assert (op.kind, op.target_id, op.created_by) == (
        "clusters.test_connection",
        str(cluster.pk),
        op_user,
    )
    page = response.content.decode()
    assert "Connection test queued: operation" in page
    assert f'<a href="/operations/{op.pk}/">#{op.pk}</a>' in page
    assert AuditEvent.objects.filter(verb="clusters.connection_test_requested").exists()


def test_sync_action_queues_one_operation_per_cluster(admin_client: Client) -> None:
    clusters = [ClusterFactory.create(name=f"c-{i}") for i in range(3)]
    admin_client.post(
        reverse("admin:clusters_cluster_changelist"),
        {"action": "sync_inventory_action", "_selected_action": [c.pk for c in clusters]},
    )
    assert Operation.objects.filter(kind="clusters.sync_inventory").count() == 3


def test_create_namespace_action_queues_ensure_namespace(admin_client: Client) -> None:
    tns = TeamNamespaceFactory.create(name="team-new")
    admin_client.post(
        reverse("admin:clusters_teamnamespace_changelist"),
        {"action": "ensure_on_cluster_action", "_selected_action": [tns.pk]},
    )
    op = Operation.objects.get()
    assert op.kind == "clusters.ensure_namespace" and op.payload["namespace"] == "team-new"


def test_change_page_shows_the_token_file_path_but_never_the_token(
    admin_client: Client, tmp_path: Any
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN_TEXT)
    cluster = ClusterFactory.create(
        name="secret", auth_method=Cluster.AuthMethod.API_TOKEN, token_file=str(token_file)
    )
    page = admin_client.get(reverse("admin:clusters_cluster_change", args=[cluster.pk]))
    assert str(token_file) in page.content.decode()
    assert TOKEN_TEXT not in page.content.decode()


def test_adding_a_cluster_is_audited_with_credential_locations_fingerprinted(
    admin_client: Client,
) -> None:
    response = admin_client.post(reverse("admin:clusters_cluster_add"), form_data())
    assert response.status_code == 302, response.content.decode()[:2000]

    cluster = Cluster.objects.get(name="gpu-west")
    event = AuditEvent.objects.get(verb="admin.created", target_type="clusters.cluster")
    assert event.after is not None
    assert event.after["token_file"].startswith("set, sha256:")
    assert "/var/run/secrets" not in str(event.after)
    assert cluster.gpu_products == ["NVIDIA-H100-80GB-HBM3"]


def test_changing_the_token_file_shows_as_a_changed_fingerprint(admin_client: Client) -> None:
    admin_client.post(reverse("admin:clusters_cluster_add"), form_data())
    cluster = Cluster.objects.get(name="gpu-west")
    admin_client.post(
        reverse("admin:clusters_cluster_change", args=[cluster.pk]),
        form_data(token_file="/var/run/secrets/gpu-west/rotated"),
    )
    event = AuditEvent.objects.get(verb="admin.changed", target_type="clusters.cluster")
    assert event.before and event.after
    assert event.before["token_file"] != event.after["token_file"]
    assert "rotated" not in str(event.after)


def test_deleting_a_cluster_is_audited_without_its_paths(admin_client: Client) -> None:
    cluster = ClusterFactory.create(name="gone", token_file="/secrets/gone-token")
    admin_client.post(reverse("admin:clusters_cluster_delete", args=[cluster.pk]), {"post": "yes"})
    event = AuditEvent.objects.get(verb="admin.deleted", target_type="clusters.cluster")
    assert not Cluster.objects.filter(name="gone").exists()
    assert "/secrets/gone-token" not in str(event.before)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"api_url": ""}, "api_url", "needs the API server"),
        ({"token_file": ""}, "token_file", "Name the file"),
        ({"auth_method": "in_cluster"}, "token_file", "only used with the API token"),
        ({"gpu_products": '"H100"'}, "gpu_products", "Give a list"),
        ({"name": "Not A Label"}, "name", ""),
    ],
)
def test_the_cluster_form_refuses_incomplete_connections(
    admin_client: Client, overrides: dict[str, str], field: str, message: str
) -> None:
    response = admin_client.post(reverse("admin:clusters_cluster_add"), form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field])
    assert not Cluster.objects.exists()


def test_team_namespace_edits_are_audited(admin_client: Client, team: Any) -> None:
    cluster = ClusterFactory.create(name="train-eu")
    admin_client.post(
        reverse("admin:clusters_teamnamespace_add"),
        {"cluster": cluster.pk, "team": team.pk, "name": "team-vision"},
    )
    tns = TeamNamespace.objects.get()
    assert AuditEvent.objects.filter(
        verb="admin.created", target_type="clusters.teamnamespace", target_id=str(tns.pk), team=team
    ).exists()


def test_inventory_rows_are_read_only(admin_client: Client) -> None:
    assert admin_client.get(reverse("admin:clusters_gpunode_changelist")).status_code == 200
    assert admin_client.get("/admin/clusters/gpunode/add/").status_code == 403
