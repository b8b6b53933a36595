"""Entity changes other than ingest: delete, star, and export to catalog-info.yaml."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from apps.audit.services import record
from apps.catalog.descriptors import dump_document
from apps.catalog.models import CatalogState, Entity, Star
from apps.catalog.services.ingest import can_edit_entity, refuse

# --- Delete, star ------------------------------------------------------------------------


def snapshot(entity: Entity) -> dict[str, Any]:
    return {
        "ref": entity.ref,
        "owner": entity.owner_ref,
        "source": entity.source.key if entity.source_id and entity.source else "",
        "orphaned": entity.orphaned_at is not None,
        "content_hash": entity.content_hash,
    }


def delete_entity(entity: Entity, *, actor: Any, reason: str = "") -> None:
    """Remove an entity and the relations it declared; relations to it become unresolved."""
    if not can_edit_entity(actor, entity):
        raise refuse(entity.ref, entity.owner_team)
    with transaction.atomic():
        record(
            actor=actor,
            verb="catalog.entity_deleted",
            target=entity,
            team=entity.owner_team,
            before=snapshot(entity),
            reason=reason,
        )
        entity.delete()
        CatalogState.bump()


def toggle_star(entity: Entity, *, actor: Any) -> bool:
    """Star or unstar ``entity`` for ``actor``; returns whether it is starred now."""
    with transaction.atomic():
        deleted, _ = Star.objects.filter(user=actor, entity=entity).delete()
        starred = not deleted
        if starred:
            Star.objects.create(user=actor, entity=entity)
        record(
            actor=actor,
            verb="catalog.entity_starred" if starred else "catalog.entity_unstarred",
            target=entity,
        )
    return starred


# --- Export -----------------------------------------------------------------------------


def export_yaml(entities: Iterable[Entity]) -> str:
    """The entities as one ``catalog-info.yaml``: each document exactly as it was ingested."""
    parts = [e.raw_text or dump_document(e.descriptor) for e in entities]
    return "---\n".join(part if part.endswith("\n") else part + "\n" for part in parts)
