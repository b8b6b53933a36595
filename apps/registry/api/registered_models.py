"""``/registered-models/``: search, create, get, patch; aliases."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import ApiToken, Team
from apps.core.errors import DomainError
from apps.core.openapi import ErrorOut
from apps.registry import fast, services
from apps.registry.api.common import (
    ALIAS_PARAM,
    NAME_PARAM,
    PAGE_PARAMS,
    _json,
    _model_id_by_name,
    _valid,
)
from apps.registry.api.serializers import (
    AliasDeleteIn,
    AliasSetIn,
    ModelCreateIn,
    ModelPatchIn,
    ModelVersionOut,
    RegisteredModelOut,
    RegisteredModelPage,
)
from apps.registry.errors import RegistryNotFound
from apps.registry.models import (
    ModelAlias,
    ModelTag,
    ModelVersion,
    RegisteredModel,
)
from apps.registry.search import (
    decode_token,
    encode_token,
    like_lookup,
    max_results,
    parse_filter,
)


class RegisteredModelViewSet(viewsets.GenericViewSet):
    """Registered models: search, create, get, update; aliases."""

    lookup_field = "name"
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9._-]*"
    serializer_class = RegisteredModelOut
    pagination_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return RegisteredModel.objects.visible_to(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "filter",
                str,
                description="e.g. name LIKE 'fraud%' AND tags.task = 'ranking' "
                "(keys: name, tags.<key>, team, alias)",
            ),
            OpenApiParameter("team", str, description="Owning team's slug"),
            OpenApiParameter("tag", str, description="key or key=value"),
            *PAGE_PARAMS,
        ],
        responses={200: RegisteredModelPage, 400: ErrorOut},
    )
    def list(self, request: Request) -> HttpResponse:
        """Search registered models, ordered by name (keyset pages)."""
        params = request.query_params
        size = max_results(params.get("max_results"))
        after = decode_token(params.get("page_token"), "m")
        qs = self.get_queryset()
        for clause in parse_filter(
            params.get("filter", ""), allowed={"name", "tag", "team", "alias"}
        ):
            qs = _apply_model_clause(qs, clause)
        if params.get("team"):
            qs = qs.filter(team__slug=params["team"])
        if params.get("tag"):
            key, sep, value = params["tag"].partition("=")
            tags = ModelTag.objects.filter(model=OuterRef("pk"), key=key)
            qs = qs.filter(Exists(tags.filter(value=value) if sep else tags))
        if after is not None:
            qs = qs.filter(name__gt=str(after))
        rows = fast.model_json(qs.order_by("name").values("id")[: size + 1])
        token = encode_token("m", rows[size - 1][0]) if len(rows) > size else None
        return _json(fast.page_body("registered_models", rows[:size], token))

    @extend_schema(request=ModelCreateIn, responses={201: RegisteredModelOut, 409: ErrorOut})
    def create(self, request: Request) -> Response:
        """Register a model. Names are unique whatever their case: a duplicate is a 409."""
        data = _valid(ModelCreateIn, request.data)
        team = self._team(request, data.get("team"))
        model = services.create_model(
            actor=request.user,
            name=data["name"],
            team=team,
            description=data["description"],
            tags=data["tags"],
            catalog_entity_ref=data["catalog_entity_ref"],
        )
        return Response(self._one(model.pk), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[NAME_PARAM], responses={200: RegisteredModelOut, 404: ErrorOut})
    def retrieve(self, request: Request, name: str) -> Response:
        """Get a model by name (any case)."""
        return Response(self._one(services.model_named(name).pk))

    @extend_schema(
        parameters=[NAME_PARAM], request=ModelPatchIn, responses={200: RegisteredModelOut}
    )
    def partial_update(self, request: Request, name: str) -> Response:
        """Change the description, catalog link or tags (tags replace the set)."""
        model = services.model_named(name)
        data = _valid(ModelPatchIn, request.data)
        services.update_model(
            model,
            actor=request.user,
            description=data.get("description"),
            tags=data.get("tags"),
            catalog_entity_ref=data.get("catalog_entity_ref"),
        )
        return Response(self._one(model.pk))

    @extend_schema(
        methods=["GET"],
        parameters=[NAME_PARAM, ALIAS_PARAM],
        responses={200: ModelVersionOut, 404: ErrorOut},
        description="Get the model version an alias points at.",
    )
    @extend_schema(
        methods=["POST", "PUT"],
        parameters=[NAME_PARAM, ALIAS_PARAM],
        request=AliasSetIn,
        responses={200: ModelVersionOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
        description="Point an unprotected alias at a version (owning team). Protected "
        "aliases answer 403: request a promotion instead.",
    )
    @extend_schema(
        methods=["DELETE"],
        parameters=[NAME_PARAM, ALIAS_PARAM],
        request=AliasDeleteIn,
        responses={204: None, 403: ErrorOut, 404: ErrorOut},
        description="Remove an alias (protected ones: platform leads, with a reason).",
    )
    @action(
        detail=True,
        methods=["get", "post", "put", "delete"],
        url_path=r"aliases/(?P<alias>[^/]+)",
        url_name="alias",
    )
    def alias(self, request: Request, name: str, alias: str) -> HttpResponse:
        if request.method == "GET":
            return _json(_version_by_alias(name, alias).encode())
        model = services.model_named(name)
        if request.method == "DELETE":
            data = _valid(AliasDeleteIn, request.data or {})
            services.delete_alias(model, alias, actor=request.user, reason=data["reason"])
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = _valid(AliasSetIn, request.data)
        version = (
            ModelVersion.objects.select_related("model").filter(
                model=model, version=data["version"]
            )
        ).first()
        if version is None:
            raise DomainError(
                f"Model {model.name} has no version {data['version']}.", field="version"
            )
        services.set_alias(model, alias, version, actor=request.user, reason=data["reason"])
        return _json(_version_by_alias(model.name, alias).encode())

    def _team(self, request: Request, slug: str | None) -> Team:
        if not slug:
            token = request.auth
            if isinstance(token, ApiToken) and token.team_id is not None and token.team:
                return token.team
            raise DomainError("Say which team owns the model (team slug).", field="team")
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise DomainError(f"No team is called {slug!r}.", field="team")
        return team

    def _one(self, pk: int) -> dict[str, Any]:
        return fast.models(RegisteredModel.objects.filter(pk=pk).values("id"))[0]


def _apply_model_clause(qs: Any, clause: Any) -> Any:
    if clause.key == "name":
        if clause.op in ("LIKE", "ILIKE"):
            return qs.filter(**like_lookup("name", clause.value, insensitive=clause.op == "ILIKE"))
        lookup = {"name__iexact": clause.value}
        return qs.exclude(**lookup) if clause.op == "!=" else qs.filter(**lookup)
    if clause.key == "team":
        return qs.filter(team__slug=clause.value)
    if clause.key == "alias":
        return qs.filter(
            Exists(ModelAlias.objects.filter(model=OuterRef("pk"), alias=clause.value))
        )
    tag = Exists(
        ModelTag.objects.filter(model=OuterRef("pk"), key=clause.tag_key, value=clause.value)
    )
    return qs.exclude(tag) if clause.op == "!=" else qs.filter(tag)


def _version_by_alias(name: str, alias: str) -> str:
    """The aliased version's JSON text, as the database wrote it (see fast.py)."""
    row = fast.version_by_alias(name, alias)
    if row is None:
        if _model_id_by_name(name) is None:
            raise RegistryNotFound(f"No registered model is called {name!r}.", field="name")
        raise RegistryNotFound(f"Model {name} has no alias {alias!r}.", field="alias")
    return row
