"""The catalog in a browser: filter by owner and tag, open an entity, follow a relation,
download its catalog-info.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from apps.catalog import services
from apps.catalog.choices import SourceKind
from apps.catalog.models import ScorecardCheck
from apps.catalog.scorecards import DEFAULT_CHECKS
from tests.factories import TeamFactory, member_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: detector
  description: Product-photo defect detector.
  tags: [serving, gpu]
  annotations:
    tarmac.io/cluster: gpu-eu-1
    tarmac.io/namespace: vision-serving
    serving.kserve.io/inferenceservice: detector
spec:
  type: model-endpoint
  lifecycle: production
  owner: group:vision
  system: vision-serving
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ocr-batch
  tags: [batch]
spec:
  type: pipeline
  lifecycle: production
  owner: group:vision
  system: vision-serving
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ranker
  tags: [serving]
spec:
  type: model-endpoint
  lifecycle: experimental
  owner: team-b
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: vision-serving
  description: Image models in production.
spec:
  owner: group:vision
"""


def test_filter_open_follow_and_download(
    page: Any, live_url: str, login: Any, check_page: Any
) -> None:
    """GIVEN a catalog with entities of several owners and tags
    WHEN a member filters by owner and tag, opens the match and follows its system relation
    THEN the list updates without a reload, the pages are sound, and the YAML downloads."""
    team = TeamFactory.create(slug="vision", name="Vision")
    user = member_of(team, username="vera")
    services.ingest_text(CATALOG, actor=user, team=team, kind=SourceKind.UPLOAD)

    login(page, user.username)
    page.goto(f"{live_url}/catalog/")
    check_page(page)
    expect(page.locator("#result-count")).to_have_text("4 entities")
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Owner").fill("group:vision")
    page.get_by_label("Owner").press("Tab")
    expect(page.locator("#result-count")).to_have_text("3 entities")
    page.get_by_label("Tag").fill("serving")
    page.get_by_label("Tag").press("Tab")
    expect(page.locator("#result-count")).to_have_text("1 entity")
    assert page.evaluate("window.__sameDocument === true"), "the filter reloaded the page"
    assert "owner=group%3Avision" in page.url and "tag=serving" in page.url
    check_page(page)

    page.locator("#entity-table").get_by_role("link", name="detector").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("detector")
    expect(page.get_by_role("region", name="Serving endpoint")).to_contain_text("gpu-eu-1")
    check_page(page)

    page.locator("#relation-list").get_by_role("link", name="system:vision-serving").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("vision-serving")
    relations = page.locator("#relation-list")
    expect(relations.get_by_role("link", name="component:detector")).to_be_visible()
    expect(relations.get_by_role("link", name="component:ocr-batch")).to_be_visible()
    check_page(page)

    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("detector")
    with page.expect_download() as download_info:
        page.locator("#download-yaml").click()
    download = download_info.value
    assert download.suggested_filename == "catalog-info.yaml"
    document = yaml.safe_load(Path(download.path()).read_text())
    assert document["metadata"]["name"] == "detector"
    assert document["spec"]["system"] == "vision-serving"


def test_graph_expands_without_a_reload(
    page: Any, live_url: str, login: Any, check_page: Any
) -> None:
    team = TeamFactory.create(slug="vision", name="Vision")
    user = member_of(team, username="vera")
    services.ingest_text(CATALOG, actor=user, team=team, kind=SourceKind.UPLOAD)
    login(page, user.username)
    page.goto(f"{live_url}/catalog/entity/component/default/detector/")
    graph = page.locator("#entity-graph")
    expect(graph.locator("a[href$='/component/default/ocr-batch/']")).to_have_count(0)
    graph.get_by_role("button", name="Expand system:vision-serving").click()
    expect(graph.locator("a[href$='/component/default/ocr-batch/']")).to_have_count(1)
    check_page(page)


def test_ingest_locations_and_scorecard_pages_are_sound(
    page: Any, live_url: str, login: Any, check_page: Any
) -> None:
    """GIVEN an operator WHEN they paste an invalid file, then a valid one, record adoption
    and open the locations page THEN each page explains itself and is accessible."""
    team = TeamFactory.create(slug="vision", name="Vision")
    user = member_of(team, username="olga")
    user.is_staff = user.is_superuser = True
    user.save()
    for position, check in enumerate(DEFAULT_CHECKS):
        ScorecardCheck.objects.create(position=position, **check)
    login(page, user.username)
    page.goto(f"{live_url}/catalog/ingest/")
    check_page(page)
    page.get_by_label("…or paste YAML").fill(CATALOG.replace("name: ranker", "name: bad ranker"))
    page.get_by_role("button", name="Ingest").click()
    problems = page.locator("#ingest-problems")
    expect(problems).to_contain_text("metadata.name")
    expect(problems).to_contain_text('"bad ranker" is not a valid name')
    check_page(page)
    page.get_by_label("…or paste YAML").fill(CATALOG)
    page.get_by_role("button", name="Ingest").click()
    expect(page.get_by_text("4 created, 0 updated, 0 unchanged, 0 orphaned.")).to_be_visible()
    check_page(page)

    page.goto(f"{live_url}/catalog/scorecards/")
    page.get_by_role("button", name="Record today's adoption now").click()
    expect(page.locator("#adoption-table")).to_contain_text("team vision")
    expect(page.locator(".js-plotly-plot")).to_have_count(1)
    check_page(page)

    page.goto(f"{live_url}/catalog/locations/")
    page.get_by_label("URL of a catalog-info.yaml").fill("file:///etc/passwd")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#location-form")).to_contain_text("http")
    check_page(page)
