"""Writing the audit trail. Every service function that changes state calls ``record``."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.audit.models import AuditEvent
from apps.core.request_context import current_request_id


def describe(obj: models.Model) -> tuple[str, str, str]:
    """Return (target_type, target_id, target_repr) for a model instance."""
    return obj._meta.label_lower, str(obj.pk), str(obj)[:200]


def record(
    *,
    actor: Any,
    verb: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    team: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one audit event. ``actor=None`` means the system itself acted."""
    if target is not None:
        target_type, target_id, target_repr = describe(target)
    actor_user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor_user,
        actor_label=actor_user.get_username() if actor_user else "system",
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        team=team,
        before=before,
        after=after,
        reason=reason,
        request_id=current_request_id(),
    )
