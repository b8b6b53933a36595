"""Filters of the audit log page and API.

Actor and team are given by name but filtered by id (looked up once), so that the
(actor, -id) and (team, -id) indexes serve the page without a join.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.models import Team
from apps.audit.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(method="filter_actor", label="Actor (username)")
    team = django_filters.CharFilter(method="filter_team", label="Team (slug)")
    verb = django_filters.CharFilter(field_name="verb", label="Verb")
    target_type = django_filters.CharFilter(field_name="target_type", label="Target type")
    target_id = django_filters.CharFilter(field_name="target_id", label="Target id")
    since = django_filters.DateFilter(
        method="filter_since", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        method="filter_until", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_actor(self, queryset: Any, name: str, value: str) -> Any:
        if value == "system":
            return queryset.filter(actor__isnull=True)
        user_id = (
            get_user_model().objects.filter(username=value).values_list("pk", flat=True).first()
        )
        return queryset.filter(actor_id=user_id) if user_id else queryset.none()

    def filter_team(self, queryset: Any, name: str, value: str) -> Any:
        team_id = Team.objects.filter(slug=value).values_list("pk", flat=True).first()
        return queryset.filter(team_id=team_id) if team_id else queryset.none()

    def filter_since(self, queryset: Any, name: str, value: dt.date) -> Any:
        return queryset.filter(created_at__gte=_start_of(value))

    def filter_until(self, queryset: Any, name: str, value: dt.date) -> Any:
        return queryset.filter(created_at__lt=_start_of(value + dt.timedelta(days=1)))


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
