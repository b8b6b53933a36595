"""Querysets of the model registry, scoped by the viewing user.

The registry is readable by every signed-in user (ownership is public inside the
organisation, as for teams); what a user may change is decided in services.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class RegisteredModelQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> RegisteredModelQuerySet:
        """Every signed-in user may browse the registry."""
        if not user.is_authenticated:
            return self.none()
        return self

    def by_name(self, name: str) -> RegisteredModelQuerySet:
        """Match a name whatever its case (names are unique case-insensitively)."""
        return self.filter(name__iexact=name)


class ModelVersionQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ModelVersionQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self


class PromotionRequestQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> PromotionRequestQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self

    def open(self) -> PromotionRequestQuerySet:
        return self.filter(status="submitted")

    def awaiting(self, user: Any) -> PromotionRequestQuerySet:
        """Open requests this lead may decide: everyone's but their own."""
        return self.open().exclude(requested_by=user)
