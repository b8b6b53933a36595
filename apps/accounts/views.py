"""Sign-in, teams and members, API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts import services
from apps.accounts.forms import AddMemberForm, TokenForm
from apps.accounts.models import ApiToken, Membership, Team
from apps.accounts.roles import can_maintain, is_operator, maintained_team_ids
from apps.core.errors import DomainError
from apps.core.http import AuthedHttpRequest


@login_required
def team_list(request: AuthedHttpRequest) -> HttpResponse:
    """My teams first, then every other team (ownership is public inside the org)."""
    mine = Team.objects.of_user(request.user)
    others = Team.objects.visible_to(request.user).exclude(pk__in=mine.values("pk"))
    return render(request, "accounts/team_list.html", {"my_teams": mine, "other_teams": others})


@login_required
def team_detail(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(Team.objects.visible_to(request.user), slug=slug)
    memberships = team.memberships.select_related("user").order_by("role", "user__username")
    maintain = can_maintain(request.user, team.pk)
    form = AddMemberForm(request.POST or None) if maintain else None
    if request.method == "POST":
        if not maintain:
            raise PermissionDenied
        assert form is not None
        if form.is_valid():
            try:
                services.add_member(
                    team,
                    actor=request.user,
                    username=form.cleaned_data["username"],
                    role=form.cleaned_data["role"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Added {form.cleaned_data['username']}.")
                return redirect("accounts:team-detail", slug=team.slug)
    return render(
        request,
        "accounts/team_detail.html",
        {"team": team, "memberships": memberships, "can_maintain": maintain, "form": form},
    )


@login_required
@require_POST
def member_remove(request: AuthedHttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("team", "user"), pk=pk, team__slug=slug
    )
    try:
        services.remove_member(membership, actor=request.user)
    except DomainError as exc:
        if exc.status_code == 403:
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed {membership.user.get_username()}.")
    return redirect("accounts:team-detail", slug=slug)


def _maintained(user: Any) -> Any:
    if is_operator(user):
        return Team.objects.all()
    return Team.objects.filter(pk__in=maintained_team_ids(user))


@login_required
def token_list(request: AuthedHttpRequest) -> HttpResponse:
    """Your tokens and your teams' tokens; create one (its key is shown once)."""
    form = TokenForm(request.POST or None, maintained_teams=_maintained(request.user))
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.create_token(
                actor=request.user,
                name=form.cleaned_data["name"],
                team=form.cleaned_data["team"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            new_key = issued.key
            form = TokenForm(maintained_teams=_maintained(request.user))
    tokens = (
        ApiToken.objects.visible_to(request.user)
        .select_related("team", "user", "created_by")
        .order_by("revoked_at", "-created_at")
    )
    return render(
        request, "accounts/token_list.html", {"form": form, "tokens": tokens, "new_key": new_key}
    )


@login_required
@require_POST
def token_revoke(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    if not ApiToken.objects.visible_to(request.user).filter(pk=pk).exists():
        raise PermissionDenied  # another person's or another team's token
    try:
        services.revoke_token(token, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        if exc.status_code == 403:
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked token {token.name}.")
    return redirect("accounts:token-list")
