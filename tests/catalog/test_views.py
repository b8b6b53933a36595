"""Catalog pages: htmx filters, entity page, export, ingest form, permissions, query counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Team
from apps.catalog import services
from apps.catalog.models import Entity, Location, ScorecardCheck, Star
from apps.catalog.scorecards import DEFAULT_CHECKS
from tests.catalog.test_services import ENDPOINT, SYSTEM, api, component

pytestmark = pytest.mark.django_db

Ingest = Callable[..., services.IngestResult]


@pytest.fixture
def catalog(ingest: Ingest) -> None:
    ingest(
        "---\n".join(
            [
                component(
                    "web-shop",
                    owner="group:vision",
                    meta="  tags: [java, web]\n",
                    extra="  consumesApis: [billing]\n  system: vision-serving\n",
                ),
                component("batch-job", owner="team-a", meta="  tags: [python]\n"),
                api("billing", owner="group:vision"),
                ENDPOINT.format(
                    name="detector",
                    annotations="    tarmac.io/cluster: gpu-eu-1\n    tarmac.io/namespace: vision\n"
                    "    serving.kserve.io/inferenceservice: detector-isvc\n"
                    "    tarmac.io/serving-runtime: vllm",
                ),
                SYSTEM,
            ]
        )
    )


def names(response: Any) -> list[str]:
    return [e.name for e in response.context["page"].object_list]


# --- List ---------------------------------------------------------------------------------


def test_anonymous_user_is_sent_to_sign_in(client: Client) -> None:
    response = client.get("/catalog/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_every_signed_in_user_browses_the_catalog(
    client: Client, outsider: Any, catalog: None
) -> None:
    client.force_login(outsider)
    response = client.get("/catalog/")
    assert response.status_code == 200
    assert names(response) == ["batch-job", "billing", "detector", "vision-serving", "web-shop"]
    assert b'datalist id="facet-owner"' in response.content


def test_htmx_filter_returns_only_the_results_fragment(
    client: Client, member: Any, catalog: None
) -> None:
    client.force_login(member)
    response = client.get("/catalog/?owner=group:vision&tag=java", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="entity-table"' in response.content
    assert names(response) == ["web-shop"]
    # The export link carries the same filters.
    assert b"catalog-info.yaml?owner=group%3Avision&amp;tag=java" in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=API", ["billing"]),
        ("type=model-endpoint", ["detector"]),
        ("owner=vision", ["billing", "detector", "vision-serving", "web-shop"]),
        ("owner=group:default/team-a", ["batch-job"]),
        ("lifecycle=production", ["batch-job", "billing", "detector", "web-shop"]),
        ("tag=python", ["batch-job"]),
        ("namespace=DEFAULT", ["batch-job", "billing", "detector", "vision-serving", "web-shop"]),
        ("system=vision-serving", ["detector", "web-shop"]),
        ("q=shop", ["web-shop"]),
        ("q=java", ["web-shop"]),
        ("q=runbook", []),
        ("q=web+java", ["web-shop"]),
        ("kind=Component&q=job", ["batch-job"]),
        ("sort=-name", ["web-shop", "vision-serving", "detector", "billing", "batch-job"]),
        ("errors=1", []),
    ],
)
def test_each_facet_filters_the_list(
    client: Client, member: Any, catalog: None, query: str, expected: list[str]
) -> None:
    client.force_login(member)
    assert names(client.get(f"/catalog/?{query}", HTTP_HX_REQUEST="true")) == expected


def test_orphaned_filter_and_badge(client: Client, member: Any, ingest: Ingest) -> None:
    ingest(component("a") + "---\n" + component("b"), source="repo")
    ingest(component("a"), source="repo")
    client.force_login(member)
    response = client.get("/catalog/?orphaned=1", HTTP_HX_REQUEST="true")
    assert names(response) == ["b"]
    assert b"badge-orphaned" in response.content
    assert names(client.get("/catalog/?orphaned=0", HTTP_HX_REQUEST="true")) == ["a"]


def test_scope_tabs_show_my_teams_and_my_stars(
    client: Client, member: Any, outsider: Any, catalog: None
) -> None:
    Star.objects.create(user=member, entity=Entity.objects.get(name="batch-job"))
    client.force_login(member)
    assert names(client.get("/catalog/?scope=mine", HTTP_HX_REQUEST="true")) == [
        "billing",
        "detector",
        "vision-serving",
        "web-shop",
    ]
    assert names(client.get("/catalog/?scope=starred", HTTP_HX_REQUEST="true")) == ["batch-job"]
    client.force_login(outsider)
    assert names(client.get("/catalog/?scope=mine", HTTP_HX_REQUEST="true")) == []


def test_invalid_filter_is_explained_not_ignored(
    client: Client, member: Any, catalog: None
) -> None:
    client.force_login(member)
    response = client.get("/catalog/?kind=Widget", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert names(response) == []
    assert b"Some filters are invalid" in response.content


def test_list_query_count_does_not_grow_with_entities(
    client: Client, member: Any, ingest: Ingest
) -> None:
    client.force_login(member)
    Star.objects.all().delete()

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    ingest(
        "---\n".join(component(f"svc-{i}", meta="  tags: [a, b]\n") for i in range(3)), source="s"
    )
    small = [count("/catalog/"), count("/catalog/?tag=a&q=svc"), count("/catalog/?scope=mine")]
    ingest(
        "---\n".join(component(f"svc-{i}", meta="  tags: [a, b]\n") for i in range(60)), source="s"
    )
    assert [
        count("/catalog/"),
        count("/catalog/?tag=a&q=svc"),
        count("/catalog/?scope=mine"),
    ] == small


# --- Entity page ----------------------------------------------------------------------------


def test_entity_page_shows_overview_relations_graph_scorecard_and_source(
    client: Client, member: Any, catalog: None
) -> None:
    for i, check in enumerate(DEFAULT_CHECKS):
        ScorecardCheck.objects.create(position=i, **check)
    client.force_login(member)
    response = client.get("/catalog/entity/component/default/web-shop/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "component:default/web-shop" in html
    assert 'href="/catalog/entity/api/default/billing/"' in html  # resolved relation, followable
    assert "Consumes API" in html and "Part of" in html
    assert '<svg viewBox="' in html and "Relations of component:web-shop" in html
    assert "Has an owner team" in html and "owned by Tarmac team group:vision" in html
    assert 'id="raw-descriptor"' in html and "consumesApis" in html
    assert "Upload" in html and "test-source" in html  # the source and its last read
    assert "Delete this entity" in html  # the member's team owns it


def test_model_endpoint_page_names_the_cluster_object(
    client: Client, member: Any, catalog: None
) -> None:
    client.force_login(member)
    html = client.get("/catalog/entity/component/default/detector/").content.decode()
    assert "Serving endpoint" in html
    assert "<code>gpu-eu-1</code>" in html and "<code>detector-isvc</code>" in html


def test_unresolved_relation_is_shown_as_such(client: Client, member: Any, catalog: None) -> None:
    client.force_login(member)
    html = client.get("/catalog/entity/component/default/batch-job/").content.decode()
    assert "group:team-a" in html and "unresolved" in html


def test_graph_expands_a_neighbour_by_htmx(client: Client, member: Any, catalog: None) -> None:
    client.force_login(member)
    url = "/catalog/entity/api/default/billing/graph/?expand=component:default/web-shop"
    response = client.get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    # web-shop's own neighbour (its system) is drawn now.
    assert "/catalog/entity/system/default/vision-serving/" in html
    assert 'aria-pressed="true"' in html


def test_entity_page_query_count_does_not_grow_with_relations(
    client: Client, member: Any, ingest: Ingest
) -> None:
    client.force_login(member)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/catalog/entity/component/default/hub/").status_code == 200
        return len(captured.captured_queries)

    def hub(n: int) -> str:
        apis = ", ".join(f"api-{i}" for i in range(n))
        return component("hub", extra=f"  consumesApis: [{apis}]\n")

    ingest(hub(2) + "---\n" + "---\n".join(api(f"api-{i}") for i in range(2)), source="hub")
    small = count()
    ingest(hub(30) + "---\n" + "---\n".join(api(f"api-{i}") for i in range(30)), source="hub")
    assert count() == small


def test_unknown_entity_is_404(client: Client, member: Any) -> None:
    client.force_login(member)
    assert client.get("/catalog/entity/component/default/nope/").status_code == 404


def test_star_toggles_with_htmx(client: Client, member: Any, catalog: None) -> None:
    client.force_login(member)
    url = "/catalog/entity/component/default/batch-job/star/"
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert b'aria-pressed="true"' in response.content
    assert Star.objects.filter(user=member).count() == 1
    client.post(url, HTTP_HX_REQUEST="true")
    assert not Star.objects.exists()


def test_only_the_owning_team_may_delete(
    client: Client, member: Any, outsider: Any, catalog: None
) -> None:
    url = "/catalog/entity/component/default/web-shop/delete/"
    client.force_login(outsider)
    page = client.get("/catalog/entity/component/default/web-shop/").content.decode()
    assert "Delete this entity" not in page
    assert client.post(url).status_code == 403
    client.force_login(member)
    response = client.post(url, {"reason": "retired"})
    assert response.status_code == 302
    assert not Entity.objects.filter(name="web-shop").exists()


# --- Export -----------------------------------------------------------------------------------


def test_entity_downloads_as_catalog_info_yaml(client: Client, member: Any, catalog: None) -> None:
    client.force_login(member)
    response = client.get("/catalog/entity/api/default/billing/catalog-info.yaml")
    assert response["Content-Disposition"] == 'attachment; filename="catalog-info.yaml"'
    assert yaml.safe_load(response.content) == Entity.objects.get(name="billing").descriptor


def test_filtered_set_downloads_as_one_multi_document_file(
    client: Client, member: Any, catalog: None
) -> None:
    client.force_login(member)
    response = client.get("/catalog/catalog-info.yaml?owner=vision&kind=Component")
    docs = list(yaml.safe_load_all(response.getvalue()))
    assert [d["metadata"]["name"] for d in docs] == ["detector", "web-shop"]


# --- Ingest form ------------------------------------------------------------------------------


def test_pasted_yaml_is_ingested_for_the_chosen_team(
    client: Client, member: Any, team: Team
) -> None:
    client.force_login(member)
    response = client.post(
        "/catalog/ingest/", {"team": team.pk, "text": component("pasted"), "source_name": ""}
    )
    assert response.status_code == 200
    assert "1 created, 0 updated, 0 unchanged, 0 orphaned" in response.content.decode()
    source = Entity.objects.get(name="pasted").source
    assert source is not None and source.team == team


def test_uploaded_file_with_a_bad_document_lists_document_line_and_field(
    client: Client, member: Any, team: Team
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(member)
    upload = SimpleUploadedFile(
        "catalog-info.yaml", (component("ok") + "---\n" + component("not ok")).encode()
    )
    response = client.post("/catalog/ingest/", {"team": team.pk, "file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="ingest-problems"' in html
    assert (
        '<td class="num">2</td><td class="num">13</td><td><code>metadata.name</code></td>' in html
    )
    assert not Entity.objects.exists()


def test_ingest_refuses_a_team_you_are_not_in(
    client: Client, member: Any, other_team: Team
) -> None:
    client.force_login(member)
    response = client.post("/catalog/ingest/", {"team": other_team.pk, "text": component("x")})
    assert "Select a valid choice" in response.content.decode()
    assert not Entity.objects.exists()


def test_ingest_into_another_teams_entity_is_refused_with_its_ref(
    client: Client, outsider: Any, other_team: Team, catalog: None
) -> None:
    client.force_login(outsider)
    response = client.post(
        "/catalog/ingest/",
        {"team": other_team.pk, "text": component("web-shop", owner="nlp")},
    )
    assert "component:default/web-shop is owned by team vision" in response.content.decode()


# --- Locations and scorecards ---------------------------------------------------------------


def test_file_urls_are_never_registered(client: Client, member: Any, team: Team) -> None:
    client.force_login(member)
    response = client.post("/catalog/locations/", {"url": "file:///etc/passwd", "team": team.pk})
    assert "Enter a valid URL" in response.content.decode()
    assert not Location.objects.exists()


def test_scorecards_page_shows_checks_and_adoption_trend(
    client: Client, member: Any, op_user: Any, catalog: None
) -> None:
    for i, check in enumerate(DEFAULT_CHECKS):
        ScorecardCheck.objects.create(position=i, **check)
    client.force_login(member)
    assert client.post("/catalog/scorecards/record/").status_code == 403
    client.force_login(op_user)
    assert client.post("/catalog/scorecards/record/").status_code == 302
    client.force_login(member)
    html = client.get("/catalog/scorecards/").content.decode()
    assert "Serving endpoint uses a blessed runtime" in html
    assert "plotly" in html and 'id="adoption-table"' in html
    assert "team vision" in html


def test_javascript_links_in_a_descriptor_are_never_clickable(
    client: Client, member: Any, ingest: Ingest
) -> None:
    ingest(
        component(
            "sly",
            meta="  links:\n    - url: 'javascript:alert(1)'\n      title: Click me\n"
            "    - url: https://docs.example.com/sly\n      title: Docs\n",
        )
    )
    client.force_login(member)
    html = client.get("/catalog/entity/component/default/sly/").content.decode()
    assert 'href="javascript:' not in html
    assert 'href="https://docs.example.com/sly"' in html


def test_operator_edits_checks_in_the_admin_and_it_is_audited(client: Client, op_user: Any) -> None:
    from apps.audit.models import AuditEvent

    client.force_login(op_user)
    url = "/admin/catalog/scorecardcheck/add/"
    form = {
        "name": "Has a runbook",
        "level": "silver",
        "rule": "link_present",
        "params": '{"match": 3}',
        "applies_to_kinds": "Component",
        "enabled": "on",
        "position": "0",
    }
    bad = client.post(url, form)
    assert bad.status_code == 200 and "Example for this rule" in bad.content.decode()
    widget = client.post(url, {**form, "params": '{"match": "x"}', "applies_to_kinds": "Widget"})
    assert "Unknown kind(s) Widget" in widget.content.decode()
    response = client.post(url, {**form, "params": '{"match": "runbook"}'})
    assert response.status_code == 302
    check = ScorecardCheck.objects.get(name="Has a runbook")
    assert AuditEvent.objects.filter(verb="admin.created", target_id=str(check.pk)).exists()


def test_facets_follow_the_catalog_as_it_changes(
    client: Client, member: Any, ingest: Ingest
) -> None:
    client.force_login(member)
    ingest(component("a", meta="  tags: [alpha]\n"), source="a")
    assert '<option value="alpha">alpha (1)</option>' in client.get("/catalog/").content.decode()
    ingest(component("b", meta="  tags: [alpha, beta]\n"), source="b")
    html = client.get("/catalog/").content.decode()
    assert '<option value="alpha">alpha (2)</option>' in html
    assert '<option value="beta">beta (1)</option>' in html
    services.delete_entity(Entity.objects.get(name="b"), actor=member)
    assert "beta" not in client.get("/catalog/").content.decode()
