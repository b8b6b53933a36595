"""Helpers shared by the registry's viewsets."""

from __future__ import annotations

from typing import Any

from django.db.models.functions import Lower
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import ApiToken
from apps.core.errors import NotAllowed
from apps.registry.errors import GateFailed, RegistryNotFound
from apps.registry.models import (
    ModelVersion,
    RegisteredModel,
)


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _model_id_by_name(name: str) -> int | None:
    return (
        RegisteredModel.objects.annotate(name_lower=Lower("name"))
        .filter(name_lower=name.lower())
        .values_list("pk", flat=True)
        .first()
    )


def _version(pk: str | int) -> ModelVersion:
    try:
        version = ModelVersion.objects.select_related("model__team").filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        version = None
    if version is None:
        raise RegistryNotFound(f"No model version has id {pk}.")
    return version


def _json(body: bytes) -> HttpResponse:
    """A page whose JSON the database already wrote (see fast.py): sent as it is."""
    return HttpResponse(body, content_type="application/json")


def _personal_token_only(request: Request) -> None:
    token = request.auth
    if isinstance(token, ApiToken) and token.team_id is not None:
        raise NotAllowed(
            "Team tokens act for a team's automation and cannot approve or reject "
            "promotions; use a platform lead's personal token or the portal."
        )


def _gate_failed_response(exc: GateFailed) -> Response:
    return Response(
        {
            "detail": exc.message,
            "code": "gate_failed",
            "errors": {
                "gate": [f"{c.rule.describe()}: {c.status} ({c.detail})" for c in exc.gate.failures]
            },
            "gate": exc.gate.as_dict(),
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


NAME_PARAM = OpenApiParameter("name", str, OpenApiParameter.PATH, description="Model name")
ALIAS_PARAM = OpenApiParameter("alias", str, OpenApiParameter.PATH, description="Alias")
PAGE_PARAMS = [
    OpenApiParameter("max_results", int, description="1-1000 (default 100)"),
    OpenApiParameter("page_token", str, description="next_page_token of the previous page"),
]
