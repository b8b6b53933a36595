"""Operators manage scorecard checks in the admin console; entities are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.catalog.models import AdoptionSnapshot, Entity, Location, ScorecardCheck
from apps.catalog.scorecards import PARAM_EXAMPLES
from apps.core.admin_audit import AuditedAdminMixin


@admin.register(ScorecardCheck)
class ScorecardCheckAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "level", "rule", "applies_to_kinds", "applies_to_type", "enabled"]
    list_filter = ["level", "rule", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["name", "description"]
    fieldsets = [
        (None, {"fields": ["name", "description", "level", "enabled", "position"]}),
        (
            "Rule",
            {
                "fields": ["rule", "params", "applies_to_kinds", "applies_to_type"],
                "description": "Parameters by rule: "
                + "; ".join(f"{rule}: {example}" for rule, example in PARAM_EXAMPLES.items()),
            },
        ),
    ]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changes go through the catalog's services (ingest, delete), which audit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Entity)
class EntityAdmin(ReadOnlyAdmin):
    list_display = ["ref", "kind", "type", "owner_ref", "owner_team", "orphaned_at", "updated_at"]
    list_filter = ["kind", "has_errors"]
    search_fields = ["ref", "title"]
    list_select_related = ["owner_team"]
    exclude = ["search_text"]


@admin.register(Location)
class LocationAdmin(ReadOnlyAdmin):
    list_display = ["url", "team", "last_status", "last_read_at"]
    list_filter = ["last_status"]
    search_fields = ["url"]


@admin.register(AdoptionSnapshot)
class AdoptionSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["date", "team", "entities", "bronze", "silver", "gold"]
    list_filter = ["team"]
    date_hierarchy = "date"
