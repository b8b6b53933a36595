"""The audit event."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from apps.audit.querysets import AppendOnlyError, AuditEventQuerySet


class AuditEvent(models.Model):
    """One thing that happened: who (actor), what (verb, target), when, why (reason).

    Append-only: the model refuses updates and deletes, the queryset refuses bulk
    ones, and on PostgreSQL a trigger refuses them in the database too. Users and
    teams that appear in the trail are protected from deletion (deactivate instead).
    ``actor`` is empty for the system (beat reconcilers, expiry).
    """

    # actor and team are indexed by the (actor, -id) and (team, -id) indexes below; every
    # write in Tarmac appends an event, so no index is kept twice.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        db_index=False,
    )
    actor_label = models.CharField(max_length=150)
    verb = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["actor", "-id"], name="audit_actor_id"),
            models.Index(fields=["team", "-id"], name="audit_team_id"),
            models.Index(fields=["verb", "-id"], name="audit_verb_id"),
            models.Index(fields=["target_type", "target_id", "-id"], name="audit_target_id"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.verb} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events are append-only: they cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")
