"""Operators see the registry and manage promotion policies (team defaults included)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin_audit import AuditedAdminMixin
from apps.core.errors import DomainError
from apps.registry import services
from apps.registry.models import (
    AliasHistory,
    ModelAlias,
    ModelVersion,
    PolicyRule,
    PromotionPolicy,
    PromotionRequest,
    RegisteredModel,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Registry rows change through the portal and the API (audited services) only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "team", "latest_version", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    show_full_result_count = False


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "status", "stage", "framework", "created_at"]
    list_filter = ["status", "stage"]
    search_fields = ["model__name", "run_id"]
    list_select_related = ["model"]
    show_full_result_count = False


@admin.register(ModelAlias)
class ModelAliasAdmin(ReadOnlyAdmin):
    list_display = ["model", "alias", "version", "updated_by", "updated_at"]
    search_fields = ["model__name", "alias"]
    list_select_related = ["model", "version", "updated_by"]


@admin.register(AliasHistory)
class AliasHistoryAdmin(ReadOnlyAdmin):
    list_display = ["at", "model", "kind", "target", "from_version", "to_version", "actor"]
    list_select_related = ["model", "from_version", "to_version", "actor"]


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "model", "version", "target_kind", "target", "status", "requested_by"]
    list_filter = ["status", "target_kind"]
    list_select_related = ["model", "version", "requested_by"]


class RuleFormSet(forms.BaseInlineFormSet):
    """Refuses rules whose metric no version has (the gate could never pass)."""

    def clean(self) -> None:
        super().clean()
        policy = self.instance
        rules = [
            {"metric": f.cleaned_data["metric"], "dataset": f.cleaned_data.get("dataset", "")}
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        team_id = policy.model.team_id if policy.model_id else policy.team_id
        if not team_id:
            return
        try:
            services.check_metrics_exist(rules, model=policy.model, team_id=team_id)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class PolicyRuleInline(admin.TabularInline):
    model = PolicyRule
    formset = RuleFormSet
    extra = 1


@admin.register(PromotionPolicy)
class PromotionPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "target_kind", "target", "requires_approval", "updated_at"]
    list_filter = ["target_kind", "requires_approval", "team"]
    autocomplete_fields = ["model"]
    inlines = [PolicyRuleInline]
