"""``/model-versions/``: search, create, get, patch; eval results, gate, promotions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Lower
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import DomainError
from apps.core.openapi import ErrorOut
from apps.registry import fast, services
from apps.registry.api.common import (
    PAGE_PARAMS,
    _gate_failed_response,
    _json,
    _valid,
    _version,
)
from apps.registry.api.promotions import _promotion
from apps.registry.api.serializers import (
    EvalBatchIn,
    EvalBatchOut,
    EvalResultOut,
    GateOut,
    LenientJSONParser,
    ModelVersionOut,
    ModelVersionPage,
    PromotionIn,
    PromotionOut,
    VersionCreateIn,
    VersionPatchIn,
)
from apps.registry.choices import Stage, TargetKind, VersionStatus
from apps.registry.errors import EvalBatchError, GateFailed, RegistryNotFound
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    VersionTag,
)
from apps.registry.payloads import eval_payload, new_version_payload, promotion_payload
from apps.registry.search import (
    decode_token,
    encode_token,
    like_lookup,
    max_results,
    parse_filter,
)


class ModelVersionViewSet(viewsets.GenericViewSet):
    """Model versions: search, create, get, update; eval results, gate, promotions."""

    serializer_class = ModelVersionOut
    pagination_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return ModelVersion.objects.visible_to(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, description="Model name (any case)"),
            OpenApiParameter("version", int, description="Version number (with name)"),
            OpenApiParameter("run_id", str),
            OpenApiParameter("alias", str, description="Versions an alias points at"),
            OpenApiParameter("tag", str, description="key or key=value"),
            OpenApiParameter("stage", str, enum=Stage.values),
            OpenApiParameter("status", str, enum=VersionStatus.values),
            OpenApiParameter(
                "filter",
                str,
                description="MLflow style, e.g. name = 'fraud' AND tags.dataset = 'q3'",
            ),
            *PAGE_PARAMS,
        ],
        responses={200: ModelVersionPage, 400: ErrorOut},
    )
    def list(self, request: Request) -> HttpResponse:
        """Search versions, newest first (keyset pages)."""
        params = request.query_params
        size = max_results(params.get("max_results"))
        after = decode_token(params.get("page_token"), "v")
        if after is not None and not isinstance(after, int):
            raise DomainError("The page_token is not valid for this search.", field="page_token")
        if set(params) <= {"name", "max_results", "page_token"} and params.get("name"):
            # The call CI makes most: one prepared statement, no ORM compilation.
            rows = fast.versions_of_json(params["name"], before_id=after, limit=size + 1)
            return self._page(rows, size)
        criteria: dict[str, list[tuple[str, str, str]]] = {}
        for key in ("name", "version", "run_id", "alias", "stage", "status"):
            if params.get(key):
                criteria.setdefault(key, []).append(("=", params[key], ""))
        if params.get("tag"):
            key, sep, value = params["tag"].partition("=")
            criteria.setdefault("tag", []).append(("=" if sep else "has", value, key))
        allowed = {"name", "version", "run_id", "alias", "stage", "status", "tag", "framework"}
        for clause in parse_filter(params.get("filter", ""), allowed=allowed):
            criteria.setdefault(clause.key, []).append((clause.op, clause.value, clause.tag_key))
        qs = self.get_queryset()
        qs = _apply_version_criteria(qs, criteria)
        if after is not None:
            qs = qs.filter(pk__lt=after)
        return self._page(fast.version_json(qs.order_by("-id").values("id")[: size + 1]), size)

    def _page(self, rows: Sequence[tuple[int, str]], size: int) -> HttpResponse:
        token = encode_token("v", rows[size - 1][0]) if len(rows) > size else None
        return _json(fast.page_body("model_versions", rows[:size], token))

    @extend_schema(
        request=VersionCreateIn,
        responses={201: ModelVersionOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    )
    def create(self, request: Request) -> Response:
        """Register the next version of a model (404 when the model does not exist)."""
        data = _valid(VersionCreateIn, request.data)
        version = services.create_version(
            data["name"],
            actor=request.user,
            source_uri=data["source"],
            run_id=data["run_id"],
            run_link=data["run_link"],
            framework=data["framework"],
            metadata=data["metadata"],
            description=data["description"],
            tags=data["tags"],
            status=data["status"],
        )
        tags = getattr(version, "_prefetched_tags", {})
        return Response(new_version_payload(version, tags), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ModelVersionOut, 404: ErrorOut})
    def retrieve(self, request: Request, pk: str) -> Response:
        """Get a version by id."""
        return Response(self._one(pk))

    @extend_schema(request=VersionPatchIn, responses={200: ModelVersionOut})
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the description or tags, or finish registration (status)."""
        version = _version(pk)
        data = _valid(VersionPatchIn, request.data)
        services.update_version(
            version,
            actor=request.user,
            description=data.get("description"),
            tags=data.get("tags"),
            status=data.get("status"),
        )
        return Response(self._one(pk))

    @extend_schema(
        methods=["POST"],
        request=EvalBatchIn,
        responses={201: EvalBatchOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
        description="Post a batch of eval results. All rows are stored or none: errors name "
        'each bad row by index, e.g. {"errors": {"rows": {"3": {"value": ["must be a finite '
        'number"]}}}}.',
    )
    @extend_schema(methods=["GET"], responses={200: EvalResultOut(many=True)})
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="eval-results",
        url_name="eval-results",
        parser_classes=[LenientJSONParser],
    )
    def eval_results(self, request: Request, pk: str) -> Response:
        version = _version(pk)
        if request.method == "GET":
            return Response([eval_payload(r) for r in version.eval_results.order_by("id")])
        body = request.data
        rows = body.get("rows") if isinstance(body, dict) else body
        try:
            created = services.add_eval_results(version, rows, actor=request.user)
        except EvalBatchError as exc:
            return Response(exc.as_body(), status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"created": len(created), "version_id": version.pk}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("alias", str, description="Target alias, or…"),
            OpenApiParameter("stage", str, enum=Stage.values, description="…target stage"),
        ],
        responses={200: GateOut, 400: ErrorOut},
    )
    @action(detail=True, methods=["get"], url_path="gate", url_name="gate")
    def gate(self, request: Request, pk: str) -> Response:
        """The gate checklist of this version for an alias or stage."""
        version = _version(pk)
        kind, target = _target_of(request.query_params)
        return Response(services.gate_for(version, target=target, target_kind=kind).as_dict())

    @extend_schema(
        request=PromotionIn,
        responses={201: PromotionOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut},
        description="Request a promotion: the gate must pass. When the policy needs a "
        "platform lead's approval the request is 'submitted', otherwise 'applied' at once.",
    )
    @action(detail=True, methods=["post"], url_path="promotions", url_name="promotions")
    def promotions(self, request: Request, pk: str) -> Response:
        version = _version(pk)
        data = _valid(PromotionIn, request.data)
        kind, target = _target_of(data)
        try:
            req = services.request_promotion(
                version, target=target, target_kind=kind, actor=request.user, reason=data["reason"]
            )
        except GateFailed as exc:
            return _gate_failed_response(exc)
        return Response(promotion_payload(_promotion(req.pk)), status=status.HTTP_201_CREATED)

    def _one(self, pk: str | int) -> dict[str, Any]:
        try:
            rows = fast.versions(ModelVersion.objects.filter(pk=int(pk)).values("id"))
        except (TypeError, ValueError):
            rows = []
        if not rows:
            raise RegistryNotFound(f"No model version has id {pk}.")
        return rows[0]


def _target_of(data: Any) -> tuple[str, str]:
    alias, stage = data.get("alias"), data.get("stage")
    if bool(alias) == bool(stage):
        raise DomainError("Give either an alias or a stage as the target.", field="alias")
    return (TargetKind.ALIAS, alias) if alias else (TargetKind.STAGE, stage)


def _apply_version_criteria(qs: Any, criteria: dict[str, list[tuple[str, str, str]]]) -> Any:
    """Narrow the search with the criteria (an unknown model name matches nothing)."""
    names = criteria.pop("name", [])
    for op, value, _ in names:
        if op in ("LIKE", "ILIKE"):
            qs = qs.filter(**like_lookup("model__name", value, insensitive=op == "ILIKE"))
            continue
        # A scalar subquery (an InitPlan in PostgreSQL), so that the planner walks the
        # (model, -id) index for exactly that model: one statement, no extra round trip.
        model_id = Subquery(
            RegisteredModel.objects.annotate(name_lower=Lower("name"))
            .filter(name_lower=value.lower())
            .values("pk")[:1]
        )
        qs = qs.exclude(model_id=model_id) if op == "!=" else qs.filter(model_id=model_id)
    for _op, value, _ in criteria.pop("version", []):
        if not value.isdigit():
            raise DomainError("version must be a whole number.", field="version")
        qs = qs.filter(version=int(value))
    for _op, value, _ in criteria.pop("run_id", []):
        qs = qs.filter(run_id=value)
    for _op, value, _ in criteria.pop("framework", []):
        qs = qs.filter(framework=value)
    for _op, value, _ in criteria.pop("alias", []):
        qs = qs.filter(Exists(ModelAlias.objects.filter(version=OuterRef("pk"), alias=value)))
    for key, choices in (("stage", Stage.values), ("status", VersionStatus.values)):
        for op, value, _ in criteria.pop(key, []):
            if value not in choices:
                raise DomainError(f"Unknown {key} {value!r}.", field=key)
            qs = qs.exclude(**{key: value}) if op == "!=" else qs.filter(**{key: value})
    for op, value, tag_key in criteria.pop("tag", []):
        tags = VersionTag.objects.filter(version=OuterRef("pk"), key=tag_key)
        if op != "has":
            tags = tags.filter(value=value)
        qs = qs.exclude(Exists(tags)) if op == "!=" else qs.filter(Exists(tags))
    return qs
