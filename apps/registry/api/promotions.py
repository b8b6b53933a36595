"""``/promotion-requests/``: read, approve, reject, cancel."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.openapi import ErrorOut
from apps.registry import services
from apps.registry.api.common import (
    PAGE_PARAMS,
    _gate_failed_response,
    _model_id_by_name,
    _personal_token_only,
    _valid,
)
from apps.registry.api.serializers import DecisionIn, PromotionOut, PromotionPage
from apps.registry.choices import PromotionStatus
from apps.registry.errors import GateFailed, RegistryNotFound
from apps.registry.models import (
    PromotionRequest,
)
from apps.registry.payloads import promotion_payload
from apps.registry.search import (
    decode_token,
    encode_token,
    max_results,
)


def _promotion(pk: int) -> PromotionRequest:
    req = (
        PromotionRequest.objects.select_related(
            "model__team", "version", "requested_by", "decided_by"
        )
        .filter(pk=pk)
        .first()
    )
    if req is None:
        raise RegistryNotFound(f"No promotion request has id {pk}.")
    return req


class PromotionRequestViewSet(viewsets.GenericViewSet):
    """Promotion requests: read them; platform leads approve or reject; requesters cancel."""

    serializer_class = PromotionOut
    pagination_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return PromotionRequest.objects.visible_to(self.request.user).select_related(
            "model__team", "version", "requested_by", "decided_by"
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=PromotionStatus.values),
            OpenApiParameter("name", str, description="Model name"),
            *PAGE_PARAMS,
        ],
        responses={200: PromotionPage},
    )
    def list(self, request: Request) -> Response:
        """Promotion requests, newest first (keyset pages)."""
        params = request.query_params
        size = max_results(params.get("max_results"))
        after = decode_token(params.get("page_token"), "p")
        qs = self.get_queryset()
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("name"):
            qs = qs.filter(model_id=_model_id_by_name(params["name"]) or 0)
        if after is not None:
            qs = qs.filter(pk__lt=int(after))
        rows = list(qs.order_by("-id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return Response(
            {
                "promotion_requests": [promotion_payload(r) for r in rows],
                "next_page_token": encode_token("p", rows[-1].pk) if more else None,
            }
        )

    @extend_schema(responses={200: PromotionOut, 404: ErrorOut})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(promotion_payload(_promotion(_int(pk))))

    @extend_schema(
        request=DecisionIn,
        responses={200: PromotionOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut},
        description="Approve (platform leads' personal tokens, never the requester's own "
        "request): the gate is checked again and the alias or stage moves.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        _personal_token_only(request)
        data = _valid(DecisionIn, request.data)
        try:
            req = services.approve_promotion(
                _promotion(_int(pk)), actor=request.user, reason=data["reason"]
            )
        except GateFailed as exc:
            return _gate_failed_response(exc)
        return Response(promotion_payload(_promotion(req.pk)))

    @extend_schema(
        request=DecisionIn,
        responses={200: PromotionOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut},
        description="Reject with a reason (platform leads' personal tokens only).",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        _personal_token_only(request)
        data = _valid(DecisionIn, request.data)
        req = services.reject_promotion(
            _promotion(_int(pk)), actor=request.user, reason=data["reason"]
        )
        return Response(promotion_payload(_promotion(req.pk)))

    @extend_schema(request=DecisionIn, responses={200: PromotionOut, 403: ErrorOut})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Withdraw an open request (the requester or the owning team)."""
        data = _valid(DecisionIn, request.data)
        req = services.cancel_promotion(
            _promotion(_int(pk)), actor=request.user, reason=data["reason"]
        )
        return Response(promotion_payload(_promotion(req.pk)))


def _int(raw: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise RegistryNotFound(f"No promotion request has id {raw}.") from None
