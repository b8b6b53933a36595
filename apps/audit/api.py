"""REST API of the audit trail: read-only, filterable, cursor-paginated."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination

from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent


class AuditCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "verb",
            "target_type",
            "target_id",
            "target_repr",
            "team",
            "before",
            "after",
            "reason",
            "request_id",
        ]
        read_only_fields = fields


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail (append-only; there is no write endpoint)."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination

    def get_queryset(self) -> Any:
        return AuditEvent.objects.visible_to(self.request.user).select_related("team")
