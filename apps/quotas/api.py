"""REST API of the quotas app: ``/api/v1/quota-requests/``.

``GET    /quota-requests/``                 list (filters: status, team, cluster, gpu_product)
``POST   /quota-requests/``                 submit (members' personal or team tokens;
                                           ``Idempotency-Key`` header refuses a double submit)
``GET    /quota-requests/{id}/``            one request, with its apply operation
``POST   /quota-requests/{id}/cancel/``     the requester (or the team's maintainers)
``POST   /quota-requests/{id}/approve/``    platform leads' personal tokens only
``POST   /quota-requests/{id}/reject/``     platform leads' personal tokens only
``POST   /quota-requests/{id}/revoke/``     leads' and operators' personal tokens only
``POST   /quota-requests/{id}/retry/``      leads' and operators' personal tokens only

The same service functions as the portal enforce the same rules and return the same
messages, as ``{"detail", "code", "errors": {field: [message]}}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from apps.accounts.models import ApiToken, Team
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.errors import DomainError, NotAllowed
from apps.quotas import services
from apps.quotas.choices import OPEN_STATUSES, QuotaStatus
from apps.quotas.models import QuotaRequest


class OperationBrief(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    last_error = serializers.CharField()


class QuotaRequestOut(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    namespace = serializers.SlugRelatedField(slug_field="name", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    ended_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    operation = serializers.SerializerMethodField()
    drifted = serializers.SerializerMethodField()

    class Meta:
        model = QuotaRequest
        fields = [
            "id",
            "team",
            "cluster",
            "namespace",
            "gpu_product",
            "gpus",
            "granted_gpus",
            "starts_on",
            "ends_on",
            "justification",
            "status",
            "requested_by",
            "created_at",
            "decided_by",
            "decided_at",
            "decision_reason",
            "auto_approved",
            "activated_at",
            "ended_at",
            "ended_by",
            "end_reason",
            "failure_message",
            "drifted",
            "operation",
        ]
        read_only_fields = fields

    @extend_schema(responses=OperationBrief)
    def get_operation(self, obj: QuotaRequest) -> dict[str, Any] | None:
        op = obj.apply_operation
        if op is None:
            return None
        return {
            "id": op.pk,
            "status": op.status,
            "attempts": op.attempts,
            "max_attempts": op.max_attempts,
            "last_error": op.last_error,
        }

    def get_drifted(self, obj: QuotaRequest) -> bool:
        if obj.status != QuotaStatus.ACTIVE:
            return False
        state = getattr(obj.namespace, "quota_state", None)
        return bool(state is not None and state.drifted_at is not None)


@extend_schema_field(OpenApiTypes.INT)
class AsGiven(serializers.Field):
    """Passes the JSON value through: the service judges it (a GPU count must be a whole
    positive number, and ``true`` or ``2.5`` are refused with the same words as the form)."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class QuotaRequestIn(serializers.Serializer):
    team = serializers.CharField(max_length=63, help_text="Team slug.")
    cluster = serializers.CharField(max_length=63, help_text="Cluster name.")
    namespace = serializers.CharField(max_length=63, help_text="Namespace name on the cluster.")
    gpu_product = serializers.CharField(max_length=120)
    gpus = AsGiven(help_text="A whole number of GPUs, 1 or more.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    justification = serializers.CharField(max_length=services.MAX_JUSTIFICATION)


class ApproveIn(serializers.Serializer):
    granted_gpus = AsGiven(required=False, allow_null=True, help_text="Defaults to the asked.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class OptionalReasonIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _personal_token_only(request: Request, what: str) -> None:
    token = request.auth
    if isinstance(token, ApiToken) and token.team_id is not None:
        raise NotAllowed(
            f"Team tokens act for a team's automation and cannot {what}; use a platform "
            "lead's personal token or the portal."
        )


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class QuotaRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """GPU quota requests: members submit and cancel; platform leads decide."""

    serializer_class = QuotaRequestOut
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return (
            QuotaRequest.objects.visible_to(self.request.user)
            # Few joins (the planner's cost grows fast with them); the rest is prefetched.
            .select_related("team", "cluster", "namespace__quota_state", "requested_by")
            .prefetch_related("decided_by", "ended_by", "apply_operation")
            .order_by("-created_at", "-id")
        )

    def filter_queryset(self, queryset: Any) -> Any:
        params = self.request.query_params
        wanted = params.get("status", "")
        if wanted == "open":
            queryset = queryset.filter(status__in=OPEN_STATUSES)
        elif wanted:
            if wanted not in QuotaStatus.values:
                raise DomainError(f"Unknown status {wanted!r}.", field="status")
            queryset = queryset.filter(status=wanted)
        if params.get("team"):
            queryset = queryset.filter(team__slug=params["team"])
        if params.get("cluster"):
            queryset = queryset.filter(cluster__name=params["cluster"])
        if params.get("gpu_product"):
            queryset = queryset.filter(gpu_product=params["gpu_product"])
        return queryset

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[*QuotaStatus.values, "open"]),
            OpenApiParameter("team", str, description="Team slug"),
            OpenApiParameter("cluster", str, description="Cluster name"),
            OpenApiParameter("gpu_product", str),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Requests you may see, newest first."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=QuotaRequestIn,
        responses={201: QuotaRequestOut},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Send the same key again and the request is not created twice.",
            )
        ],
    )
    def create(self, request: Request) -> Response:
        """Submit a request for a team you belong to (its team token works too)."""
        data = _valid(QuotaRequestIn, request.data)
        team = Team.objects.filter(slug=data["team"]).first()
        if team is None:
            raise DomainError(f"No team {data['team']!r}.", field="team")
        cluster = Cluster.objects.filter(name=data["cluster"]).first()
        namespace = (
            TeamNamespace.objects.filter(cluster=cluster, name=data["namespace"]).first()
            if cluster is not None
            else None
        )
        if cluster is not None and cluster.is_active and namespace is None:
            raise DomainError(
                f"{cluster.name} has no namespace {data['namespace']!r}.", field="namespace"
            )
        req = services.submit_request(
            actor=request.user,
            team=team,
            cluster=cluster,
            namespace=namespace,
            gpu_product=data["gpu_product"],
            gpus=data["gpus"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            justification=data["justification"],
            submit_key=request.headers.get("Idempotency-Key"),
        )
        return Response(self._out(req.pk), status=status.HTTP_201_CREATED)

    def _out(self, pk: int) -> dict[str, Any]:
        return dict(QuotaRequestOut(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=ApproveIn, responses={200: QuotaRequestOut})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve (platform leads' personal tokens; never your own request). Optionally
        grant a different count, with a reason."""
        _personal_token_only(request, "approve quota requests")
        data = _valid(ApproveIn, request.data)
        req = services.approve_request(
            self.get_object(),
            actor=request.user,
            granted_gpus=data.get("granted_gpus"),
            reason=data.get("reason", ""),
        )
        return Response(self._out(req.pk))

    @extend_schema(request=ReasonIn, responses={200: QuotaRequestOut})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject with a reason (platform leads' personal tokens)."""
        _personal_token_only(request, "reject quota requests")
        data = _valid(ReasonIn, request.data)
        req = services.reject_request(self.get_object(), actor=request.user, reason=data["reason"])
        return Response(self._out(req.pk))

    @extend_schema(request=OptionalReasonIn, responses={200: QuotaRequestOut})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a submitted request (the requester, or the team's maintainers)."""
        data = _valid(OptionalReasonIn, request.data)
        req = services.cancel_request(
            self.get_object(), actor=request.user, reason=data.get("reason", "")
        )
        return Response(self._out(req.pk))

    @extend_schema(request=ReasonIn, responses={200: QuotaRequestOut})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """End a grant early, with a reason (leads' and operators' personal tokens)."""
        _personal_token_only(request, "revoke grants")
        data = _valid(ReasonIn, request.data)
        req = services.revoke_request(self.get_object(), actor=request.user, reason=data["reason"])
        return Response(self._out(req.pk))

    @extend_schema(request=OptionalReasonIn, responses={202: QuotaRequestOut})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Apply a failed grant again (leads' and operators' personal tokens)."""
        _personal_token_only(request, "retry applies")
        data = _valid(OptionalReasonIn, request.data)
        req = services.retry_request(
            self.get_object(), actor=request.user, reason=data.get("reason", "")
        )
        return Response(self._out(req.pk), status=status.HTTP_202_ACCEPTED)


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("quota-requests", QuotaRequestViewSet, basename="quotas-request")
