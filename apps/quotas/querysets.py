"""Querysets of the quotas app, scoped by the viewing user."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.quotas.choices import IN_FORCE_STATUSES, OPEN_STATUSES, RESERVED_STATUSES


class QuotaRequestQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> QuotaRequestQuerySet:
        """Platform leads and operators see every request; members see their teams'."""
        from apps.accounts.roles import is_operator, is_platform_lead, team_ids_of

        if not user.is_authenticated:
            return self.none()
        if is_operator(user) or is_platform_lead(user):
            return self
        return self.filter(team_id__in=team_ids_of(user))

    def open(self) -> QuotaRequestQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def awaiting(self, user: Any) -> QuotaRequestQuerySet:
        """Submitted requests this lead may decide: everyone's but their own."""
        return self.filter(status="submitted").exclude(requested_by=user)

    def in_force(self) -> QuotaRequestQuerySet:
        """Grants the cluster should hold (applying or active)."""
        return self.filter(status__in=IN_FORCE_STATUSES)

    def reserved(self) -> QuotaRequestQuerySet:
        """Grants that hold capacity (approved, applying or active)."""
        return self.filter(status__in=RESERVED_STATUSES)
