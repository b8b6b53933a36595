"""Querysets of the audit trail. There is no update or delete path."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> AuditEventQuerySet:
        """Leads and operators read everything; members read their teams' and their own."""
        from apps.accounts.roles import is_operator, is_platform_lead, team_ids_of

        if not user.is_authenticated:
            return self.none()
        if is_operator(user) or is_platform_lead(user):
            return self
        return self.filter(models.Q(team_id__in=team_ids_of(user)) | models.Q(actor=user))

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only: they cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only: they cannot be updated")
