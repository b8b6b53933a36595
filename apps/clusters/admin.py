"""Operators manage clusters and team namespaces in the admin console.

A cluster's credential *locations* (token file, kubeconfig, CA file) are shown to
operators here; their contents are never read for display. Audit snapshots of a cluster
carry a fingerprint of each location instead of the path, because the audit trail is
shown in the portal.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.audit.services import record
from apps.clusters import services
from apps.clusters.forms import ClusterAdminForm
from apps.clusters.models import (
    Cluster,
    GpuCapacity,
    GpuNode,
    GpuUsageHour,
    NamespaceGpuUsage,
    TeamNamespace,
)
from apps.core.admin_audit import AuditedAdminMixin
from apps.core.errors import DomainError


def cluster_snapshot(cluster: Cluster) -> dict[str, Any]:
    """The cluster's fields for the audit trail, credential locations fingerprinted."""
    data = {
        key: value if isinstance(value, str | int | float | bool | list | None) else str(value)
        for key, value in model_to_dict(cluster).items()
    }
    for name in services.CREDENTIAL_FIELDS:
        data[name] = services.fingerprint(getattr(cluster, name))
    return data


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, ops: list[Any], what: str) -> None:
    if not ops:
        return
    links = format_html_join(
        ", ",
        '<a href="{}">#{}</a>',
        ((reverse("operation-detail", args=[op.pk]), op.pk) for op in ops),
    )
    modeladmin.message_user(
        request, format_html("{} queued: operation {}.", what, links), messages.SUCCESS
    )


class TeamNamespaceInline(admin.TabularInline):
    model = TeamNamespace
    extra = 1
    autocomplete_fields = ["team"]


@admin.register(Cluster)
class ClusterAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ClusterAdminForm
    list_display = [
        "name",
        "display_name",
        "region",
        "auth_method",
        "uses_kueue",
        "uses_kserve",
        "is_active",
        "last_sync_status",
        "last_sync_at",
    ]
    list_filter = ["is_active", "auth_method", "last_sync_status", "uses_kueue", "uses_kserve"]
    search_fields = ["name", "display_name", "region"]
    readonly_fields = [
        "last_sync_at",
        "last_sync_status",
        "last_sync_error",
        "last_sync_duration_ms",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "display_name", "description", "region", "is_active"]}),
        (
            "How Tarmac connects (credential files are read by the worker, never shown)",
            {
                "fields": [
                    "auth_method",
                    "api_url",
                    "token_file",
                    "kubeconfig_path",
                    "kube_context",
                    "ca_cert_path",
                    "verify_ssl",
                    "timeout_seconds",
                ]
            },
        ),
        (
            "What it runs",
            {
                "fields": [
                    "uses_kueue",
                    "uses_kserve",
                    "gpu_products",
                    "allow_overcommit",
                    "drift_policy",
                ]
            },
        ),
        (
            "Inventory sync",
            {
                "fields": [
                    "last_sync_at",
                    "last_sync_status",
                    "last_sync_error",
                    "last_sync_duration_ms",
                    "created_at",
                ]
            },
        ),
    ]
    inlines = [TeamNamespaceInline]
    actions = ["test_connection_action", "sync_inventory_action"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Not AuditedAdminMixin.save_model: its snapshot would copy credential paths.
        before = cluster_snapshot(Cluster.objects.get(pk=obj.pk)) if change and obj.pk else None
        admin.ModelAdmin.save_model(self, request, obj, form, change)
        record(
            actor=request.user,
            verb="admin.changed" if change else "admin.created",
            target=obj,
            before=before,
            after=cluster_snapshot(obj),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        record(actor=request.user, verb="admin.deleted", target=obj, before=cluster_snapshot(obj))
        admin.ModelAdmin.delete_model(self, request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Cluster]) -> None:
        for cluster in queryset:
            self.delete_model(request, cluster)

    @admin.action(description="Test connection")
    def test_connection_action(self, request: HttpRequest, queryset: QuerySet[Cluster]) -> None:
        self._queue(request, queryset, services.test_connection, "Connection test")

    @admin.action(description="Sync inventory now")
    def sync_inventory_action(self, request: HttpRequest, queryset: QuerySet[Cluster]) -> None:
        self._queue(request, queryset, services.request_inventory_sync, "Inventory sync")

    def _queue(
        self, request: HttpRequest, queryset: QuerySet[Cluster], act: Any, what: str
    ) -> None:
        ops = []
        for cluster in queryset:
            try:
                ops.append(act(cluster, actor=request.user))
            except DomainError as exc:
                self.message_user(request, f"{cluster.name}: {exc.message}", messages.ERROR)
        _report(self, request, ops, what)


@admin.register(TeamNamespace)
class TeamNamespaceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "cluster", "team", "created_at"]
    list_filter = ["cluster", "team"]
    search_fields = ["name", "team__slug", "cluster__name"]
    autocomplete_fields = ["team"]
    actions = ["ensure_on_cluster_action"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TeamNamespace]:
        return super().get_queryset(request).select_related("cluster", "team")

    @admin.action(description="Create namespace on the cluster")
    def ensure_on_cluster_action(
        self, request: HttpRequest, queryset: QuerySet[TeamNamespace]
    ) -> None:
        ops = []
        for tns in queryset.select_related("cluster", "team"):
            try:
                ops.append(services.ensure_team_namespace(tns, actor=request.user))
            except DomainError as exc:
                self.message_user(request, f"{tns}: {exc.message}", messages.ERROR)
        _report(self, request, ops, "Namespace creation")


class ReadOnlyAdmin(admin.ModelAdmin):
    """The inventory collector writes these; operators only read them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GpuNode)
class GpuNodeAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "cluster",
        "gpu_product",
        "gpu_allocatable",
        "ready",
        "unschedulable",
        "last_seen_at",
    ]
    list_filter = ["cluster", "gpu_product", "ready"]
    search_fields = ["name"]
    list_select_related = ["cluster"]


@admin.register(GpuCapacity)
class GpuCapacityAdmin(ReadOnlyAdmin):
    list_display = [
        "cluster",
        "gpu_product",
        "nodes",
        "ready_nodes",
        "allocatable",
        "requested",
        "updated_at",
    ]
    list_filter = ["cluster", "gpu_product"]
    list_select_related = ["cluster"]


@admin.register(NamespaceGpuUsage)
class NamespaceGpuUsageAdmin(ReadOnlyAdmin):
    list_display = ["cluster", "namespace", "gpu_product", "requested", "pods", "updated_at"]
    list_filter = ["cluster", "gpu_product"]
    search_fields = ["namespace"]
    list_select_related = ["cluster"]


@admin.register(GpuUsageHour)
class GpuUsageHourAdmin(ReadOnlyAdmin):
    list_display = ["hour", "cluster", "gpu_product", "namespace", "allocatable", "requested"]
    list_filter = ["cluster", "gpu_product"]
    date_hierarchy = "hour"
    list_select_related = ["cluster"]
