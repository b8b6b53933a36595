"""factory_boy factories of the clusters app."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.clusters.models import Cluster, GpuCapacity, GpuNode, TeamNamespace
from tests.factories import TeamFactory

H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
L4 = "NVIDIA-L4"


class ClusterFactory(factory.django.DjangoModelFactory[Cluster]):
    class Meta:
        model = Cluster
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"cluster-{n}")
    display_name = factory.LazyAttribute(lambda c: c.name.replace("-", " ").title())
    auth_method = Cluster.AuthMethod.NONE
    api_url = "http://127.0.0.1:9/unused"
    timeout_seconds = 2


class TeamNamespaceFactory(factory.django.DjangoModelFactory[TeamNamespace]):
    class Meta:
        model = TeamNamespace

    cluster = factory.SubFactory(ClusterFactory)
    team = factory.SubFactory(TeamFactory)
    name = factory.LazyAttribute(lambda t: f"team-{t.team.slug}")


class GpuCapacityFactory(factory.django.DjangoModelFactory[GpuCapacity]):
    class Meta:
        model = GpuCapacity

    cluster = factory.SubFactory(ClusterFactory)
    gpu_product = H100
    nodes = 4
    ready_nodes = 4
    allocatable = 32
    requested = 12
    updated_at = factory.LazyFunction(timezone.now)


class GpuNodeFactory(factory.django.DjangoModelFactory[GpuNode]):
    class Meta:
        model = GpuNode

    cluster = factory.SubFactory(ClusterFactory)
    name = factory.Sequence(lambda n: f"gpu-node-{n:04d}")
    gpu_product = H100
    gpu_allocatable = 8
    gpu_capacity = 8
    last_seen_at = factory.LazyFunction(timezone.now)
