"""Querysets of the catalog, scoped by the viewing user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def normalise_search(text: str) -> list[str]:
    """The words of a search box, lower-cased (each must appear somewhere)."""
    return [word for word in text.lower().split() if word][:8]


class EntityQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> EntityQuerySet:
        """Every signed-in user browses the whole catalog: ownership is public in the org."""
        if not user.is_authenticated:
            return self.none()
        return self

    def active(self) -> EntityQuerySet:
        """Entities that their source still holds (not orphaned)."""
        return self.filter(orphaned_at__isnull=True)

    def search(self, text: str) -> EntityQuerySet:
        """Every word of ``text`` in the name, title, description or tags."""
        qs = self
        for word in normalise_search(text):
            qs = qs.filter(search_text__contains=word)
        return qs

    def owned_by_teams(self, team_ids: Any) -> EntityQuerySet:
        return self.filter(owner_team_id__in=team_ids)

    def starred_by(self, user: Any) -> EntityQuerySet:
        return self.filter(stars__user=user)

    def with_tag(self, tag: str) -> EntityQuerySet:
        return self.filter(tag_rows__tag=tag.lower())


class RelationQuerySet(models.QuerySet):
    def of_ref(self, ref: str) -> RelationQuerySet:
        """Relations of the entity ``ref`` (both directions are stored as its rows)."""
        return self.filter(source_ref=ref)
