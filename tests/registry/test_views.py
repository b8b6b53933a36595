"""Registry pages: list with filters, model, version with gate checklist, compare, trend,
promotion requests; constant query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.registry import services
from apps.registry.models import (
    ModelAlias,
    PromotionPolicy,
    PromotionRequest,
    RegisteredModel,
)
from tests.factories import TeamFactory
from tests.registry.factories import (
    add_evals,
    make_model,
    make_policy,
    make_version,
    point_alias,
)

pytestmark = pytest.mark.django_db

ACCURACY = {"metric": "accuracy", "comparator": ">=", "threshold": 0.92, "dataset": "holdout"}


@pytest.fixture
def model(team: Any) -> Any:
    return make_model(name="fraud", team=team)


@pytest.fixture
def member_client(client: Client, member: Any) -> Client:
    client.force_login(member)
    return client


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# --- model list ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/models/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_model_list_shows_models_with_aliases_and_tags(member_client: Client, model: Any) -> None:
    model.tags.create(key="task", value="fraud")
    point_alias(model, "champion", make_version(model))

    page = member_client.get("/models/").content.decode()

    assert "fraud" in page
    assert "champion → v1" in page
    assert "task=fraud" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=FRA", ["fraud"]),
        ("team=nlp", ["ranker"]),
        ("tag=task=fraud", ["fraud"]),
        ("tag=task", ["fraud"]),
        ("has_production=true", ["ranker"]),
        ("has_production=false", ["fraud"]),
        ("stage=staging", ["fraud"]),
        ("framework=lightgbm", ["ranker"]),
    ],
)
def test_model_list_filters(
    member_client: Client, model: Any, other_team: Any, query: str, expected: list[str]
) -> None:
    model.tags.create(key="task", value="fraud")
    make_version(model, stage="staging", framework="xgboost")
    ranker = make_model(name="ranker", team=other_team)
    point_alias(ranker, "production", make_version(ranker, framework="lightgbm"))

    page = member_client.get(f"/models/?{query}").content.decode()

    shown = [name for name in ("fraud", "ranker") if f">{name}</a>" in page]
    assert shown == expected


def test_model_list_sorts_by_last_update_then_name(member_client: Client, team: Any) -> None:
    old = make_model(name="b-old", team=team)
    make_model(name="a-new", team=team)
    RegisteredModel.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")

    newest_first = member_client.get("/models/").content.decode()
    by_name = member_client.get("/models/?sort=name").content.decode()
    oldest_first = member_client.get("/models/?sort=updated").content.decode()

    assert newest_first.index("a-new") < newest_first.index("b-old")
    assert by_name.index("a-new") < by_name.index("b-old")
    assert oldest_first.index("b-old") < oldest_first.index("a-new")


def test_model_list_htmx_request_returns_only_the_table(member_client: Client, model: Any) -> None:
    response = member_client.get("/models/?q=fr", HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content
    assert b"fraud" in response.content


def test_model_list_query_count_is_constant(member_client: Client, team: Any) -> None:
    def grow(n: int) -> None:
        for _ in range(n):
            m = make_model(team=team)
            m.tags.create(key="k", value="v")
            point_alias(m, "champion", make_version(m))

    grow(2)
    small = _queries(member_client, "/models/?tag=k")
    grow(30)
    assert _queries(member_client, "/models/?tag=k") == small


# --- model page ------------------------------------------------------------------------------


def test_model_page_shows_aliases_policies_versions_and_history(
    member_client: Client, model: Any, member: Any
) -> None:
    v1 = make_version(model)
    add_evals(v1, accuracy=0.95)
    make_policy(model=model, requires_approval=True, rules=[ACCURACY])
    services.set_alias(model, "champion", v1, actor=member, reason="first")

    page = member_client.get("/models/fraud/").content.decode()

    assert "Yes — promotion policy" not in page  # champion is not protected
    assert "accuracy &gt;= 0.92 on holdout" in page
    assert "a platform lead must approve" in page
    assert "v1" in page
    assert "first" in page  # the alias move's reason in the history


def test_model_page_is_found_in_any_case_and_404s_otherwise(
    member_client: Client, model: Any
) -> None:
    assert member_client.get("/models/FRAUD/").status_code == 200
    assert member_client.get("/models/ghost/").status_code == 404


def test_model_page_versions_are_paginated_with_constant_queries(
    member_client: Client, model: Any
) -> None:
    for _ in range(3):
        point_alias(model, "champion", make_version(model))
    small = _queries(member_client, "/models/fraud/")
    for _ in range(40):
        version = make_version(model)
        add_evals(version, accuracy=0.9)
    point_alias(model, "champion", version)

    assert _queries(member_client, "/models/fraud/") == small
    second = member_client.get("/models/fraud/?page=2", HTTP_HX_REQUEST="true")
    assert b">v18</a>" in second.content


def test_member_sets_an_alias_from_the_model_page(member_client: Client, model: Any) -> None:
    make_version(model)
    response = member_client.post("/models/fraud/aliases/", {"alias": "champion", "version": 1})
    assert response.status_code == 302
    assert ModelAlias.objects.get(model=model, alias="champion").version.version == 1


def test_setting_a_protected_alias_from_the_page_shows_why_not(
    member_client: Client, model: Any
) -> None:
    make_version(model)
    make_policy(model=model, rules=[])
    response = member_client.post("/models/fraud/aliases/", {"alias": "production", "version": 1})
    assert response.status_code == 400
    assert "protected by a promotion policy" in response.content.decode()


def test_maintainer_saves_a_policy_written_as_rule_lines(
    client: Client, maintainer: Any, model: Any
) -> None:
    add_evals(make_version(model), accuracy=0.9, f1=0.8)
    client.force_login(maintainer)
    rules = "accuracy >= 0.92 on holdout\nf1 on holdout within 0.5% of holder"
    response = client.post(
        "/models/fraud/policies/",
        {"target_kind": "alias", "target": "production", "requires_approval": "on", "rules": rules},
    )
    assert response.status_code == 302
    policy = PromotionPolicy.objects.get(model=model)
    assert [r.describe() for r in policy.rules.all()] == [
        "accuracy >= 0.92 on holdout",
        "f1 on holdout not worse than the current holder by more than 0.5% (higher is better)",
    ]


@pytest.mark.parametrize(
    ("rules", "message"),
    [("accuracy is great", "Line 1 cannot be read"), ("acc >= 0.9", "no version of model fraud")],
)
def test_bad_policy_lines_are_shown_on_the_form(
    client: Client, maintainer: Any, model: Any, rules: str, message: str
) -> None:
    add_evals(make_version(model), accuracy=0.9)
    client.force_login(maintainer)
    response = client.post(
        "/models/fraud/policies/", {"target_kind": "alias", "target": "production", "rules": rules}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PromotionPolicy.objects.exists()


# --- version page -------------------------------------------------------------------------------


def test_version_page_shows_a_failing_gate_with_numbers_and_no_promote_button(
    member_client: Client, model: Any
) -> None:
    make_policy(
        model=model,
        rules=[ACCURACY, {"metric": "latency_p95_ms", "comparator": "<=", "threshold": 200}],
    )
    version = make_version(model, run_link="https://mlflow.example.com/r/1", run_id="r1")
    add_evals(version, accuracy=0.9)

    page = member_client.get("/models/fraud/versions/1/").content.decode()

    assert "Gate does not pass" in page
    assert "accuracy on holdout is 0.9, needs &gt;= 0.92" in page
    assert "Missing" in page
    assert "Request promotion" not in page
    assert "https://mlflow.example.com/r/1" in page
    assert 'id="eval-chart"' in page


def test_version_page_offers_promotion_when_the_gate_passes(
    member_client: Client, model: Any
) -> None:
    make_policy(model=model, rules=[ACCURACY])
    add_evals(make_version(model), accuracy=0.95)

    page = member_client.get("/models/fraud/versions/1/").content.decode()

    assert "Gate passes" in page
    assert "Request promotion to production" in page


def test_outsiders_see_the_gate_but_no_promote_button(
    client: Client, outsider: Any, model: Any
) -> None:
    make_policy(model=model, rules=[ACCURACY])
    add_evals(make_version(model), accuracy=0.95)
    client.force_login(outsider)
    page = client.get("/models/fraud/versions/1/").content.decode()
    assert "Gate passes" in page
    assert "Request promotion" not in page


def test_version_page_query_count_does_not_grow_with_results(
    member_client: Client, model: Any
) -> None:
    make_policy(model=model, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=0.95)
    small = _queries(member_client, "/models/fraud/versions/1/")
    for i in range(30):
        add_evals(version, dataset=f"d{i}", accuracy=0.9, f1=0.8)
    assert _queries(member_client, "/models/fraud/versions/1/") == small


def test_unknown_version_is_a_404(member_client: Client, model: Any) -> None:
    assert member_client.get("/models/fraud/versions/9/").status_code == 404


# --- promotion through the pages ---------------------------------------------------------------


def test_request_then_lead_approval_through_the_pages(
    client: Client, member: Any, lead: Any, model: Any
) -> None:
    """GIVEN a passing gate that needs approval WHEN the member requests and a lead approves
    THEN the alias moves and the request page says who approved."""
    make_policy(model=model, requires_approval=True, rules=[ACCURACY])
    add_evals(make_version(model), accuracy=0.95)
    client.force_login(member)
    response = client.post(
        "/models/fraud/versions/1/promote/",
        {"target_kind": "alias", "target": "production", "reason": "ship it"},
    )
    req = PromotionRequest.objects.get()
    assert response["Location"] == f"/models/-/promotions/{req.pk}/"
    own_view = client.get(response["Location"]).content.decode()
    assert "Approve and move" not in own_view
    assert "A platform lead other than you must approve" in own_view
    assert "Model promotion requests" in client.get("/").content.decode()

    client.force_login(lead)
    assert "Model promotions" in client.get("/").content.decode()
    client.post(f"/models/-/promotions/{req.pk}/approve/", {"reason": "looks good"})

    req.refresh_from_db()
    assert req.status == "applied"
    assert ModelAlias.objects.get(model=model, alias="production").version.version == 1
    assert "lena" in client.get(f"/models/-/promotions/{req.pk}/").content.decode()


def test_reject_from_the_page_needs_a_reason(
    client: Client, member: Any, lead: Any, model: Any
) -> None:
    make_policy(model=model, requires_approval=True, rules=[ACCURACY])
    add_evals(make_version(model), accuracy=0.95)
    req = services.request_promotion(
        model.versions.get(), target="production", actor=member, reason=""
    )
    client.force_login(lead)

    client.post(f"/models/-/promotions/{req.pk}/reject/", {"reason": ""})
    req.refresh_from_db()
    assert req.status == "submitted"
    client.post(f"/models/-/promotions/{req.pk}/reject/", {"reason": "canary regressed"})
    req.refresh_from_db()
    assert req.status == "rejected"


def test_promotion_list_filters_by_status(client: Client, member: Any, model: Any) -> None:
    make_policy(model=model, requires_approval=True, rules=[ACCURACY])
    add_evals(make_version(model), accuracy=0.95)
    services.request_promotion(model.versions.get(), target="production", actor=member)
    client.force_login(member)

    assert "fraud" in client.get("/models/-/promotions/").content.decode()
    assert (
        "No promotion requests match"
        in client.get("/models/-/promotions/?status=applied").content.decode()
    )


def test_member_sets_an_unprotected_stage(member_client: Client, model: Any) -> None:
    make_version(model)
    member_client.post("/models/fraud/versions/1/stage/", {"stage": "staging"})
    assert model.versions.get().stage == "staging"


# --- compare and trend ----------------------------------------------------------------------------


def test_compare_shows_versions_side_by_side(member_client: Client, model: Any) -> None:
    for value in (0.90, 0.93, 0.95):
        add_evals(make_version(model), accuracy=value, f1=value - 0.1)

    page = member_client.get("/models/fraud/compare/?v=1&v=3").content.decode()

    assert 'id="compare-chart"' in page
    assert "0.95" in page and "0.9" in page
    assert "0.93" not in page


@pytest.mark.parametrize("query", ["v=1", "v=1&v=2&v=3&v=4&v=5&v=6", "v=1&v=99", "v=x&v=1", ""])
def test_compare_refuses_fewer_than_two_more_than_five_or_unknown_versions(
    member_client: Client, model: Any, query: str
) -> None:
    for _ in range(6):
        make_version(model)
    response = member_client.get(f"/models/fraud/compare/?{query}")
    assert response.status_code == 400
    assert b'role="alert"' in response.content


def test_trend_plots_a_metric_across_all_versions(member_client: Client, model: Any) -> None:
    for value in (0.90, 0.93, 0.95):
        add_evals(make_version(model), accuracy=value)

    page = member_client.get("/models/fraud/trend/?metric=accuracy").content.decode()

    assert 'id="trend-chart"' in page
    assert page.index(">v1</a>") < page.index(">v3</a>")
    assert member_client.get("/models/fraud/trend/?metric=nope").status_code == 404


def test_catalog_link_only_when_the_catalog_serves_the_entity(
    member_client: Client, team: Any
) -> None:
    make_model(name="linked", team=team, catalog_entity_ref="component:default/fraud-api")
    page = member_client.get("/models/linked/").content.decode()
    assert "component:default/fraud-api" in page
    expected = services.catalog_url("component:default/fraud-api")
    assert (f'href="{expected}"' in page) == (expected is not None)


def test_pages_of_other_teams_models_are_readable(client: Client, outsider: Any) -> None:
    make_model(name="theirs", team=TeamFactory(slug="third"))
    client.force_login(outsider)
    assert client.get("/models/theirs/").status_code == 200
