"""Ingest, relations both ways, unchanged re-ingest, orphaning, export, scorecards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.accounts.models import Team
from apps.audit.models import AuditEvent
from apps.catalog import services
from apps.catalog.choices import SourceKind
from apps.catalog.descriptors import InvalidDescriptorFile
from apps.catalog.models import AdoptionSnapshot, Entity, Relation, ScorecardCheck, Star
from apps.catalog.scorecards import DEFAULT_CHECKS
from apps.core.errors import NotAllowed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Ingest = Callable[..., services.IngestResult]


def component(name: str, *, owner: str = "team-a", extra: str = "", meta: str = "") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n{meta}"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n{extra}"
    )


def api(name: str, *, owner: str = "team-a") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: API\n"
        f"metadata:\n  name: {name}\n"
        f"spec:\n  type: openapi\n  lifecycle: production\n  owner: {owner}\n"
        "  definition: 'openapi: 3.0.0'\n"
    )


def relations_of(ref: str) -> set[tuple[str, str, bool]]:
    return {
        (r.type, r.target_ref, r.target_entity_id is not None)
        for r in Relation.objects.filter(source_ref=ref)
    }


def valid_fixture_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*.yaml")) if p.name != "invalid-component.yaml"]


# --- Fixtures from Backstage ----------------------------------------------------------


def test_every_valid_backstage_example_ingests_with_its_relations(
    backstage_dir: Path, ingest: Ingest
) -> None:
    """GIVEN Backstage's example files WHEN each is ingested THEN every entity is stored
    and the relations Backstage derives exist in both directions."""
    expected = set()
    for path in valid_fixture_files(backstage_dir):
        result = ingest(path.read_text(), source=str(path.relative_to(backstage_dir)))
        expected |= {doc.ref for doc in result.documents}
    assert set(Entity.objects.values_list("ref", flat=True)) == expected
    assert len(expected) == 38
    # petstore provides three APIs; each API knows it is provided by petstore.
    assert relations_of("component:default/petstore") == {
        ("ownedBy", "group:default/team-c", False),
        ("providesApi", "api:default/petstore", True),
        ("providesApi", "api:default/streetlights", True),
        ("providesApi", "api:default/hello-world", True),
    }
    assert ("apiProvidedBy", "component:default/petstore", True) in relations_of(
        "api:default/petstore"
    )
    # System → domain, domain → parent domain, subcomponents, consumed APIs.
    assert ("partOf", "domain:default/playback", True) in relations_of("system:default/podcast")
    assert ("hasPart", "system:default/podcast", True) in relations_of("domain:default/playback")
    assert ("partOf", "domain:default/audio", True) in relations_of("domain:default/artists")
    assert ("hasPart", "component:default/wayback-archive-storage", True) in relations_of(
        "component:default/wayback-archive"
    )
    assert ("apiConsumedBy", "component:default/wayback-search", True) in relations_of(
        "api:default/wayback-archive"
    )
    # The owner group is not in the catalog: kept, shown unresolved, and its side known.
    assert ("ownerOf", "component:default/petstore", True) in relations_of("group:default/team-c")
    assert ("parentOf", "group:default/infrastructure", False) in relations_of(
        "group:default/acme-corp"
    )


def test_invalid_backstage_example_is_rejected_and_stores_nothing(
    backstage_dir: Path, ingest: Ingest
) -> None:
    with pytest.raises(InvalidDescriptorFile) as caught:
        ingest((backstage_dir / "components/invalid-component.yaml").read_text())
    assert str(caught.value.problems[0]).startswith("document 1, line 4, field metadata.name")
    assert Entity.objects.count() == 0


# --- Ingest -----------------------------------------------------------------------------


def test_file_with_one_bad_document_stores_nothing(ingest: Ingest) -> None:
    text = component("good") + "---\n" + component("also-good") + "---\n" + component("bad one")
    with pytest.raises(InvalidDescriptorFile) as caught:
        ingest(text)
    assert str(caught.value.problems[0]).startswith("document 3, line 22, field metadata.name")
    assert not Entity.objects.exists()
    assert not AuditEvent.objects.filter(verb="catalog.ingested").exists()


def test_relation_to_missing_entity_is_kept_unresolved_until_it_arrives(ingest: Ingest) -> None:
    ingest(component("web", extra="  consumesApis: [billing]\n"), source="web")
    assert relations_of("component:default/web") == {
        ("ownedBy", "group:default/team-a", False),
        ("consumesApi", "api:default/billing", False),
    }
    # The other side is already known by reference.
    assert relations_of("api:default/billing") == {("apiConsumedBy", "component:default/web", True)}
    ingest(api("billing"), source="billing")
    assert ("consumesApi", "api:default/billing", True) in relations_of("component:default/web")


def test_reingesting_an_unchanged_file_changes_nothing(ingest: Ingest) -> None:
    text = component("web") + "---\n" + api("billing")
    first = ingest(text)
    assert first.counts() == {"created": 2, "updated": 0, "unchanged": 0, "orphaned": 0}
    before = {e.ref: e.updated_at for e in Entity.objects.all()}
    events = AuditEvent.objects.count()
    again = ingest(text)
    assert again.counts() == {"created": 0, "updated": 0, "unchanged": 2, "orphaned": 0}
    assert {e.ref: e.updated_at for e in Entity.objects.all()} == before
    assert AuditEvent.objects.count() == events


def test_changed_entity_is_updated_and_one_event_records_the_counts(ingest: Ingest) -> None:
    ingest(component("web") + "---\n" + api("billing"))
    result = ingest(component("web", extra="  system: shop\n") + "---\n" + api("billing"))
    assert result.counts() == {"created": 0, "updated": 1, "unchanged": 1, "orphaned": 0}
    web = Entity.objects.get(ref="component:default/web")
    assert web.system_ref == "system:default/shop"
    assert web.spec["system"] == "shop" and web.descriptor["spec"]["system"] == "shop"
    assert "system: shop" in web.raw_text
    assert ("partOf", "system:default/shop", False) in relations_of(web.ref)
    event = AuditEvent.objects.filter(verb="catalog.ingested").first()
    assert event is not None and event.after is not None
    assert event.after["updated"] == 1 and event.after["updated_refs"] == [web.ref]
    assert AuditEvent.objects.filter(verb="catalog.ingested").count() == 2


def test_entity_missing_from_its_source_becomes_orphaned_and_comes_back(ingest: Ingest) -> None:
    ingest(component("web") + "---\n" + component("worker"), source="repo")
    result = ingest(component("web"), source="repo")
    assert result.orphaned == ["component:default/worker"]
    worker = Entity.objects.get(ref="component:default/worker")
    assert worker.orphaned_at is not None
    assert Entity.objects.active().count() == 1
    # Another source's entities are never orphaned by this one.
    ingest(component("other"), source="elsewhere")
    ingest(component("web"), source="repo")
    assert Entity.objects.get(ref="component:default/other").orphaned_at is None
    revived = ingest(component("web") + "---\n" + component("worker"), source="repo")
    assert revived.updated == ["component:default/worker"]
    assert Entity.objects.get(ref="component:default/worker").orphaned_at is None


def test_source_name_defaults_to_the_first_entity_so_pastes_do_not_orphan_each_other(
    member: Any, team: Team
) -> None:
    services.ingest_text(component("one"), actor=member, team=team, kind=SourceKind.PASTE)
    services.ingest_text(component("two"), actor=member, team=team, kind=SourceKind.PASTE)
    assert Entity.objects.active().count() == 2


def test_refs_compare_case_insensitively(ingest: Ingest) -> None:
    ingest(component("Web-App"), source="a")
    result = ingest(component("web-app", meta="  title: Web\n"), source="a")
    assert result.updated == ["component:default/web-app"]
    assert Entity.objects.count() == 1


# --- Ownership and permissions -----------------------------------------------------------


def test_owner_group_named_after_a_team_resolves_to_that_team(ingest: Ingest, team: Team) -> None:
    ingest(component("detector", owner="group:vision"))
    assert Entity.objects.get(name="detector").owner_team == team


def test_outsider_cannot_create_or_change_an_entity_owned_by_another_team(
    ingest: Ingest, team: Team, outsider: Any, other_team: Team
) -> None:
    with pytest.raises(NotAllowed) as caught:
        ingest(component("detector", owner="vision"), actor=outsider, team_=other_team)
    assert "component:default/detector is owned by team vision" in caught.value.message
    ingest(component("detector", owner="vision"))
    with pytest.raises(NotAllowed) as caught:
        ingest(component("detector", owner="nlp"), actor=outsider, team_=other_team)
    assert caught.value.status_code == 403
    assert caught.value.field == "component:default/detector"
    assert Entity.objects.get(name="detector").owner_team == team


def test_ingest_for_a_team_you_are_not_in_is_refused(ingest: Ingest, other_team: Team) -> None:
    with pytest.raises(NotAllowed):
        ingest(component("x"), team_=other_team)


def test_operator_may_change_any_entity(ingest: Ingest, op_user: Any, other_team: Team) -> None:
    ingest(component("detector", owner="vision"))
    result = ingest(component("detector", owner="nlp"), actor=op_user, team_=other_team)
    assert result.updated == ["component:default/detector"]
    assert Entity.objects.get(name="detector").owner_team == other_team


def test_group_entity_maps_onto_team_and_operator_groups_create_missing_teams(
    ingest: Ingest, op_user: Any, team: Team
) -> None:
    group = (
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\n"
        "spec:\n  type: team\n  profile: {{displayName: {display}}}\n  children: []\n"
    )
    ingest(group.format(name="vision", display="Vision"), source="g1")
    assert Entity.objects.get(ref="group:default/vision").owner_team == team
    ingest(group.format(name="speech", display="Speech"), source="g2")
    assert not Team.objects.filter(slug="speech").exists()
    assert Entity.objects.get(ref="group:default/speech").owner_team is None
    ingest(group.format(name="fraud", display="Fraud Detection"), actor=op_user, source="g3")
    fraud = Team.objects.get(slug="fraud")
    assert fraud.name == "Fraud Detection"
    assert AuditEvent.objects.filter(verb="catalog.team_created", target_id=str(fraud.pk)).exists()


def test_entities_owned_by_a_group_adopt_its_team_when_the_group_arrives(
    ingest: Ingest, op_user: Any
) -> None:
    ingest(component("scorer", owner="ranking"), actor=op_user, source="c")
    assert Entity.objects.get(name="scorer").owner_team is None
    ingest(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: ranking}\n"
        "spec: {type: team, children: []}\n",
        actor=op_user,
        source="g",
    )
    assert Entity.objects.get(name="scorer").owner_team == Team.objects.get(slug="ranking")


def test_user_entity_links_to_the_tarmac_user_of_that_name(ingest: Ingest) -> None:
    ada = UserFactory(username="ada")
    ingest(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: ada}\n"
        "spec: {memberOf: [vision]}\n"
    )
    user = Entity.objects.get(ref="user:default/ada")
    assert user.linked_user == ada
    assert relations_of(user.ref) == {("memberOf", "group:default/vision", False)}
    assert ("hasMember", "user:default/ada", True) in relations_of("group:default/vision")


# --- Delete, star ------------------------------------------------------------------------


def test_deleting_an_entity_leaves_relations_to_it_unresolved(ingest: Ingest, member: Any) -> None:
    ingest(component("web", extra="  consumesApis: [billing]\n"), source="web")
    ingest(api("billing"), source="billing")
    billing = Entity.objects.get(ref="api:default/billing")
    services.delete_entity(billing, actor=member, reason="retired")
    assert ("consumesApi", "api:default/billing", False) in relations_of("component:default/web")
    event = AuditEvent.objects.get(verb="catalog.entity_deleted")
    assert event.reason == "retired" and event.before is not None
    assert event.before["ref"] == "api:default/billing"


def test_only_owning_team_and_operators_delete(ingest: Ingest, outsider: Any, op_user: Any) -> None:
    ingest(component("web", owner="vision"))
    web = Entity.objects.get(name="web")
    with pytest.raises(NotAllowed):
        services.delete_entity(web, actor=outsider)
    services.delete_entity(web, actor=op_user)
    assert not Entity.objects.exists()


def test_star_toggles_for_the_user_only(ingest: Ingest, member: Any, outsider: Any) -> None:
    ingest(component("web"))
    web = Entity.objects.get()
    assert services.toggle_star(web, actor=member) is True
    assert services.toggle_star(web, actor=outsider) is True
    assert services.toggle_star(web, actor=member) is False
    assert list(Star.objects.values_list("user__username", flat=True)) == ["otto"]


# --- Export ------------------------------------------------------------------------------


def test_ingest_export_ingest_is_lossless(backstage_dir: Path, ingest: Ingest) -> None:
    """GIVEN the Backstage examples ingested WHEN all are exported and ingested into an
    empty catalog THEN every descriptor and relation is the same."""
    for path in valid_fixture_files(backstage_dir):
        ingest(path.read_text(), source=path.name)
    entities = list(Entity.objects.order_by("ref"))
    exported = services.export_yaml(entities)
    descriptors = {e.ref: e.descriptor for e in entities}
    relations = {(r.source_ref, r.type, r.target_ref) for r in Relation.objects.all()}
    raw = {e.ref: e.raw_text for e in entities}
    # The same file again is unchanged (the export holds each document as written).
    assert ingest(exported, source="export").counts()["created"] == 0
    Entity.objects.all().delete()
    result = ingest(exported, source="export")
    assert len(result.created) == len(entities)
    assert {e.ref: e.descriptor for e in Entity.objects.all()} == descriptors
    assert {e.ref: e.raw_text for e in Entity.objects.all()} == raw
    assert {(r.source_ref, r.type, r.target_ref) for r in Relation.objects.all()} == relations
    assert "# This is an extra long description" in exported


# --- Scorecards and adoption -------------------------------------------------------------


@pytest.fixture
def default_checks() -> list[ScorecardCheck]:
    return [
        ScorecardCheck.objects.create(position=i, **check) for i, check in enumerate(DEFAULT_CHECKS)
    ]


ENDPOINT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  annotations:
{annotations}
  links:
    - url: https://docs.example.com/{name}
      title: Runbook docs
spec:
  type: model-endpoint
  lifecycle: production
  owner: group:vision
  system: vision-serving
"""
SYSTEM = """\
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: vision-serving}
spec: {owner: group:vision}
"""


def test_scorecard_levels_need_all_checks_of_the_level_and_below(
    ingest: Ingest, default_checks: list[ScorecardCheck]
) -> None:
    gold = (
        "    tarmac.io/serving-runtime: vllm\n    tarmac.io/registered-model: vision/det\n"
        "    tarmac.io/drift-monitor: det-drift"
    )
    silver = "    tarmac.io/serving-runtime: vllm"
    bronze = "    tarmac.io/serving-runtime: flask"
    ingest(
        "---\n".join(
            [
                ENDPOINT.format(name="gold-ep", annotations=gold),
                ENDPOINT.format(name="silver-ep", annotations=silver),
                ENDPOINT.format(name="bronze-ep", annotations=bronze),
                component("no-team", owner="team-z"),
                SYSTEM,
            ]
        )
    )
    levels = {}
    for entity in Entity.objects.all():
        card = services.scorecard_for(entity, list(Relation.objects.filter(source_ref=entity.ref)))
        levels[entity.name] = card.level_label
    assert levels == {
        "gold-ep": "Gold",
        "silver-ep": "Silver",
        "bronze-ep": "Bronze",
        "no-team": "none",
        "vision-serving": "Bronze",
    }
    bronze_card = services.scorecard_for(
        Entity.objects.get(name="bronze-ep"),
        list(Relation.objects.filter(source_ref="component:default/bronze-ep")),
    )
    failing = {r.check.name: r.reason for r in bronze_card.results if not r.passed}
    assert failing["Serving endpoint uses a blessed runtime"] == (
        "annotation tarmac.io/serving-runtime is 'flask', not one of: "
        "kserve-huggingfaceserver, vllm, triton"
    )


def test_adoption_is_recorded_per_team_and_overall_once_a_day(
    ingest: Ingest, default_checks: list[ScorecardCheck], team: Team
) -> None:
    ingest(
        ENDPOINT.format(name="ep", annotations="    tarmac.io/serving-runtime: vllm")
        + "---\n"
        + SYSTEM
        + "---\n"
        + component("no-team", owner="team-z")
    )
    day = dt.date(2025, 1, 31)
    assert services.record_adoption(day=day) == 2
    assert services.record_adoption(day=day) == 2  # idempotent
    overall = AdoptionSnapshot.objects.get(date=day, team=None)
    vision = AdoptionSnapshot.objects.get(date=day, team=team)
    assert (overall.entities, overall.bronze, overall.silver, overall.gold) == (3, 2, 1, 0)
    assert (vision.entities, vision.bronze, vision.silver) == (2, 2, 1)
    assert vision.rate_bronze == 100.0 and overall.rate_bronze == 66.7


def test_daily_task_records_adoption(ingest: Ingest, default_checks: list[ScorecardCheck]) -> None:
    from apps.catalog import tasks

    ingest(SYSTEM)
    assert tasks.record_adoption() == 2
    assert AdoptionSnapshot.objects.filter(team=None).get().entities == 1
    assert not AuditEvent.objects.filter(verb="catalog.adoption_recorded").exists()
