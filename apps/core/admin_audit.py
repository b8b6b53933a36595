"""An admin mixin that writes every operator edit to the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.forms.models import model_to_dict
from django.http import HttpRequest

from apps.audit.services import record


def _snapshot(obj: models.Model) -> dict[str, Any]:
    data = model_to_dict(obj)
    return {
        key: value if isinstance(value, str | int | float | bool | None) else str(value)
        for key, value in data.items()
    }


class AuditedAdminMixin:
    """Records ``admin.created`` / ``admin.changed`` / ``admin.deleted`` with before/after."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = _snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        record(
            actor=request.user,
            verb="admin.changed" if change else "admin.created",
            target=obj,
            team=_team_of(obj),
            before=before,
            after=_snapshot(obj),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        snapshot = _snapshot(obj)
        record(
            actor=request.user,
            verb="admin.deleted",
            target=obj,
            team=_team_of(obj),
            before=snapshot,
        )
        super().delete_model(request, obj)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            record(
                actor=request.user,
                verb="admin.deleted",
                target=deleted,
                team=_team_of(deleted),
                before=_snapshot(deleted),
            )
            deleted.delete()
        for instance in instances:
            is_new = instance.pk is None
            instance.save()
            record(
                actor=request.user,
                verb="admin.created" if is_new else "admin.changed",
                target=instance,
                team=_team_of(instance),
                after=_snapshot(instance),
            )
        formset.save_m2m()


def _team_of(obj: Any) -> Any:
    from apps.accounts.models import Team

    if isinstance(obj, Team):
        return obj if obj.pk else None
    return getattr(obj, "team", None)
