"""Querysets of the accounts app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class TeamQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> TeamQuerySet:
        """Every signed-in user may browse teams: ownership is public inside the org."""
        if not user.is_authenticated:
            return self.none()
        return self

    def of_user(self, user: AbstractBaseUser | AnonymousUser) -> TeamQuerySet:
        """The teams the user is a member (or maintainer) of."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user).distinct()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        """Tokens that are neither revoked nor expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ApiTokenQuerySet:
        """Your personal tokens, the tokens of teams you maintain; operators see all."""
        from apps.accounts.roles import is_operator, maintained_team_ids

        if not user.is_authenticated:
            return self.none()
        if is_operator(user):
            return self
        return self.filter(
            models.Q(team__isnull=True, user=user) | models.Q(team_id__in=maintained_team_ids(user))
        )
