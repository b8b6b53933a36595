"""The live state of a model endpoint, read from the Kubernetes API sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from apps.catalog import services
from apps.catalog.models import Entity
from apps.clusters.models import Cluster
from tests.catalog.test_services import ENDPOINT, SYSTEM
from worker.kube import clear_client_cache
from worker.sandbox import seed
from worker.sandbox.pytest_plugin import k8s_sandbox_factory
from worker.sandbox.testing import Sandbox

__all__ = ["k8s_sandbox_factory"]

pytestmark = pytest.mark.django_db

ANNOTATIONS = (
    "    tarmac.io/cluster: serve-test\n    tarmac.io/namespace: vision-serving\n"
    "    serving.kserve.io/inferenceservice: {isvc}"
)


@pytest.fixture(autouse=True)
def _fresh_client_cache() -> Iterator[None]:
    clear_client_cache()
    yield
    clear_client_cache()


@pytest.fixture
def serving_cluster(k8s_sandbox_factory: Callable[..., Sandbox]) -> Cluster:
    sandbox = k8s_sandbox_factory(
        seed=[
            seed.namespace("vision-serving"),
            seed.inference_service("vision-serving", "detector", "s3://models/detector/v3"),
        ]
    )
    return Cluster.objects.create(
        name="serve-test",
        auth_method=Cluster.AuthMethod.NONE,
        api_url=sandbox.cluster_url("default"),
        timeout_seconds=5,
    )


def endpoint(ingest: Any, isvc: str) -> Entity:
    ingest(
        ENDPOINT.format(name="det", annotations=ANNOTATIONS.format(isvc=isvc)) + "---\n" + SYSTEM
    )
    return Entity.objects.get(name="det")


def test_live_state_of_the_inference_service_is_read_through_the_adapter(
    serving_cluster: Cluster, ingest: Any
) -> None:
    live = services.read_endpoint_state(endpoint(ingest, "detector"))
    assert live.error == ""
    assert live.state is not None
    assert live.state.storage_uri == "s3://models/detector/v3"
    assert live.state.namespace == "vision-serving"


def test_missing_object_and_unknown_cluster_are_explained(
    serving_cluster: Cluster, ingest: Any
) -> None:
    live = services.read_endpoint_state(endpoint(ingest, "nope"))
    assert live.error == (
        "InferenceService vision-serving/nope does not exist on cluster serve-test."
    )
    serving_cluster.name = "elsewhere"
    serving_cluster.save()
    live = services.read_endpoint_state(Entity.objects.get(name="det"))
    assert live.error == "Cluster serve-test is not registered in Tarmac."


def test_unreachable_cluster_is_an_error_not_a_crash(ingest: Any) -> None:
    Cluster.objects.create(
        name="serve-test", api_url="http://127.0.0.1:9/unreachable", timeout_seconds=1
    )
    live = services.read_endpoint_state(endpoint(ingest, "detector"))
    assert live.state is None
    assert "Reading InferenceService vision-serving/detector on cluster serve-test failed" in (
        live.error
    )


def test_entity_page_loads_the_live_panel_by_htmx(
    client: Client, member: Any, serving_cluster: Cluster, ingest: Any
) -> None:
    entity = endpoint(ingest, "detector")
    client.force_login(member)
    page = client.get(entity.get_absolute_url()).content.decode()
    assert f'hx-get="{entity.get_absolute_url()}endpoint/"' in page
    panel = client.get(f"{entity.get_absolute_url()}endpoint/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert "s3://models/detector/v3" in panel.content.decode()
    assert client.get("/catalog/entity/system/default/vision-serving/endpoint/").status_code == 404
