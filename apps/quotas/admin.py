"""Operators manage auto-approve rules and Kueue flavor mappings (audited), and see
requests and namespace quota states. Requests change only through the portal and the
API (audited services), never by editing rows here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin_audit import AuditedAdminMixin
from apps.quotas.models import (
    AutoApproveRule,
    KueueFlavorMapping,
    NamespaceQuotaState,
    QuotaRequest,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(QuotaRequest)
class QuotaRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "team",
        "cluster",
        "namespace",
        "gpu_product",
        "gpus",
        "granted_gpus",
        "status",
        "starts_on",
        "ends_on",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "cluster", "gpu_product", "auto_approved"]
    search_fields = ["team__slug", "namespace__name", "requested_by__username", "justification"]
    list_select_related = ["team", "cluster", "namespace", "requested_by"]
    date_hierarchy = "created_at"


@admin.register(NamespaceQuotaState)
class NamespaceQuotaStateAdmin(ReadOnlyAdmin):
    list_display = [
        "namespace",
        "desired_gpus",
        "observed_gpus",
        "last_applied_at",
        "last_checked_at",
        "drifted_at",
    ]
    list_filter = ["namespace__cluster"]
    list_select_related = ["namespace__cluster"]


@admin.register(AutoApproveRule)
class AutoApproveRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["team", "cluster", "max_gpus", "max_days", "is_active", "created_at"]
    list_filter = ["cluster", "is_active"]
    list_select_related = ["team", "cluster"]


@admin.register(KueueFlavorMapping)
class KueueFlavorMappingAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["cluster", "gpu_product", "flavor", "cluster_queue_template", "local_queue"]
    list_filter = ["cluster"]
    list_select_related = ["cluster"]
