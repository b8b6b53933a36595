"""REST API of the clusters app: clusters and their GPU capacity, team namespaces.

No serializer here has a credential field: how Tarmac connects to a cluster (API URL,
token file, kubeconfig, CA file) is managed in the admin console and never leaves it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from apps.clusters import services
from apps.clusters.filters import GpuCapacityFilter, TeamNamespaceFilter
from apps.clusters.inventory import ClusterCard, cluster_cards, granted_gpus
from apps.clusters.models import Cluster, GpuCapacity, NamespaceGpuUsage, TeamNamespace
from apps.core.api import OperationSerializer


def health_name(cluster: Cluster) -> str:
    """The inventory's health as the API names it: ok, stale, error or never."""
    health, _ = services.sync_health(cluster)
    return {"retrying": "stale", "pending": "never"}.get(health, health)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class CapacitySerializer(serializers.ModelSerializer):
    class Meta:
        model = GpuCapacity
        fields = ["gpu_product", "nodes", "ready_nodes", "allocatable", "requested", "updated_at"]
        read_only_fields = fields


class NamespaceRefSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = TeamNamespace
        fields = ["id", "name", "team"]
        read_only_fields = fields


class ClusterSerializer(serializers.ModelSerializer):
    health = serializers.SerializerMethodField()
    capacities = CapacitySerializer(many=True, read_only=True)
    namespaces = NamespaceRefSerializer(many=True, read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "name",
            "display_name",
            "description",
            "region",
            "uses_kueue",
            "uses_kserve",
            "gpu_products",
            "allow_overcommit",
            "last_sync_at",
            "last_sync_status",
            "last_sync_error",
            "last_sync_duration_ms",
            "health",
            "capacities",
            "namespaces",
        ]
        read_only_fields = fields

    def get_health(self, cluster: Cluster) -> str:
        """ok, stale, error or never."""
        return health_name(cluster)


class ProductCapacitySerializer(serializers.Serializer):
    gpu_product = serializers.CharField(source="product")
    nodes = serializers.IntegerField()
    ready_nodes = serializers.IntegerField()
    allocatable = serializers.IntegerField()
    requested = serializers.IntegerField()
    free = serializers.IntegerField()
    granted = serializers.IntegerField(allow_null=True, help_text="null: grants unknown")


class NamespaceUsageSerializer(serializers.ModelSerializer):
    class Meta:
        model = NamespaceGpuUsage
        fields = ["namespace", "gpu_product", "requested", "pods", "updated_at"]
        read_only_fields = fields


class ClusterCapacitySerializer(serializers.Serializer):
    cluster = serializers.CharField()
    health = serializers.CharField()
    last_sync_at = serializers.DateTimeField(allow_null=True)
    products = ProductCapacitySerializer(many=True)
    namespaces = NamespaceUsageSerializer(many=True)


class ClusterViewSet(viewsets.ReadOnlyModelViewSet):
    """Clusters with their GPU capacity per product and team namespaces. Operators and
    platform leads may ask for an inventory sync or a connection test (an Operation)."""

    serializer_class = ClusterSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9-]+"

    def get_queryset(self) -> Any:
        return Cluster.objects.visible_to(self.request.user).prefetch_related(
            Prefetch("capacities", queryset=GpuCapacity.objects.order_by("gpu_product")),
            Prefetch(
                "namespaces", queryset=TeamNamespace.objects.select_related("team").order_by("name")
            ),
        )

    @extend_schema(responses=ClusterCapacitySerializer)
    @action(detail=True, methods=["get"])
    def capacity(self, request: Request, name: str | None = None) -> Response:
        """GPUs per product (allocatable, requested, free, granted) and usage per namespace."""
        cluster = self.get_object()
        card: ClusterCard = cluster_cards(
            Cluster.objects.filter(pk=cluster.pk), granted=granted_gpus()
        )[0]
        data = {
            "cluster": cluster.name,
            "health": health_name(cluster),
            "last_sync_at": cluster.last_sync_at,
            "products": card.products,
            "namespaces": NamespaceGpuUsage.objects.filter(cluster=cluster).order_by(
                "namespace", "gpu_product"
            ),
        }
        return Response(ClusterCapacitySerializer(data).data)

    @extend_schema(request=ReasonSerializer, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, name: str | None = None) -> Response:
        """Queue an inventory sync now (operators and platform leads)."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        op = services.request_inventory_sync(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ReasonSerializer, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request: Request, name: str | None = None) -> Response:
        """Queue a connection test (operators and platform leads)."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        op = services.test_connection(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)


class TeamNamespaceSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = TeamNamespace
        fields = ["id", "cluster", "name", "team", "created_at"]
        read_only_fields = fields


class TeamNamespaceViewSet(viewsets.ReadOnlyModelViewSet):
    """Which namespace on which cluster belongs to which team (filter by ``team``, ``cluster``).

    Operators manage the mapping in the admin console; operators and platform leads may
    have Tarmac create a missing namespace on its cluster (``ensure``).
    """

    serializer_class = TeamNamespaceSerializer
    filterset_class = TeamNamespaceFilter

    def get_queryset(self) -> Any:
        return (
            TeamNamespace.objects.visible_to(self.request.user)
            .select_related("cluster", "team")
            .order_by("cluster__name", "name")
        )

    @extend_schema(request=ReasonSerializer, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"])
    def ensure(self, request: Request, pk: str | None = None) -> Response:
        """Queue creating (or labelling) the namespace on its cluster."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        op = services.ensure_team_namespace(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)


class GpuCapacitySerializer(CapacitySerializer):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta(CapacitySerializer.Meta):
        fields = ["cluster", *CapacitySerializer.Meta.fields]
        read_only_fields = fields


class GpuCapacityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """GPU capacity per cluster and product (filter by ``cluster``, ``gpu_product``)."""

    serializer_class = GpuCapacitySerializer
    filterset_class = GpuCapacityFilter

    def get_queryset(self) -> Any:
        return (
            GpuCapacity.objects.filter(cluster__in=Cluster.objects.visible_to(self.request.user))
            .select_related("cluster")
            .order_by("cluster__name", "gpu_product")
        )


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("clusters", ClusterViewSet, basename="clusters-cluster")
    router.register("team-namespaces", TeamNamespaceViewSet, basename="clusters-namespace")
    router.register("gpu-capacity", GpuCapacityViewSet, basename="clusters-capacity")
