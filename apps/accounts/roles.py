"""Platform roles, answered from one place.

* data scientist: a member of at least one team;
* platform lead: a member of the ``PLATFORM_LEADS_GROUP`` Django group — approves quota
  requests, rollouts and protected promotions across teams;
* operator: Django staff — manages clusters, teams and rate cards in the admin console.

Answers are cached on the user object for the length of a request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _cached(user: Any, attr: str, compute: Any) -> Any:
    if not hasattr(user, attr):
        setattr(user, attr, compute())
    return getattr(user, attr)


def remember_roles(user: Any, *, memberships: dict[int, str], is_lead: bool) -> None:
    """Cache roles that were loaded together with the user (see authenticate_token)."""
    user._tarmac_memberships = memberships
    user._tarmac_is_lead = is_lead


def is_operator(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def is_platform_lead(user: Any) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return bool(
        _cached(
            user,
            "_tarmac_is_lead",
            lambda: user.groups.filter(name=settings.PLATFORM_LEADS_GROUP).exists(),
        )
    )


def _memberships(user: Any) -> dict[int, str]:
    from apps.accounts.models import Membership

    if not user.is_authenticated:
        return {}
    return _cached(
        user,
        "_tarmac_memberships",
        # .order_by(): the default ordering would join teams and users for nothing.
        lambda: dict(
            Membership.objects.filter(user=user).order_by().values_list("team_id", "role")
        ),
    )


def team_ids_of(user: Any) -> set[int]:
    """Ids of the teams the user belongs to."""
    return set(_memberships(user))


def maintained_team_ids(user: Any) -> set[int]:
    """Ids of the teams the user maintains."""
    return {team_id for team_id, role in _memberships(user).items() if role == "maintainer"}


def is_member(user: Any, team_id: int) -> bool:
    return team_id in _memberships(user)


def can_maintain(user: Any, team_id: int) -> bool:
    """Maintainers of the team and operators manage its members and tokens."""
    return is_operator(user) or team_id in maintained_team_ids(user)


def role_labels(user: Any) -> list[str]:
    """Human labels of the user's platform roles, for the header and the API."""
    labels = []
    if _memberships(user):
        labels.append("data scientist")
    if is_platform_lead(user):
        labels.append("platform lead")
    if is_operator(user):
        labels.append("operator")
    return labels
