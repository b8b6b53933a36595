"""Scorecards of entities and the daily paved-road adoption per team and overall."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.catalog.models import AdoptionSnapshot, Entity, Relation, ScorecardCheck
from apps.catalog.scorecards import RelationFact, Scorecard, score

# --- Scorecards and adoption --------------------------------------------------------------


def relation_facts(entity_ids: list[int]) -> dict[int, list[RelationFact]]:
    """The relations each of ``entity_ids`` has, for the scorecard rules (one query)."""
    refs = dict(Entity.objects.filter(pk__in=entity_ids).values_list("ref", "pk"))
    facts: dict[int, list[RelationFact]] = defaultdict(list)
    rows = Relation.objects.filter(source_ref__in=list(refs)).values_list(
        "source_ref", "type", "target_ref", "target_entity_id"
    )
    seen: set[tuple[str, str, str]] = set()
    for source_ref, rel_type, target_ref, target_id in rows:
        if (source_ref, rel_type, target_ref) in seen:
            continue
        seen.add((source_ref, rel_type, target_ref))
        facts[refs[source_ref]].append(RelationFact(rel_type, target_ref, target_id is not None))
    return facts


def scorecard_for(entity: Entity, relations: list[Relation]) -> Scorecard:
    checks = list(ScorecardCheck.objects.filter(enabled=True))
    facts = [RelationFact(r.type, r.target_ref, r.target_entity_id is not None) for r in relations]
    return score(entity, checks, facts)


@dataclass
class _Tally:
    entities: int = 0
    bronze: int = 0
    silver: int = 0
    gold: int = 0

    def add(self, card: Scorecard) -> None:
        self.entities += 1
        self.bronze += card.at_or_above("bronze")
        self.silver += card.at_or_above("silver")
        self.gold += card.at_or_above("gold")


def compute_adoption() -> tuple[_Tally, dict[int, _Tally]]:
    """Score every active entity: the overall tally and one per owner team."""
    checks = list(ScorecardCheck.objects.filter(enabled=True))
    overall = _Tally()
    per_team: dict[int, _Tally] = defaultdict(_Tally)
    if not checks:
        return overall, per_team
    ids = list(Entity.objects.active().order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        facts = relation_facts(chunk)
        entities = Entity.objects.filter(pk__in=chunk).only(
            "pk",
            "kind",
            "type",
            "descriptor",
            "annotations",
            "links",
            "tags",
            "owner_ref",
            "owner_team_id",
        )
        for entity in entities:
            card = score(entity, checks, facts.get(entity.pk, []))
            if not card.scored:
                continue
            overall.add(card)
            if entity.owner_team_id:
                per_team[entity.owner_team_id].add(card)
    return overall, per_team


def record_adoption(*, day: dt.date | None = None, actor: Any = None) -> int:
    """Store the day's adoption per team and overall (idempotent per day). Returns rows."""
    day = day or timezone.localdate()
    overall, per_team = compute_adoption()
    with transaction.atomic():
        rows = [(None, overall), *per_team.items()]
        if actor is not None:  # the daily beat rollup is a metric, an operator's click an act
            record(
                actor=actor,
                verb="catalog.adoption_recorded",
                target_type="catalog.adoptionsnapshot",
                target_id=day.isoformat(),
                target_repr=f"adoption on {day.isoformat()}",
                after={
                    "entities": overall.entities,
                    "bronze": overall.bronze,
                    "silver": overall.silver,
                    "gold": overall.gold,
                },
            )
        for team_id, tally in rows:
            lookup: dict[str, Any] = {"date": day, "team_id": team_id}
            AdoptionSnapshot.objects.update_or_create(
                **lookup,
                defaults={
                    "entities": tally.entities,
                    "bronze": tally.bronze,
                    "silver": tally.silver,
                    "gold": tally.gold,
                },
            )
    return len(rows)
