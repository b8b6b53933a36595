"""Filters of the model list page. Each one is an indexed EXISTS or a plain column test,
so the page's query count and cost do not grow with the number of versions.

Plain code rather than a django-filter FilterSet: the page is on the bench's hot path,
and a FilterSet deep-copies its filters and form fields on every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from apps.registry.choices import Stage
from apps.registry.models import ModelAlias, ModelTag, ModelVersion

SORTS = [
    ("-updated", "Last updated (newest first)"),
    ("updated", "Last updated (oldest first)"),
    ("name", "Name"),
]
_SORT_FIELDS = {
    "-updated": ("-updated_at", "name"),
    "updated": ("updated_at", "name"),
    "name": ("name",),
}


@dataclass
class ModelFilters:
    """The list page's filters, read from the query string; ``errors`` name bad ones."""

    q: str = ""
    team: str = ""
    tag: str = ""
    has_production: str = ""
    stage: str = ""
    framework: str = ""
    sort: str = "-updated"
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ModelFilters:
        value = {k: (params.get(k) or "").strip() for k in _FIELDS}
        filters = cls(
            q=value["q"],
            team=value["team"],
            tag=value["tag"],
            has_production=value["has_production"],
            stage=value["stage"],
            framework=value["framework"],
            sort=value["sort"],
        )
        if not filters.sort:
            filters.sort = "-updated"
        if filters.sort not in _SORT_FIELDS:
            filters.errors["sort"] = f"Unknown sort order {filters.sort!r}."
        if filters.has_production not in ("", "true", "false"):
            filters.errors["has_production"] = "Use true or false."
        if filters.stage and filters.stage not in Stage.values:
            filters.errors["stage"] = f"Unknown stage {filters.stage!r}."
        return filters

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow and order the models; invalid filters match nothing (and say why)."""
        if self.errors:
            return queryset.none()
        qs = queryset
        if self.q:
            qs = qs.filter(name__icontains=self.q)
        if self.team:
            qs = qs.filter(team__slug=self.team)
        if self.tag:
            key, sep, value = self.tag.partition("=")
            tags = ModelTag.objects.filter(model=OuterRef("pk"), key=key.strip())
            qs = qs.filter(Exists(tags.filter(value=value.strip()) if sep else tags))
        if self.has_production:
            prod = Exists(ModelAlias.objects.filter(model=OuterRef("pk"), alias="production"))
            qs = qs.filter(prod) if self.has_production == "true" else qs.exclude(prod)
        if self.stage:
            qs = qs.filter(
                Exists(ModelVersion.objects.filter(model=OuterRef("pk"), stage=self.stage))
            )
        if self.framework:
            qs = qs.filter(
                Exists(ModelVersion.objects.filter(model=OuterRef("pk"), framework=self.framework))
            )
        return qs.order_by(*_SORT_FIELDS[self.sort])


_FIELDS = ("q", "team", "tag", "has_production", "stage", "framework", "sort")
