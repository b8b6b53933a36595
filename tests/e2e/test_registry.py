"""The model registry end to end: CI registers a version and posts eval results through
the API, the gate fails, better results make it pass, the data scientist requests the
promotion, a platform lead approves it in a second browser, the alias moves and the
audit log shows who moved it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Team
from apps.accounts.services import create_token
from apps.registry.models import (
    EvalResult,
    ModelAlias,
    ModelVersion,
    PolicyRule,
    PromotionPolicy,
    RegisteredModel,
)
from tests.factories import member_of, platform_lead

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _api(live_url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{live_url}/api/v1/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def test_gate_promotion_and_lead_approval_in_the_browser(
    live_url: str, new_page: Any, login: Any, check_page: Any
) -> None:
    """GIVEN a model whose production alias needs accuracy >= 0.92 and a lead's approval
    WHEN CI registers a version with 0.85, then posts 0.95, and the owner requests the
    promotion THEN a lead approves in another browser, the alias moves, the audit log
    shows it."""
    team = Team.objects.create(slug="vision", name="Vision")
    scientist = member_of(team, role="maintainer", username="mia")
    platform_lead(username="lena")
    model = RegisteredModel.objects.create(name="fraud-detector", team=team)
    policy = PromotionPolicy.objects.create(
        model=model, target="production", requires_approval=True
    )
    PolicyRule.objects.create(
        policy=policy, metric="accuracy", comparator=">=", threshold=0.92, dataset="holdout"
    )
    ci_token = create_token(actor=scientist, name="ci", team=team).key

    # CI: register a version and post its eval results through the API.
    version = _api(
        live_url,
        ci_token,
        "POST",
        "model-versions/",
        {
            "name": "fraud-detector",
            "source": "s3://models/fraud/1",
            "run_id": "run-1",
            "run_link": "https://mlflow.example.com/#/runs/run-1",
            "tags": {"git_sha": "abc1234", "trigger": "ci", "dataset": "q3"},
        },
    )
    assert version["version"] == 1
    evals = f"model-versions/{version['id']}/eval-results/"
    rows = [{"metric": "accuracy", "value": 0.85, "dataset": "holdout", "split": "test"}]
    assert _api(live_url, ci_token, "POST", evals, {"rows": rows})["created"] == 1

    # The owner sees the gate fail, with the numbers.
    owner = new_page()
    login(owner, "mia")
    owner.goto(f"{live_url}/models/fraud-detector/versions/1/")
    gate = owner.locator("#gate-alias-production")
    expect(gate).to_contain_text("Gate does not pass")
    expect(gate).to_contain_text("accuracy on holdout is 0.85, needs >= 0.92")
    expect(owner.get_by_role("button", name="Request promotion to production")).to_have_count(0)
    check_page(owner)

    # Better results arrive; the gate passes and the owner requests the promotion.
    rows = [{"metric": "accuracy", "value": 0.95, "dataset": "holdout", "split": "test"}]
    _api(live_url, ci_token, "POST", evals, {"rows": rows})
    owner.reload()
    expect(gate).to_contain_text("Gate passes")
    gate.get_by_label("Why promote?").fill("Beats the 0.92 bar on the holdout set.")
    gate.get_by_role("button", name="Request promotion to production").click()
    expect(owner.locator("h1")).to_contain_text("Promote fraud-detector v1 to alias production")
    expect(owner.locator("main")).to_contain_text("A platform lead other than you must approve")
    expect(owner.get_by_role("button", name="Approve and move production")).to_have_count(0)
    check_page(owner)
    assert not ModelAlias.objects.filter(model=model, alias="production").exists()

    # A platform lead, in a second browser context, approves from the home page.
    lead = new_page()
    login(lead, "lena")
    lead.goto(f"{live_url}/")
    lead.get_by_role("link", name="Model promotions").click()
    check_page(lead)
    lead.get_by_role("link", name="fraud-detector", exact=True).wait_for()
    lead.locator("tbody tr").first.get_by_role("link").first.click()
    lead.get_by_label("Reason (optional)").fill("Eval is solid; go.")
    lead.get_by_role("button", name="Approve and move production").click()
    expect(lead.locator(".messages")).to_contain_text("Approved: fraud-detector v1")
    expect(lead.locator("main")).to_contain_text("Applied")
    check_page(lead)

    # The alias moved: the owner sees it on the model page and in the audit log.
    owner.goto(f"{live_url}/models/fraud-detector/")
    aliases = owner.locator("section[aria-labelledby=aliases-h]")
    expect(aliases).to_contain_text("production")
    expect(aliases).to_contain_text("Yes — promotion policy")
    expect(aliases).to_contain_text("lena")
    check_page(owner)
    owner.goto(f"{live_url}/audit/?verb=registry.alias_moved")
    expect(owner.locator("main")).to_contain_text("registry.alias_moved")
    expect(owner.locator("main")).to_contain_text("lena")
    check_page(owner)
    moved = _api(live_url, ci_token, "GET", "registered-models/fraud-detector/aliases/production/")
    assert moved["version"] == 1


def test_registry_pages_pass_the_accessibility_check(
    live_url: str, page: Any, login: Any, check_page: Any
) -> None:
    team = Team.objects.create(slug="nlp", name="Language")
    member_of(team, username="max")
    model = RegisteredModel.objects.create(name="ranker", team=team)
    for number in (1, 2):
        version = ModelVersion.objects.create(
            model=model, version=number, source_uri=f"s3://m/{number}", framework="lightgbm"
        )
        EvalResult.objects.create(version=version, metric="ndcg", value=0.7 + number / 100)
    RegisteredModel.objects.filter(pk=model.pk).update(latest_version=2)
    login(page, "max")
    for path in [
        "/models/",
        "/models/?team=nlp&sort=name",
        "/models/ranker/",
        "/models/ranker/versions/2/",
        "/models/ranker/compare/?v=1&v=2",
        "/models/ranker/trend/?metric=ndcg",
        "/models/-/promotions/",
    ]:
        page.goto(f"{live_url}{path}")
        check_page(page)
    expect(page.get_by_role("link", name="Models", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
