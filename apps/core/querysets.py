"""Querysets of the core app, scoped by the viewing user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class OperationQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> OperationQuerySet:
        """Leads and operators see every operation; members see their teams' and their own."""
        from apps.accounts.roles import is_operator, is_platform_lead, team_ids_of

        if not user.is_authenticated:
            return self.none()
        if is_operator(user) or is_platform_lead(user):
            return self
        return self.filter(models.Q(team_id__in=team_ids_of(user)) | models.Q(created_by=user))

    def active(self) -> OperationQuerySet:
        return self.exclude(status__in=["succeeded", "failed"])

    def for_target(self, obj: Any) -> OperationQuerySet:
        return self.filter(target_type=obj._meta.label_lower, target_id=str(obj.pk))
