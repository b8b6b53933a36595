"""Malformed API requests get a 4xx with a JSON body, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.models import Operation

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(lead: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(lead)
    return client


def test_malformed_json_is_a_400_with_a_json_body(api: APIClient) -> None:
    op = Operation.objects.create(kind="core.health_check", status="failed")
    response = api.post(
        f"/api/v1/operations/{op.pk}/retry/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_wrong_method_is_a_405_with_a_json_body(api: APIClient) -> None:
    response = api.delete("/api/v1/me/")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")


def test_a_missing_object_is_a_json_404(api: APIClient) -> None:
    response = api.get("/api/v1/operations/999999/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_bad_filter_value_is_a_json_400(api: APIClient) -> None:
    response = api.get("/api/v1/audit-events/", {"since": "yesterday-ish"})
    assert response.status_code == 400
    assert "since" in response.json()["errors"]


def test_a_bad_page_size_or_cursor_does_not_break(api: APIClient) -> None:
    assert api.get("/api/v1/audit-events/", {"cursor": "garbage"}).status_code == 404
    assert api.get("/api/v1/teams/", {"page": "abc"}).status_code == 404
    assert api.get("/api/v1/teams/", {"page_size": "-3"}).status_code == 200


def test_an_illegal_transition_is_a_json_400(api: APIClient) -> None:
    op = Operation.objects.create(kind="core.health_check", status="succeeded")
    response = api.post(f"/api/v1/operations/{op.pk}/retry/", {})
    assert response.status_code == 400
    assert "failed" in response.json()["detail"]


def test_the_openapi_schema_describes_the_api(api: APIClient) -> None:
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/me/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/v1/operations/?kind=a%00b", None),
        ("get", "/api/v1/catalog/entities/component:default/a%00b/", None),
        ("post", "/api/v1/registered-models/", '{"name": "a\\u0000b"}'),
        ("post", "/api/v1/registered-models/", '{"name": "ok", "tags": {"k": "v\\u0000"}}'),
    ],
)
def test_a_nul_character_anywhere_is_a_json_400(
    api: APIClient, method: str, url: str, body: str | None
) -> None:
    if body is None:
        response = getattr(api, method)(url)
    else:
        response = getattr(api, method)(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]
