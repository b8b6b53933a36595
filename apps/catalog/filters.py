"""The catalog's filters, shared by the list page, the YAML export and the API.

Owner and system accept what people write in descriptors (``team-a``,
``group:team-a``, ``group:default/team-a``) and compare the canonical reference, so the
indexed ``owner_ref``/``system_ref`` columns serve them.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef

from apps.accounts.roles import team_ids_of
from apps.catalog.choices import EntityKind
from apps.catalog.models import Entity, Star
from apps.catalog.refs import RefError, parse_ref

SCOPES = [("all", "All"), ("mine", "Owned by my teams"), ("starred", "Starred")]
SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "kind": ("kind", "name", "id"),
    "type": ("type", "name", "id"),
    "owner": ("owner_ref", "name", "id"),
    "lifecycle": ("lifecycle", "name", "id"),
    "-updated": ("-updated_at", "-id"),
}
SORT_CHOICES = [
    ("name", "Name (A to Z)"),
    ("-name", "Name (Z to A)"),
    ("kind", "Kind"),
    ("type", "Type"),
    ("owner", "Owner"),
    ("lifecycle", "Lifecycle"),
    ("-updated", "Recently changed"),
]
YES_NO = [("1", "Only these"), ("0", "Hide these")]


def canonical_or_none(text: str, default_kind: str) -> str | None:
    try:
        return parse_ref(text, default_kind=default_kind).canonical
    except RefError:
        return None


class EntityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    scope = django_filters.ChoiceFilter(
        method="filter_scope", choices=SCOPES, label="Show", empty_label=None
    )
    kind = django_filters.ChoiceFilter(choices=EntityKind.choices, label="Kind", empty_label="Any")
    type = django_filters.CharFilter(field_name="type", label="Type")
    owner = django_filters.CharFilter(method="filter_owner", label="Owner")
    lifecycle = django_filters.CharFilter(field_name="lifecycle", label="Lifecycle")
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")
    namespace = django_filters.CharFilter(method="filter_namespace", label="Namespace")
    system = django_filters.CharFilter(method="filter_system", label="System")
    orphaned = django_filters.ChoiceFilter(
        method="filter_orphaned", choices=YES_NO, label="Orphaned", empty_label="Show too"
    )
    errors = django_filters.ChoiceFilter(
        method="filter_errors", choices=YES_NO, label="With errors", empty_label="Show too"
    )
    sort = django_filters.ChoiceFilter(
        method="filter_sort", choices=SORT_CHOICES, label="Sort by", empty_label=None
    )

    class Meta:
        model = Entity
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("owner", "tag", "system", "type", "lifecycle", "namespace"):
            self.filters[name].field.widget = forms.TextInput(attrs={"list": f"facet-{name}"})
        self.filters["q"].field.widget = forms.TextInput(
            attrs={"type": "search", "placeholder": "name, title, description, tag"}
        )

    @property
    def user(self) -> Any:
        return getattr(self.request, "user", None)

    def filter_q(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.search(value)

    def filter_scope(self, queryset: Any, name: str, value: str) -> Any:
        user = self.user
        if value == "mine" and user is not None:
            return queryset.owned_by_teams(team_ids_of(user))
        if value == "starred" and user is not None:
            return queryset.filter(Exists(Star.objects.filter(user=user, entity=OuterRef("pk"))))
        return queryset

    def filter_owner(self, queryset: Any, name: str, value: str) -> Any:
        ref = canonical_or_none(value, "group")
        return queryset.filter(owner_ref=ref) if ref else queryset.none()

    def filter_system(self, queryset: Any, name: str, value: str) -> Any:
        ref = canonical_or_none(value, "system")
        return queryset.filter(system_ref=ref) if ref else queryset.none()

    def filter_namespace(self, queryset: Any, name: str, value: str) -> Any:
        # Namespaces are lower-case DNS labels, so an exact match on the indexed column.
        return queryset.filter(namespace=value.strip().lower())

    def filter_tag(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.with_tag(value.strip())

    def filter_orphaned(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(orphaned_at__isnull=value != "1")

    def filter_errors(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(has_errors=value == "1")

    def filter_sort(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.order_by(*SORTS.get(value, SORTS["name"]))
