"""The API answers as its OpenAPI schema says: every status documented, every body valid.

The demo data (``seed_demo``) gives each endpoint real rows, including the empty parts a
client must expect (a personal token has no team, a system operation no creator, an
undecided request no decider). Each GET is called as an operator, each call anonymously,
each detail with a missing object and each body with malformed JSON; every answer must be
a status the schema lists for that operation, with a body that its schema accepts.
"""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, Team
from apps.accounts.services import create_token
from apps.audit.models import AuditEvent
from apps.catalog.models import Entity, Location
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.models import Operation
from apps.quotas.models import QuotaRequest
from apps.registry.models import ModelAlias, ModelVersion, PromotionRequest
from tests.factories import operator

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
# Query parameters an operation needs to answer 200.
QUERY = {"/api/v1/model-versions/{id}/gate/": {"alias": "production"}}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.fixture
def staff(db: Any) -> Any:
    return operator()


@pytest.fixture
def demo(staff: Any) -> None:
    """The demo data, plus what it lacks: a personal token, a never-read location and an
    operation that the system started for no team."""
    call_command("seed_demo", stdout=StringIO())
    Operation.objects.create(kind="core.health_check", status="succeeded")
    create_token(actor=staff, name="laptop")
    Location.objects.create(
        url="https://git.example.com/ml/catalog-info.yaml", team=Team.objects.order_by("pk")[0]
    )


@pytest.fixture
def op_api(demo: None, staff: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
        if method in METHODS
    ]


def path_values(path: str) -> dict[str, str]:
    """Real values for a path's parameters, taken from the demo data."""
    alias = ModelAlias.objects.select_related("model").first()
    assert alias is not None
    first_pk = {
        "/api/v1/audit-events/": AuditEvent,
        "/api/v1/catalog/locations/": Location,
        "/api/v1/model-versions/": ModelVersion,
        "/api/v1/operations/": Operation,
        "/api/v1/promotion-requests/": PromotionRequest,
        "/api/v1/quota-requests/": QuotaRequest,
        "/api/v1/team-namespaces/": TeamNamespace,
        "/api/v1/tokens/": ApiToken,
    }
    values = {
        "alias": alias.alias,
        "slug": Team.objects.order_by("pk").values_list("slug", flat=True)[0],
        "ref": Entity.objects.order_by("pk").values_list("ref", flat=True)[0],
        "name": (
            alias.model.name
            if path.startswith("/api/v1/registered-models/")
            else Cluster.objects.order_by("pk").values_list("name", flat=True)[0]
        ),
    }
    for prefix, model in first_pk.items():
        if path.startswith(prefix):
            values["id"] = str(
                model._default_manager.order_by("pk").values_list("pk", flat=True)[0]
            )
    return values


def url_for(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def problems_with(spec: dict[str, Any], op: dict[str, Any], response: Any, what: str) -> list[str]:
    """Why this answer is not one the schema documents for the operation (none: it is)."""
    status = str(response.status_code)
    documented = op["responses"]
    if status not in documented:
        return [f"{what}: {status} is not documented ({sorted(documented)})"]
    content = documented[status].get("content", {})
    if "application/json" not in content or not response.content:
        return []
    schema = {"components": spec["components"], "allOf": [content["application/json"]["schema"]]}
    errors = OAS30Validator(schema).iter_errors(json.loads(response.content))
    broken = {f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors}
    return [f"{what}: {status} body breaks its schema at {b}" for b in sorted(broken)[:3]]


def test_every_operation_documents_its_error_answers(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, op in operations(spec):
        expected = {"401", "403"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in op:
            expected.add("400")
        if expected - set(op["responses"]):
            missing.append(f"{method.upper()} {path}: {sorted(expected - set(op['responses']))}")
    assert not missing, "\n".join(missing)


def test_every_get_answers_as_documented(spec: dict[str, Any], op_api: APIClient) -> None:
    reads = [(path, op) for path, method, op in operations(spec) if method == "get"]
    assert len(reads) > 25
    problems: list[str] = []
    for path, op in reads:
        url = url_for(path, path_values(path))
        response = op_api.get(url, QUERY.get(path, {}))
        if response.status_code != 200:
            problems.append(f"GET {url}: {response.status_code}")
        problems += problems_with(spec, op, response, f"GET {url}")
    assert not problems, "\n".join(problems)


def test_a_missing_object_answers_as_documented(spec: dict[str, Any], op_api: APIClient) -> None:
    problems: list[str] = []
    for path, method, op in operations(spec):
        if method != "get" or "{" not in path:
            continue
        missing = {key: "999999" for key in ("id", "alias", "slug", "name")}
        missing["ref"] = "component:default/no-such-entity"
        values = {**path_values(path), **missing}
        if "{alias}" in path:  # a real model, a missing alias
            values["name"] = path_values(path)["name"]
        url = url_for(path, values)
        response = op_api.get(url)
        if response.status_code != 404:
            problems.append(f"GET {url}: {response.status_code}")
        problems += problems_with(spec, op, response, f"GET {url}")
    assert not problems, "\n".join(problems)


def test_an_anonymous_caller_gets_a_documented_401(spec: dict[str, Any], demo: None) -> None:
    anonymous = APIClient()
    problems: list[str] = []
    for path, method, op in operations(spec):
        url = url_for(path, path_values(path))
        response = getattr(anonymous, method)(url)
        if response.status_code != 401:
            problems.append(f"{method.upper()} {url}: {response.status_code}")
        problems += problems_with(spec, op, response, f"{method.upper()} {url}")
    assert not problems, "\n".join(problems)


def test_a_malformed_body_gets_a_documented_400(spec: dict[str, Any], op_api: APIClient) -> None:
    writes = [(p, m, op) for p, m, op in operations(spec) if "requestBody" in op]
    assert len(writes) > 15
    problems: list[str] = []
    for path, method, op in writes:
        url = url_for(path, path_values(path))
        response = getattr(op_api, method)(url, data="{not json", content_type="application/json")
        if response.status_code != 400:
            problems.append(f"{method.upper()} {url}: {response.status_code}")
        problems += problems_with(spec, op, response, f"{method.upper()} {url}")
    assert not problems, "\n".join(problems)
