"""Querysets of the clusters app."""

from __future__ import annotations

from typing import Any

from django.db import models


class ClusterQuerySet(models.QuerySet):
    def active(self) -> ClusterQuerySet:
        """Clusters not retired by an operator."""
        return self.filter(is_active=True)

    def visible_to(self, user: Any) -> ClusterQuerySet:
        """Every signed-in user sees the clusters and their capacity (not credentials)."""
        if not user.is_authenticated:
            return self.none()
        return self.active()


class TeamNamespaceQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> TeamNamespaceQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(cluster__is_active=True)

    def owned_by_user(self, user: Any) -> TeamNamespaceQuerySet:
        """Namespaces of the teams the user belongs to."""
        from apps.accounts.roles import team_ids_of

        return self.filter(team_id__in=team_ids_of(user), cluster__is_active=True)
