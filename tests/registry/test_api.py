"""Registry API contracts: shapes, pagination tokens, bad input, token types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.services import create_token
from apps.registry.models import EvalResult, ModelAlias, ModelVersion, PromotionRequest
from tests.factories import MembershipFactory
from tests.registry.factories import (
    add_evals,
    make_model,
    make_policy,
    make_version,
    point_alias,
)

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/registered-models/"
VERSIONS = "/api/v1/model-versions/"
PROMOTIONS = "/api/v1/promotion-requests/"
ACCURACY = {"metric": "accuracy", "comparator": ">=", "threshold": 0.92, "dataset": "holdout"}


def _client(user: Any, team: Any = None) -> APIClient:
    issued = create_token(actor=user, name="t", team=team)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    return client


@pytest.fixture
def ci(maintainer: Any, team: Any) -> APIClient:
    """The team's CI: a team token."""
    return _client(maintainer, team)


@pytest.fixture
def model(team: Any) -> Any:
    return make_model(name="fraud", team=team)


# --- models ----------------------------------------------------------------------------------


def test_create_model_answers_201_in_the_mlflow_shape(ci: APIClient) -> None:
    response = ci.post(
        MODELS,
        {"name": "churn", "description": "d", "tags": [{"key": "task", "value": "churn"}]},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "churn"
    assert body["team"] == "vision"  # a team token's team is the default owner
    assert body["tags"] == [{"key": "task", "value": "churn"}]
    assert body["aliases"] == [] and body["latest_version"] is None
    assert isinstance(body["creation_timestamp"], int)


def test_duplicate_model_name_is_a_409_json_error(ci: APIClient, model: Any) -> None:
    response = ci.post(MODELS, {"name": "FRAUD"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "name" in response.json()["errors"]


def test_bad_model_name_is_a_400_naming_the_field(ci: APIClient) -> None:
    response = ci.post(MODELS, {"name": "has space"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_get_model_by_name_in_any_case(ci: APIClient, model: Any) -> None:
    response = ci.get(MODELS + "FRAUD/")
    assert response.status_code == 200
    assert response.json()["name"] == "fraud"


def test_unknown_model_is_a_404_json(ci: APIClient) -> None:
    response = ci.get(MODELS + "ghost/")
    assert response.status_code == 404
    assert response.json()["code"] == "registrynotfound"


def test_patch_replaces_tags_and_description(ci: APIClient, model: Any) -> None:
    response = ci.patch(
        MODELS + "fraud/", {"description": "new", "tags": {"a": "1"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["description"] == "new"
    assert response.json()["tags"] == [{"key": "a", "value": "1"}]


def test_model_search_pages_with_tokens_until_the_end(ci: APIClient, team: Any) -> None:
    for name in ["e", "a", "d", "c", "b"]:
        make_model(name=name, team=team)
    seen: list[str] = []
    token = ""
    for _ in range(5):
        query: dict[str, Any] = {"max_results": 2, "page_token": token}
        response = ci.get(MODELS, query)
        assert response.status_code == 200
        body = response.json()
        seen += [m["name"] for m in body["registered_models"]]
        token = body["next_page_token"]
        if not token:
            break

    assert seen == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_results": 0}, "max_results"),
        ({"max_results": "many"}, "max_results"),
        ({"max_results": 5000}, "max_results"),
        ({"page_token": "garbage!"}, "page_token"),
        ({"filter": "name ~ 'x'"}, "filter"),
        ({"filter": "colour = 'red'"}, "filter"),
        ({"filter": "run_id LIKE 'x%'"}, "filter"),
    ],
)
def test_bad_search_parameters_are_a_400_naming_them(
    ci: APIClient, params: dict[str, Any], field: str
) -> None:
    response = ci.get(MODELS, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_version_token_is_not_accepted_by_model_search(ci: APIClient, model: Any) -> None:
    for _ in range(3):
        make_version(model)
    token = ci.get(VERSIONS, {"max_results": 1}).json()["next_page_token"]
    assert ci.get(MODELS, {"page_token": token}).status_code == 400


def test_model_search_filters_by_name_pattern_tag_and_alias(ci: APIClient, team: Any) -> None:
    fraud = make_model(name="fraud-detector", team=team)
    make_model(name="feed-ranker", team=team)
    fraud.tags.create(key="task", value="classification")
    point_alias(fraud, "production", make_version(fraud))

    def names(flt: str) -> list[str]:
        body = ci.get(MODELS, {"filter": flt}).json()
        return [m["name"] for m in body["registered_models"]]

    assert names("name LIKE 'fraud%'") == ["fraud-detector"]
    assert names("name ILIKE '%RANK%'") == ["feed-ranker"]
    assert names("tags.task = 'classification'") == ["fraud-detector"]
    assert names("alias = 'production' AND name LIKE 'f%'") == ["fraud-detector"]
    assert names("name != 'fraud-detector'") == ["feed-ranker"]


def test_model_search_query_count_is_constant(ci: APIClient, team: Any) -> None:
    ci.get(MODELS)  # the token's first use writes last_used_at once

    def run(n: int) -> int:
        for _ in range(n):
            model = make_model(team=team)
            model.tags.create(key="k", value="v")
            point_alias(model, "champion", make_version(model))
        with CaptureQueriesContext(connection) as ctx:
            assert ci.get(MODELS, {"max_results": 100}).status_code == 200
        return len(ctx.captured_queries)

    assert run(2) == run(30)


# --- versions --------------------------------------------------------------------------------


def test_create_version_for_a_model_by_name(ci: APIClient, model: Any) -> None:
    response = ci.post(
        VERSIONS,
        {
            "name": "fraud",
            "source": "s3://b/1",
            "run_id": "r1",
            "run_link": "https://mlflow.example.com/r/1",
            "framework": "xgboost",
            "metadata": {"signature": {"inputs": "x"}},
            "tags": {"a": "1", "b": "2", "c": "3"},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    assert body["created_by"] == "svc-vision"
    assert body["tags"] == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "2"},
        {"key": "c", "value": "3"},
    ]
    assert body == ci.get(f"{VERSIONS}{body['id']}/").json()


def test_version_for_a_missing_model_is_a_404_json(ci: APIClient) -> None:
    response = ci.post(VERSIONS, {"name": "ghost", "source": "s3://x"}, format="json")
    assert response.status_code == 404
    assert response.json()["errors"] == {"name": ["No registered model is called 'ghost'."]}


def test_an_upload_names_the_model_in_any_case_and_is_audited(
    ci: APIClient, model: Any, team: Any
) -> None:
    from apps.audit.models import AuditEvent

    body = ci.post(VERSIONS, {"name": "FRAUD", "source": "s3://x"}, format="json").json()
    assert (body["name"], body["version"]) == ("fraud", 1)
    event = AuditEvent.objects.get(verb="registry.version_created")
    assert (event.actor_label, event.team_id, event.target_id) == (
        "svc-vision",
        team.pk,
        str(body["id"]),
    )


def test_an_operator_uploads_to_any_teams_model(op_user: Any, model: Any) -> None:
    response = _client(op_user).post(VERSIONS, {"name": "fraud", "source": "s3://x"})
    assert response.status_code == 201
    assert response.json()["created_by"] == op_user.username


def test_an_upload_is_two_statements_on_postgresql(ci: APIClient, model: Any) -> None:
    """Token (with the caller's roles), then one statement for model, number, version,
    tags and audit event; the once-a-minute last-used write is out of the count."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement upload is PostgreSQL's")
    ci.post(VERSIONS, {"name": "fraud", "source": "s3://warm"}, format="json")
    with CaptureQueriesContext(connection) as captured:
        response = ci.post(
            VERSIONS, {"name": "fraud", "source": "s3://x", "tags": {"k": "v"}}, format="json"
        )
    assert response.status_code == 201
    assert len(captured) == 2, [q["sql"][:80] for q in captured]


def test_version_without_source_is_a_400(ci: APIClient, model: Any) -> None:
    response = ci.post(VERSIONS, {"name": "fraud"}, format="json")
    assert response.status_code == 400
    assert "source" in response.json()["errors"]


def test_outsider_token_cannot_create_versions(outsider: Any, model: Any) -> None:
    response = _client(outsider).post(VERSIONS, {"name": "fraud", "source": "s3://x"})
    assert response.status_code == 403
    assert ModelVersion.objects.count() == 0


def test_version_search_by_name_run_id_tag_and_alias(ci: APIClient, model: Any) -> None:
    v1 = make_version(model, run_id="run-a")
    v2 = make_version(model, run_id="run-b")
    v2.tags.create(key="dataset", value="q3")
    point_alias(model, "champion", v1)
    other = make_model(team=model.team)
    make_version(other, run_id="run-a")

    def numbers(**params: Any) -> list[tuple[str, int]]:
        body = ci.get(VERSIONS, params).json()
        return [(v["name"], v["version"]) for v in body["model_versions"]]

    assert numbers(name="FRAUD") == [("fraud", 2), ("fraud", 1)]
    assert numbers(name="fraud", run_id="run-a") == [("fraud", 1)]
    assert numbers(tag="dataset=q3") == [("fraud", 2)]
    assert numbers(name="fraud", alias="champion") == [("fraud", 1)]
    assert numbers(filter="name = 'fraud' AND tags.dataset = 'q3'") == [("fraud", 2)]
    assert numbers(name="fraud", version="1") == [("fraud", 1)]
    assert numbers(name="ghost") == []


def test_version_search_pages_newest_first(ci: APIClient, model: Any) -> None:
    for _ in range(7):
        make_version(model)
    pages = []
    token = None
    while True:
        params: dict[str, Any] = {"name": "fraud", "max_results": 3}
        if token:
            params["page_token"] = token
        body = ci.get(VERSIONS, params).json()
        pages.append([v["version"] for v in body["model_versions"]])
        token = body["next_page_token"]
        if token is None:
            break

    assert pages == [[7, 6, 5], [4, 3, 2], [1]]


def test_version_search_query_count_is_constant(ci: APIClient, model: Any) -> None:
    ci.get(MODELS)  # the token's first use writes last_used_at once

    def run(n: int) -> int:
        for _ in range(n):
            version = make_version(model)
            version.tags.create(key="k", value="v")
        point_alias(model, "champion", version)
        with CaptureQueriesContext(connection) as ctx:
            body = ci.get(VERSIONS, {"name": "fraud", "max_results": "50"}).json()
            filtered = ci.get(VERSIONS, {"filter": "name = 'fraud' AND tags.k = 'v'"}).json()
        assert body["model_versions"] and filtered["model_versions"]
        return len(ctx.captured_queries)

    assert run(3) == run(60)


def test_version_patch_finishes_registration(ci: APIClient, model: Any) -> None:
    version = make_version(model, status="pending_registration")
    response = ci.patch(f"{VERSIONS}{version.pk}/", {"status": "ready"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    bad = ci.patch(f"{VERSIONS}{version.pk}/", {"status": "bogus"}, format="json")
    assert bad.status_code == 400


# --- aliases ---------------------------------------------------------------------------------


def test_set_get_and_delete_an_alias(ci: APIClient, model: Any) -> None:
    make_version(model)
    url = MODELS + "fraud/aliases/champion/"

    assert ci.put(url, {"version": 1}, format="json").status_code == 200
    got = ci.get(url)
    assert got.status_code == 200
    assert (got.json()["version"], got.json()["aliases"]) == (1, ["champion"])
    assert ci.get(MODELS + "fraud/").json()["aliases"] == [{"alias": "champion", "version": 1}]
    assert ci.delete(url).status_code == 204
    assert ci.get(url).status_code == 404


def test_unknown_alias_and_unknown_model_are_404s(ci: APIClient, model: Any) -> None:
    assert ci.get(MODELS + "fraud/aliases/ghost/").json()["errors"] == {
        "alias": ["Model fraud has no alias 'ghost'."]
    }
    assert ci.get(MODELS + "nope/aliases/champion/").status_code == 404


def test_alias_to_a_version_number_the_model_lacks_is_a_400(ci: APIClient, model: Any) -> None:
    other = make_model(team=model.team)
    make_version(other)
    response = ci.put(MODELS + "fraud/aliases/champion/", {"version": 1}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["errors"]


def test_protected_alias_cannot_be_set_through_the_api(ci: APIClient, model: Any) -> None:
    make_policy(model=model, rules=[])
    make_version(model)
    response = ci.put(MODELS + "fraud/aliases/production/", {"version": 1}, format="json")
    assert response.status_code == 403
    assert "protected" in response.json()["detail"]
    assert not ModelAlias.objects.exists()


# --- eval results ----------------------------------------------------------------------------


def test_eval_batch_is_created_and_listed(ci: APIClient, model: Any) -> None:
    version = make_version(model)
    url = f"{VERSIONS}{version.pk}/eval-results/"
    rows = [{"metric": "accuracy", "value": 0.9, "dataset": "holdout", "split": "test"}]

    response = ci.post(url, {"rows": rows}, format="json")

    assert response.status_code == 201
    assert response.json() == {"created": 1, "version_id": version.pk}
    assert ci.get(url).json()[0]["metric"] == "accuracy"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinite_row_rejects_the_batch_naming_its_index(
    ci: APIClient, model: Any, literal: str
) -> None:
    version = make_version(model)
    good = '{"metric": "accuracy", "value": 0.9}'
    body = '{"rows": [' + ", ".join([good] * 3) + f', {{"metric": "f1", "value": {literal}}}]}}'

    response = ci.post(
        f"{VERSIONS}{version.pk}/eval-results/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"rows": {"3": {"value": ["must be a finite number"]}}}
    assert EvalResult.objects.count() == 0


def test_eval_batch_that_is_not_a_list_is_a_400(ci: APIClient, model: Any) -> None:
    version = make_version(model)
    response = ci.post(f"{VERSIONS}{version.pk}/eval-results/", {"rows": "x"}, format="json")
    assert response.status_code == 400
    assert "rows" in response.json()["errors"]


def test_eval_results_for_an_unknown_version_are_a_404(ci: APIClient) -> None:
    response = ci.post(f"{VERSIONS}999/eval-results/", {"rows": []}, format="json")
    assert response.status_code == 404


# --- promotions and approvals ----------------------------------------------------------------


def _gated_version(model: Any, value: float) -> Any:
    make_policy(model=model, requires_approval=True, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=value)
    return version


def test_promotion_with_a_failing_gate_is_a_400_with_the_checklist(
    ci: APIClient, model: Any
) -> None:
    version = _gated_version(model, 0.8)

    response = ci.post(f"{VERSIONS}{version.pk}/promotions/", {"alias": "production"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "gate_failed"
    assert body["gate"]["checks"][0]["status"] == "failed"
    assert body["gate"]["checks"][0]["actual"] == 0.8
    assert PromotionRequest.objects.count() == 0


def test_gate_endpoint_shows_the_checklist(ci: APIClient, model: Any) -> None:
    version = _gated_version(model, 0.95)
    body = ci.get(f"{VERSIONS}{version.pk}/gate/", {"alias": "production"}).json()
    assert body["passed"] is True and body["protected"] is True
    assert ci.get(f"{VERSIONS}{version.pk}/gate/").status_code == 400


def test_promotion_is_submitted_then_a_lead_approves_with_a_personal_token(
    ci: APIClient, model: Any, lead: Any
) -> None:
    version = _gated_version(model, 0.95)
    created = ci.post(
        f"{VERSIONS}{version.pk}/promotions/", {"alias": "production", "reason": "better"}
    )
    assert created.status_code == 201
    assert created.json()["status"] == "submitted"
    req_id = created.json()["id"]

    approved = _client(lead).post(f"{PROMOTIONS}{req_id}/approve/", {"reason": "ok"})

    assert approved.status_code == 200
    assert approved.json()["status"] == "applied"
    assert approved.json()["decided_by"] == "lena"
    alias = ci.get(MODELS + "fraud/aliases/production/").json()
    assert alias["version"] == version.version


def test_team_tokens_cannot_approve_even_when_a_lead_issued_them(
    model: Any, member: Any, lead: Any, team: Any
) -> None:
    MembershipFactory(user=lead, team=team, role="maintainer")
    version = _gated_version(model, 0.95)
    req = _client(member).post(f"{VERSIONS}{version.pk}/promotions/", {"alias": "production"})

    response = _client(lead, team).post(f"{PROMOTIONS}{req.json()['id']}/approve/", {})

    assert response.status_code == 403
    assert "Team tokens" in response.json()["detail"]
    assert PromotionRequest.objects.get().status == "submitted"


def test_requester_cannot_approve_through_the_api(model: Any, member: Any, lead: Any) -> None:
    member.groups.add(*lead.groups.all())
    version = _gated_version(model, 0.95)
    client = _client(member)
    req = client.post(f"{VERSIONS}{version.pk}/promotions/", {"alias": "production"}).json()

    response = client.post(f"{PROMOTIONS}{req['id']}/approve/", {})

    assert response.status_code == 403


def test_reject_without_a_reason_is_a_400_and_with_one_a_200(
    ci: APIClient, model: Any, lead: Any
) -> None:
    version = _gated_version(model, 0.95)
    req = ci.post(f"{VERSIONS}{version.pk}/promotions/", {"alias": "production"}).json()
    lead_client = _client(lead)

    assert lead_client.post(f"{PROMOTIONS}{req['id']}/reject/", {}).status_code == 400
    rejected = lead_client.post(f"{PROMOTIONS}{req['id']}/reject/", {"reason": "no"})
    assert rejected.json()["status"] == "rejected"
    listed = ci.get(PROMOTIONS, {"status": "rejected"}).json()["promotion_requests"]
    assert [r["id"] for r in listed] == [req["id"]]


def test_promotion_target_must_be_an_alias_or_a_stage(ci: APIClient, model: Any) -> None:
    version = make_version(model)
    url = f"{VERSIONS}{version.pk}/promotions/"
    assert ci.post(url, {}).status_code == 400
    assert ci.post(url, {"alias": "a", "stage": "staging"}).status_code == 400
    assert ci.post(url, {"stage": "heaven"}).status_code == 400


# --- auth and schema -------------------------------------------------------------------------


def test_anonymous_requests_are_refused(model: Any) -> None:
    assert APIClient().get(MODELS).status_code in (401, 403)


def test_openapi_schema_describes_the_registry(client: Any, member: Any) -> None:
    client.force_login(member)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in [
        "/api/v1/registered-models/",
        "/api/v1/registered-models/{name}/aliases/{alias}/",
        "/api/v1/model-versions/",
        "/api/v1/model-versions/{id}/eval-results/",
        "/api/v1/model-versions/{id}/promotions/",
        "/api/v1/promotion-requests/{id}/approve/",
    ]:
        assert path in paths


def test_names_with_dots_resolve_in_the_api(ci: APIClient, team: Any) -> None:
    make_model(name="fraud.v2", team=team)
    assert ci.get(MODELS + "fraud.v2/").json()["name"] == "fraud.v2"


def test_search_answers_the_same_without_prepared_statements(
    ci: APIClient, model: Any, settings: Any
) -> None:
    version = make_version(model)
    version.tags.create(key="k", value="v")
    point_alias(model, "champion", version)
    prepared = ci.get(VERSIONS, {"name": "fraud"}).json()
    settings.DB_PREPARED_STATEMENTS = False
    assert ci.get(VERSIONS, {"name": "fraud"}).json() == prepared
    assert ci.get(MODELS + "fraud/aliases/champion/").json() == prepared["model_versions"][0]
