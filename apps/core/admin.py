"""Operators see and retry operations in the admin console."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core import services
from apps.core.errors import DomainError
from apps.core.models import Operation


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "target_repr", "team", "attempts", "updated_at"]
    list_filter = ["status", "kind"]
    search_fields = ["target_repr", "target_id", "last_error"]
    readonly_fields = [f.name for f in Operation._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Retry the selected failed operations")
    def retry(self, request: HttpRequest, queryset: QuerySet[Operation]) -> None:
        done = 0
        for op in queryset:
            try:
                services.retry_operation(op, actor=request.user, reason="retried from admin")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{op.pk}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} operation(s) queued again.", messages.SUCCESS)
