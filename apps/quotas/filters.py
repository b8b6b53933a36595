"""Filters and sort orders of the approval queue. Each filter is a plain indexed column
test, so the page's query count and cost do not grow with the number of requests.

Plain code rather than a django-filter FilterSet, as in the registry: the queue is on
the bench's hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.quotas.choices import OPEN_STATUSES, QuotaStatus

SORTS = [
    ("oldest", "Waiting longest first"),
    ("newest", "Newest first"),
    ("-gpus", "Most GPUs first"),
    ("gpus", "Fewest GPUs first"),
    ("team", "Team"),
    ("cluster", "Cluster and product"),
]
_SORT_FIELDS = {
    "oldest": ("created_at", "id"),
    "newest": ("-created_at", "-id"),
    "-gpus": ("-gpus", "created_at", "id"),
    "gpus": ("gpus", "created_at", "id"),
    "team": ("team__slug", "created_at", "id"),
    "cluster": ("cluster__name", "gpu_product", "created_at", "id"),
}
AGES = [("", "Any age"), ("1", "1 day or more"), ("3", "3 days or more"), ("7", "7 days or more")]
STATUS_CHOICES = [("any", "Any status"), ("open", "Open (not settled)"), *QuotaStatus.choices]


@dataclass
class QueueFilters:
    """The queue's filters, read from the query string; ``errors`` name bad ones."""

    status: str = ""
    cluster: str = ""
    team: str = ""
    product: str = ""
    age: str = ""
    mine: str = ""
    sort: str = "oldest"
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, params: Mapping[str, str], *, default_status: str) -> QueueFilters:
        def get(name: str) -> str:
            return (params.get(name) or "").strip()

        filters = cls(
            status=get("status") or default_status,
            cluster=get("cluster"),
            team=get("team"),
            product=get("product"),
            age=get("age"),
            mine=get("mine"),
            sort=get("sort"),
        )
        filters.sort = filters.sort or "oldest"
        if filters.sort not in _SORT_FIELDS:
            filters.errors["sort"] = f"Unknown sort order {filters.sort!r}."
        if filters.status not in {value for value, _ in STATUS_CHOICES}:
            filters.errors["status"] = f"Unknown status {filters.status!r}."
        if filters.age not in {value for value, _ in AGES}:
            filters.errors["age"] = "Choose an age from the list."
        if filters.mine not in ("", "1"):
            filters.errors["mine"] = "Use 1 to see only your requests."
        return filters

    def apply(self, queryset: QuerySet[Any], *, user: Any) -> QuerySet[Any]:
        """Narrow and order the requests; invalid filters match nothing (and say why)."""
        if self.errors:
            return queryset.none()
        qs = queryset
        if self.status == "open":
            qs = qs.filter(status__in=OPEN_STATUSES)
        elif self.status != "any":
            qs = qs.filter(status=self.status)
        if self.cluster:
            qs = qs.filter(cluster__name=self.cluster)
        if self.team:
            qs = qs.filter(team__slug=self.team)
        if self.product:
            qs = qs.filter(gpu_product=self.product)
        if self.age:
            qs = qs.filter(created_at__lte=timezone.now() - timedelta(days=int(self.age)))
        if self.mine:
            qs = qs.filter(requested_by=user)
        return qs.order_by(*_SORT_FIELDS[self.sort])
