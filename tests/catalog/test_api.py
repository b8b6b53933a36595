"""The catalog API: filters, get by ref, ingest (with JSON errors), delete, export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from apps.accounts.models import Team
from apps.accounts.services import create_token
from apps.catalog import services
from apps.catalog.models import Entity
from tests.catalog.test_services import api, component

pytestmark = pytest.mark.django_db

Ingest = Callable[..., services.IngestResult]
LIST = "/api/v1/catalog/entities/"
INGEST = "/api/v1/catalog/entities/ingest/"


@pytest.fixture
def catalog(ingest: Ingest) -> None:
    ingest(
        component(
            "web-shop",
            owner="group:vision",
            meta="  tags: [java]\n",
            extra="  consumesApis: [billing]\n",
        )
        + "---\n"
        + component("batch-job", owner="team-a", meta="  tags: [python]\n")
        + "---\n"
        + api("billing", owner="group:vision")
    )


def authed(api_client: APIClient, user: Any) -> APIClient:
    api_client.force_authenticate(user)
    return api_client


def test_list_uses_the_same_filters_as_the_page(
    api_client: APIClient, outsider: Any, catalog: None
) -> None:
    client = authed(api_client, outsider)
    body = client.get(LIST, {"owner": "vision", "q": "shop"}).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["ref"] == "component:default/web-shop"
    assert row["owner"] == "group:default/vision" and row["owner_team"] == "vision"
    assert row["tags"] == ["java"] and row["orphaned"] is False
    assert client.get(LIST, {"tag": "python"}).json()["results"][0]["name"] == "batch-job"
    assert client.get(LIST, {"kind": "API"}).json()["count"] == 1


def test_get_by_ref_includes_descriptor_and_relations(
    api_client: APIClient, member: Any, catalog: None
) -> None:
    client = authed(api_client, member)
    body = client.get(LIST + "component:default/web-shop/").json()
    assert body["descriptor"]["spec"]["consumesApis"] == ["billing"]
    assert {"type": "consumesApi", "target_ref": "api:default/billing", "resolved": True} in (
        body["relations"]
    )
    # References compare case-insensitively.
    assert client.get(LIST + "Component:default/Web-Shop/").status_code == 200
    missing = client.get(LIST + "component:default/nope/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_export_returns_the_yaml_as_ingested(
    api_client: APIClient, member: Any, catalog: None
) -> None:
    response = authed(api_client, member).get(LIST + "api:default/billing/export/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["metadata"]["name"] == "billing"


def test_ingest_with_a_team_token(api_client: APIClient, maintainer: Any, team: Team) -> None:
    issued = create_token(actor=maintainer, name="ci", team=team)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    response = api_client.post(
        INGEST,
        {"yaml": component("from-ci", owner="group:vision"), "source_name": "ci"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == ["component:default/from-ci"]
    again = api_client.post(
        INGEST,
        {"yaml": component("from-ci", owner="group:vision"), "source_name": "ci"},
        format="json",
    )
    assert again.json()["unchanged"] == ["component:default/from-ci"]
    source = Entity.objects.get(name="from-ci").source
    assert source is not None and source.team == team


def test_invalid_file_is_a_json_400_with_document_line_and_field(
    api_client: APIClient, member: Any
) -> None:
    text = component("good") + "---\n" + component("bad name")
    response = authed(api_client, member).post(INGEST, {"yaml": text}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_descriptor"
    assert body["problems"][0] == {
        "document": 2,
        "line": 13,
        "field": "metadata.name",
        "message": '"bad name" is not a valid name (expected 1 to 63 characters: letters, digits '
        "and [-_.], starting and ending with a letter or digit)",
    }
    assert body["errors"]["metadata.name"][0].startswith("document 2, line 13")
    assert not Entity.objects.exists()


def test_ingest_changing_another_teams_entity_is_403_naming_it(
    api_client: APIClient, outsider: Any, other_team: Team, catalog: None
) -> None:
    client = authed(api_client, outsider)
    response = client.post(
        INGEST, {"yaml": component("web-shop", owner="nlp"), "team": "nlp"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["errors"] == {
        "component:default/web-shop": [
            "component:default/web-shop is owned by team vision: only its members and "
            "operators may change it."
        ]
    }


def test_ingest_without_yaml_is_a_validation_error(api_client: APIClient, member: Any) -> None:
    response = authed(api_client, member).post(INGEST, {}, format="json")
    assert response.status_code == 400 and "yaml" in response.json()["errors"]


def test_delete_needs_the_owning_team_or_an_operator(
    api_client: APIClient, member: Any, outsider: Any, op_user: Any, catalog: None
) -> None:
    url = LIST + "component:default/web-shop/"
    assert authed(api_client, outsider).delete(url).status_code == 403
    assert authed(api_client, member).delete(url).status_code == 204
    assert authed(api_client, op_user).delete(LIST + "api:default/billing/").status_code == 204
    assert list(Entity.objects.values_list("name", flat=True)) == ["batch-job"]


def test_anonymous_requests_are_refused(api_client: APIClient) -> None:
    assert api_client.get(LIST).status_code in (401, 403)


def test_locations_api_refuses_file_urls(api_client: APIClient, member: Any) -> None:
    response = authed(api_client, member).post(
        "/api/v1/catalog/locations/", {"url": "file:///etc/passwd", "team": "vision"}, format="json"
    )
    assert response.status_code == 400


def test_openapi_schema_describes_the_catalog(client: Any, member: Any) -> None:
    client.force_login(member)
    schema = client.get("/api/schema/?format=json").json()
    assert "/api/v1/catalog/entities/ingest/" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/v1/catalog/entities/"]["get"]["parameters"]}
    assert {"q", "kind", "owner", "tag", "orphaned", "scope"} <= params


def test_locations_api_registers_lists_and_unregisters(
    api_client: APIClient, member: Any, outsider: Any
) -> None:
    client = authed(api_client, member)
    created = client.post(
        "/api/v1/catalog/locations/",
        {"url": "https://git.example.com/vision/catalog-info.yaml", "team": "vision"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    location_id = created.json()["id"]
    assert created.json()["last_status"] == "never"
    assert client.get("/api/v1/catalog/locations/").json()["count"] == 1
    url = f"/api/v1/catalog/locations/{location_id}/"
    assert authed(api_client, outsider).delete(url).status_code == 403
    assert authed(api_client, member).delete(url).status_code == 204
