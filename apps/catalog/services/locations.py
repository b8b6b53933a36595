"""Registered locations: register, refresh on demand, unregister, record each read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import is_member, is_operator
from apps.audit.services import record
from apps.catalog.models import CatalogState, Entity, Location, Source
from apps.catalog.services.ingest import can_use_team
from apps.core.errors import Conflict, DomainError, NotAllowed

# --- Locations ---------------------------------------------------------------------------


def validate_location_url(url: str) -> str:
    """Only absolute http(s) URLs: never file:// or other schemes (they would read the host)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DomainError("A location must be an absolute http:// or https:// URL.", field="url")
    return url


def register_location(url: str, *, actor: Any, team: Team) -> Location:
    """Register ``url`` for ``team``; its first read is queued after commit."""
    url = validate_location_url(url)
    if not can_use_team(actor, team):
        raise NotAllowed(f"You are not a member of team {team.slug}.", field="team")
    with transaction.atomic():
        if Location.objects.filter(url=url).exists():
            raise Conflict("This URL is already registered.", field="url")
        location = Location.objects.create(url=url, team=team, created_by=actor)
        record(
            actor=actor,
            verb="catalog.location_registered",
            target=location,
            team=team,
            after={"url": url},
        )
        transaction.on_commit(lambda: _enqueue_refresh(location.pk))
    return location


def _enqueue_refresh(location_id: int) -> None:
    from apps.catalog.tasks import refresh_location

    refresh_location.delay(location_id)


def can_manage_location(user: Any, location: Location) -> bool:
    return is_operator(user) or is_member(user, location.team_id)


def request_refresh(location: Location, *, actor: Any) -> None:
    """Queue a read of the location now (its team's members and operators)."""
    if not can_manage_location(actor, location):
        raise NotAllowed("Only the location's team and operators refresh it.")
    transaction.on_commit(lambda: _enqueue_refresh(location.pk))


def delete_location(location: Location, *, actor: Any) -> int:
    """Unregister a location: its entities stay, orphaned, until someone deletes them."""
    if not can_manage_location(actor, location):
        raise NotAllowed("Only the location's team and operators unregister it.")
    with transaction.atomic():
        now = timezone.now()
        orphaned = Entity.objects.filter(
            source__location=location, orphaned_at__isnull=True
        ).update(orphaned_at=now)
        record(
            actor=actor,
            verb="catalog.location_deleted",
            target=location,
            team=location.team,
            before={"url": location.url},
            after={"orphaned": orphaned},
        )
        location.delete()
        if orphaned:
            CatalogState.bump()
    return orphaned


def orphan_sources(sources: Iterable[Source], *, location: Location) -> list[str]:
    """Orphan the entities of files a location no longer reaches (one audit event)."""
    source_ids = [s.pk for s in sources]
    if not source_ids:
        return []
    with transaction.atomic():
        entities = Entity.objects.filter(source_id__in=source_ids, orphaned_at__isnull=True)
        refs = list(entities.values_list("ref", flat=True))
        if refs:
            entities.update(orphaned_at=timezone.now())
            CatalogState.bump()
            record(
                actor=None,
                verb="catalog.ingested",
                target=location,
                team=location.team,
                after={
                    "created": 0,
                    "updated": 0,
                    "unchanged": 0,
                    "orphaned": len(refs),
                    "orphaned_refs": refs[:50],
                    "reason": "file no longer referenced",
                },
            )
    return refs


def record_location_read(
    location: Location, *, status: str, error: str, counts: dict[str, int]
) -> None:
    """Remember the outcome of a location read (not audited: nothing in the catalog changed)."""
    Location.objects.filter(pk=location.pk).update(
        last_read_at=timezone.now(), last_status=status, last_error=error[:8000], last_counts=counts
    )
