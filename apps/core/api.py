"""The operations API and the JSON 404 for unknown API paths."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import services
from apps.core.models import Operation


def not_found(request: HttpRequest, unknown: str = "") -> JsonResponse:
    """Unknown API paths answer JSON, not the HTML 404 page."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


class OperationSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "kind",
            "status",
            "target_type",
            "target_id",
            "target_repr",
            "team",
            "payload",
            "result",
            "attempts",
            "max_attempts",
            "last_error",
            "created_by",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
            "next_attempt_at",
        ]
        read_only_fields = fields


class RetrySerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Operations the worker performs: read them, and retry a failed one (leads, operators)."""

    serializer_class = OperationSerializer
    filterset_fields = ["status", "kind", "target_type", "target_id"]

    def get_queryset(self) -> Any:
        return Operation.objects.visible_to(self.request.user).select_related("team", "created_by")

    @extend_schema(request=RetrySerializer, responses=OperationSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        body = RetrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        op = services.retry_operation(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)
