"""REST API of the catalog: list (same filters as the page), get by ref, ingest, delete,
export, and registered locations."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from apps.accounts.models import ApiToken, Team
from apps.accounts.roles import team_ids_of
from apps.catalog import services
from apps.catalog.choices import SourceKind
from apps.catalog.descriptors import InvalidDescriptorFile
from apps.catalog.filters import EntityFilter
from apps.catalog.models import Entity, Location, Relation
from apps.catalog.refs import RefError, parse_ref

REF_REGEX = r"[A-Za-z]+:[^/]+/[^/]+"


class EntitySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner_ref", read_only=True)
    owner_team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    system = serializers.CharField(source="system_ref", read_only=True)
    domain = serializers.CharField(source="domain_ref", read_only=True)
    ingested_from = serializers.CharField(
        source="source.name", read_only=True, default=None, allow_null=True
    )
    orphaned = serializers.BooleanField(source="is_orphaned", read_only=True)

    class Meta:
        model = Entity
        fields = [
            "ref",
            "kind",
            "namespace",
            "name",
            "title",
            "description",
            "type",
            "lifecycle",
            "owner",
            "owner_team",
            "system",
            "domain",
            "tags",
            "labels",
            "annotations",
            "links",
            "ingested_from",
            "orphaned",
            "orphaned_at",
            "errors",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RelationSerializer(serializers.ModelSerializer):
    resolved = serializers.BooleanField(source="is_resolved", read_only=True)

    class Meta:
        model = Relation
        fields = ["type", "target_ref", "resolved"]
        read_only_fields = fields


class EntityDetailSerializer(EntitySerializer):
    descriptor = serializers.JSONField(read_only=True)
    relations = serializers.SerializerMethodField()

    class Meta(EntitySerializer.Meta):
        fields = [*EntitySerializer.Meta.fields, "descriptor", "relations"]
        read_only_fields = fields

    @extend_schema_field(RelationSerializer(many=True))
    def get_relations(self, entity: Entity) -> list[Any]:
        seen: set[tuple[str, str]] = set()
        out: list[Any] = []
        for rel in Relation.objects.of_ref(entity.ref).order_by("type", "target_ref"):
            if (rel.type, rel.target_ref) in seen:
                continue
            seen.add((rel.type, rel.target_ref))
            out.append(RelationSerializer(rel).data)
        return out


class IngestSerializer(serializers.Serializer):
    yaml = serializers.CharField(
        trim_whitespace=False, help_text="The catalog-info.yaml text: one or more documents."
    )
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        help_text="The team to ingest for (default: the token's team, or your only team).",
    )
    source_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Source name; re-ingesting it replaces its set (default: first entity ref).",
    )


class IngestResultSerializer(serializers.Serializer):
    source_name = serializers.CharField()
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    orphaned = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())


PROBLEMS = inline_serializer(
    "CatalogIngestError",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
        # Only when the YAML itself is invalid (not for a missing field of the request).
        "problems": serializers.ListField(
            required=False,
            child=inline_serializer(
                "CatalogDescriptorProblem",
                {
                    "document": serializers.IntegerField(),
                    "line": serializers.IntegerField(allow_null=True),
                    "field": serializers.CharField(),
                    "message": serializers.CharField(),
                },
            ),
        ),
    },
)


def _default_team(request: Request) -> Team | None:
    token = request.auth if isinstance(request.auth, ApiToken) else None
    if token is not None and token.team_id:
        return token.team
    ids = team_ids_of(request.user)
    return Team.objects.get(pk=next(iter(ids))) if len(ids) == 1 else None


def invalid_file_response(exc: InvalidDescriptorFile) -> Response:
    """400 with every problem: by field (the standard error shape) and as a list."""
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        errors.setdefault(problem.field or "non_field_errors", []).append(str(problem))
    return Response(
        {
            "detail": exc.message,
            "code": "invalid_descriptor",
            "errors": errors,
            "problems": [p.as_dict() for p in exc.problems],
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


class EntityViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Catalog entities. Look one up by its reference: ``component:default/petstore``."""

    lookup_field = "ref"
    lookup_value_regex = REF_REGEX
    filterset_class = EntityFilter

    def get_queryset(self) -> Any:
        return Entity.objects.visible_to(self.request.user).select_related("owner_team", "source")

    def get_serializer_class(self) -> Any:
        return EntityDetailSerializer if self.action == "retrieve" else EntitySerializer

    def get_object(self) -> Entity:
        try:
            ref = parse_ref(self.kwargs["ref"]).canonical
        except RefError:
            ref = ""
        entity = get_object_or_404(self.get_queryset(), ref=ref)
        self.check_object_permissions(self.request, entity)
        return entity

    @extend_schema(responses={204: None, 403: OpenApiResponse(description="Not the owner")})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the entity (members of the owning team and operators)."""
        entity = self.get_object()
        services.delete_entity(entity, actor=request.user, reason="deleted via API")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=IngestSerializer,
        responses={
            200: IngestResultSerializer,
            400: PROBLEMS,
            403: OpenApiResponse(description="An entity belongs to another team"),
        },
    )
    @action(detail=False, methods=["post"])
    def ingest(self, request: Request) -> Response:
        """Validate the whole file, then store every entity in it or none."""
        body = IngestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = body.validated_data.get("team") or _default_team(request)
        try:
            result = services.ingest_text(
                body.validated_data["yaml"],
                actor=request.user,
                team=team,
                kind=SourceKind.API,
                source_name=body.validated_data.get("source_name", ""),
            )
        except InvalidDescriptorFile as exc:
            return invalid_file_response(exc)
        data = {
            "source_name": result.source.name,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "orphaned": result.orphaned,
            "warnings": result.warnings,
        }
        return Response(IngestResultSerializer(data).data)

    @extend_schema(responses={(200, "application/yaml"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, ref: str | None = None) -> HttpResponse:
        """The entity's descriptor as catalog-info.yaml, exactly as it was ingested."""
        response = HttpResponse(
            services.export_yaml([self.get_object()]),
            content_type="application/yaml; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="catalog-info.yaml"'
        return response


class LocationSerializer(serializers.ModelSerializer):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all()
    )

    class Meta:
        model = Location
        fields = ["id", "url", "team", "created_at", "last_read_at", "last_status", "last_error"]
        read_only_fields = ["id", "created_at", "last_read_at", "last_status", "last_error"]


class LocationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Registered http(s) locations, re-read every 15 minutes."""

    serializer_class = LocationSerializer

    def get_queryset(self) -> Any:
        return Location.objects.select_related("team")

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.register_location(
            serializer.validated_data["url"],
            actor=self.request.user,
            team=serializer.validated_data["team"],
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Unregister: its entities stay, orphaned."""
        services.delete_location(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        """Queue a read of the location now."""
        services.request_refresh(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("catalog/entities", EntityViewSet, basename="catalog-entity")
    router.register("catalog/locations", LocationViewSet, basename="catalog-location")
