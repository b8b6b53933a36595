"""Writing the audit trail. Every service function that changes state calls ``record``."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core import db
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
    event = build_event(
        actor=actor,
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        team=team,
        before=before,
        after=after,
        reason=reason,
    )
    if db.is_postgres():
        # Nearly every write appends an event: one prepared statement (apps/core/db.py)
        # instead of an ORM insert compiled on every call.
        sql, params = insert_select(event)
        event.pk = db.fetch(sql + " RETURNING id", params)[0][0]
        event._state.adding = False
        event._state.db = "default"
    else:
        event.save()
    return event


def build_event(*, actor: Any, verb: str, team: Any = None, **fields: Any) -> AuditEvent:
    """An unsaved event with the actor, request id and time filled in."""
    actor_user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent(
        actor=actor_user,
        actor_label=actor_user.get_username() if actor_user else "system",
        verb=verb,
        team=team,
        request_id=current_request_id(),
        created_at=timezone.now(),
        **fields,
    )


_COLUMNS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]


def insert_select(
    event: AuditEvent, computed: dict[str, tuple[str, list[Any]]] | None = None
) -> tuple[str, list[Any]]:
    """``INSERT INTO <audit table> (…) SELECT …`` and its parameters, for ``event``.

    A caller that writes and audits in **one statement** (registry/fast.py, so that a
    row lock is held for one round trip only) embeds this as a CTE and appends its own
    ``FROM``; ``computed`` gives, for columns known only inside that statement (the new
    row's id, say), an SQL expression and its parameters.
    """
    computed = computed or {}
    values, params = [], []
    for field in _COLUMNS:
        if field.attname in computed:
            expression, extra = computed[field.attname]
            values.append(expression)
            params.extend(extra)
            continue
        value = getattr(event, field.attname)
        if isinstance(field, models.JSONField):
            values.append("%s::jsonb")
            value = None if value is None else json.dumps(value)
        else:
            values.append("%s")
        params.append(value)
    columns = ", ".join(str(f.column) for f in _COLUMNS)
    sql = f"INSERT INTO {AuditEvent._meta.db_table} ({columns}) SELECT {', '.join(values)}"
    return sql, params
