"""REST API of the accounts app: who am I, teams, my tokens."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.models import ApiToken, Membership, Team
from apps.accounts.roles import is_operator, is_platform_lead, role_labels


class MembershipSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["team", "team_name", "role"]


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    is_platform_lead = serializers.BooleanField()
    is_operator = serializers.BooleanField()
    teams = MembershipSerializer(many=True)
    token = serializers.DictField(allow_null=True)


class MeView(APIView):
    """The authenticated user (or team service account), their teams and roles."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)  # IsAuthenticated has let only signed-in users through
        token = request.auth if isinstance(request.auth, ApiToken) else None
        data = {
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "full_name": user.get_full_name(),
            "roles": role_labels(user),
            "is_platform_lead": is_platform_lead(user),
            "is_operator": is_operator(user),
            "teams": Membership.objects.filter(user=user).select_related("team"),
            "token": (
                {"name": token.name, "scope": token.scope_label, "expires_at": token.expires_at}
                if token
                else None
            ),
        }
        return Response(MeSerializer(data).data)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name", "cost_centre", "description", "created_at"]


class TeamDetailSerializer(TeamSerializer):
    members = MemberSerializer(source="memberships", many=True, read_only=True)

    class Meta(TeamSerializer.Meta):
        fields = [*TeamSerializer.Meta.fields, "members"]


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams (read-only here; operators manage them in the admin console)."""

    lookup_field = "slug"
    search_fields = ["slug", "name"]

    def get_queryset(self) -> Any:
        qs = Team.objects.visible_to(self.request.user)
        if self.action == "retrieve":
            qs = qs.prefetch_related("memberships__user")
        return qs

    def get_serializer_class(self) -> Any:
        return TeamDetailSerializer if self.action == "retrieve" else TeamSerializer


class ApiTokenSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="null for a personal token"
    )
    acts_as = serializers.CharField(source="user.username", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "team",
            "acts_as",
            "created_by",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Tokens you may see; DELETE revokes one. Tokens are created in the UI (shown once)."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self) -> Any:
        return ApiToken.objects.visible_to(self.request.user).select_related(
            "team", "user", "created_by"
        )

    def get_object(self) -> ApiToken:
        """Someone else's token is a 403 (it exists, and is not yours), not a 404."""
        token = get_object_or_404(ApiToken, pk=self.kwargs["pk"])
        if not self.get_queryset().filter(pk=token.pk).exists():
            raise PermissionDenied("This token belongs to another user or team.")
        return token

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.revoke_token(self.get_object(), actor=request.user, reason="revoked via API")
        return Response(status=status.HTTP_204_NO_CONTENT)
