"""The Operation: every action a worker performs on the outside world is one row."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.choices import TERMINAL_OPERATION_STATUSES, OperationStatus
from apps.core.querysets import OperationQuerySet


class Operation(models.Model):
    """One unit of work for a Celery worker, created before its task is enqueued.

    State machine::

        pending ──claim──▶ running ──▶ succeeded            (terminal)
           ▲                  │  └───▶ failed ──retry──▶ pending
           │                  └──────▶ retrying ──claim──▶ running
           └──── re-drive (lease expired / task lost) ─────┘

    ``succeeded`` is terminal; ``failed`` is terminal unless a lead or operator retries
    it. The row is the source of truth the UI polls: attempts, last error, result.
    """

    Status = OperationStatus

    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=16, choices=OperationStatus.choices, default=OperationStatus.PENDING
    )
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=6)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="operations",
    )
    claimed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="operation_status_updated"),
            models.Index(fields=["target_type", "target_id"], name="operation_target"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_OPERATION_STATUSES

    @property
    def can_retry(self) -> bool:
        return self.status == OperationStatus.FAILED
