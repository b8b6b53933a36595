"""Filters of the clusters API."""

from __future__ import annotations

import django_filters

from apps.clusters.models import GpuCapacity, TeamNamespace


class TeamNamespaceFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug", label="Team slug")
    cluster = django_filters.CharFilter(field_name="cluster__name", label="Cluster name")
    name = django_filters.CharFilter(field_name="name", label="Namespace")

    class Meta:
        model = TeamNamespace
        fields = ["team", "cluster", "name"]


class GpuCapacityFilter(django_filters.FilterSet):
    cluster = django_filters.CharFilter(field_name="cluster__name", label="Cluster name")
    gpu_product = django_filters.CharFilter(field_name="gpu_product", label="GPU product")

    class Meta:
        model = GpuCapacity
        fields = ["cluster", "gpu_product"]
