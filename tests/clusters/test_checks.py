"""System checks: active clusters whose credential files cannot be read."""

from __future__ import annotations

from typing import Any

import pytest

from apps.clusters.checks import check_cluster_credentials
from apps.clusters.models import Cluster
from tests.clusters.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def test_an_unreadable_token_file_is_a_warning_naming_the_cluster(tmp_path: Any) -> None:
    ClusterFactory.create(
        name="train-eu",
        auth_method=Cluster.AuthMethod.API_TOKEN,
        token_file=str(tmp_path / "missing-token"),
    )
    (warning,) = check_cluster_credentials(None)
    assert warning.id == "clusters.W002"
    assert "train-eu" in warning.msg


def test_a_readable_token_file_passes_and_its_content_is_never_reported(tmp_path: Any) -> None:
    token = tmp_path / "token"
    token.write_text("super-secret-token")
    ClusterFactory.create(
        name="ok", auth_method=Cluster.AuthMethod.API_TOKEN, token_file=str(token)
    )
    assert check_cluster_credentials(None) == []


def test_an_unreadable_kubeconfig_and_ca_file_are_warnings(tmp_path: Any) -> None:
    ClusterFactory.create(
        name="kc",
        auth_method=Cluster.AuthMethod.KUBECONFIG,
        kubeconfig_path=str(tmp_path / "nope.yaml"),
        ca_cert_path=str(tmp_path / "ca.crt"),
    )
    assert {w.id for w in check_cluster_credentials(None)} == {"clusters.W003", "clusters.W004"}


def test_a_token_cluster_without_a_token_file_is_a_warning() -> None:
    ClusterFactory.create(name="bare", auth_method=Cluster.AuthMethod.API_TOKEN, token_file="")
    assert [w.id for w in check_cluster_credentials(None)] == ["clusters.W001"]


def test_retired_clusters_are_not_checked(tmp_path: Any) -> None:
    ClusterFactory.create(
        name="old",
        is_active=False,
        auth_method=Cluster.AuthMethod.API_TOKEN,
        token_file=str(tmp_path / "missing"),
    )
    assert check_cluster_credentials(None) == []


def test_the_check_is_registered() -> None:
    from django.core.checks import registry

    assert check_cluster_credentials in registry.registry.get_checks()
