"""Every state change of the accounts app: memberships and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, Membership, Team
from apps.accounts.roles import can_maintain, is_operator, remember_roles
from apps.audit.services import record
from apps.core import db
from apps.core.errors import DomainError, NotAllowed

TOKEN_PREFIX = "tmc_"
MAX_TOKEN_DAYS = 365
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(key: str) -> str:
    """SHA-256 of the whole key: tokens are long and random, so no salt or KDF is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its key; the key is shown once and never stored."""

    token: ApiToken
    key: str


def service_account_for(team: Team) -> Any:
    """The team's service user that team tokens act as (created on first use)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=f"svc-{team.slug}",
        defaults={"first_name": "Service account", "last_name": team.name},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": "member"})
    return user


def create_token(
    *, actor: Any, name: str, team: Team | None = None, expires_in_days: int | None = 90
) -> IssuedToken:
    """Issue a personal token (``team=None``) or a team token (maintainers and operators)."""
    name = name.strip()
    if not name:
        raise DomainError("Give the token a name, so you can tell it apart later.", field="name")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise DomainError(
            f"Expiry must be between 1 and {MAX_TOKEN_DAYS} days.", field="expires_in_days"
        )
    if team is not None and not can_maintain(actor, team.pk):
        raise NotAllowed("Only the team's maintainers and operators create team tokens.")
    secret = secrets.token_urlsafe(32)
    prefix = secret[:8]
    key = f"{TOKEN_PREFIX}{prefix}_{secret[8:]}"
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        owner = service_account_for(team) if team is not None else actor
        token = ApiToken.objects.create(
            name=name,
            prefix=prefix,
            key_hash=hash_token(key),
            user=owner,
            team=team,
            created_by=actor,
            expires_at=expires_at,
        )
        record(
            actor=actor,
            verb="token.created",
            target=token,
            team=team,
            after={"name": name, "scope": token.scope_label, "expires_at": _iso(expires_at)},
        )
    return IssuedToken(token=token, key=key)


def revoke_token(token: ApiToken, *, actor: Any, reason: str = "") -> ApiToken:
    """Revoke a token at once. Owners, the team's maintainers and operators may."""
    allowed = (
        is_operator(actor)
        or (token.team_id is None and token.user_id == actor.pk)
        or (token.team_id is not None and can_maintain(actor, token.team_id))
    )
    if not allowed:
        raise NotAllowed("You may not revoke this token.")
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            raise DomainError("This token is already revoked.")
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        record(actor=actor, verb="token.revoked", target=locked, team=locked.team, reason=reason)
    return locked


def authenticate_token(key: str) -> ApiToken | None:
    """Return the usable token for a key (and note when it was last used), or None.

    The token arrives with its user and team loaded and the user's memberships and
    platform-lead flag already cached (see roles.py), so that an API call's permission
    checks cost no further queries.
    """
    if not key.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    token = _usable_token(hash_token(key), now)
    if token is None or not token.user.is_active:
        return None
    # One write a minute at most, so that a busy CI token does not write on every call.
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


_TOKEN_FIELDS, _TOKEN_COLS = db.columns(ApiToken, "t")
_USER_FIELDS, _USER_COLS = db.columns(get_user_model(), "u")
_TEAM_FIELDS, _TEAM_COLS = db.columns(Team, "m")
# Every API call runs this, so it is one prepared statement (apps/core/db.py): the
# token, its user and team, the user's memberships and whether they are a platform lead.
_TOKEN_SQL = f"""
SELECT {_TOKEN_COLS}, {_USER_COLS}, {_TEAM_COLS}, ms.team_ids, ms.roles,
    EXISTS(SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
           WHERE ug.user_id = u.id AND g.name = %s)
FROM accounts_apitoken t
JOIN auth_user u ON u.id = t.user_id
LEFT JOIN accounts_team m ON m.id = t.team_id
CROSS JOIN LATERAL (
    SELECT array_agg(team_id ORDER BY id) AS team_ids, array_agg(role ORDER BY id) AS roles
    FROM accounts_membership WHERE user_id = u.id
) ms
WHERE t.key_hash = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > %s)
"""


def _usable_token(key_hash: str, now: Any) -> ApiToken | None:
    if not db.is_postgres():
        usable = ApiToken.objects.usable().select_related("user", "team")
        return usable.filter(key_hash=key_hash).first()
    rows = db.fetch(_TOKEN_SQL, [settings.PLATFORM_LEADS_GROUP, key_hash, now])
    if not rows:
        return None
    row = rows[0]
    a, b, c = len(_TOKEN_FIELDS), len(_USER_FIELDS), len(_TEAM_FIELDS)
    token = db.instance(ApiToken, _TOKEN_FIELDS, row[:a])
    user = db.instance(get_user_model(), _USER_FIELDS, row[a : a + b])
    token.user = user
    token.team = db.instance(Team, _TEAM_FIELDS, row[a + b : a + b + c]) if token.team_id else None
    team_ids, team_roles, is_lead = row[a + b + c :]
    memberships = dict(zip(team_ids or [], team_roles or [], strict=True))
    remember_roles(user, memberships=memberships, is_lead=is_lead)
    return token


def add_member(team: Team, *, actor: Any, username: str, role: str = "member") -> Membership:
    """Add a user to a team (maintainers and operators)."""
    if not can_maintain(actor, team.pk):
        raise NotAllowed("Only the team's maintainers and operators manage its members.")
    if role not in Membership.Role.values:
        raise DomainError(f"Unknown role {role!r}.", field="role")
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise DomainError(f"No active user is called {username!r}.", field="username")
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            user=user, team=team, defaults={"role": role}
        )
        if not created:
            raise DomainError(f"{username} is already in {team.slug}.", field="username")
        record(
            actor=actor,
            verb="team.member_added",
            target=team,
            team=team,
            after={"user": username, "role": role},
        )
    return membership


def remove_member(membership: Membership, *, actor: Any) -> None:
    """Remove a user from a team; a team keeps at least one maintainer."""
    team = membership.team
    if not can_maintain(actor, team.pk):
        raise NotAllowed("Only the team's maintainers and operators manage its members.")
    with transaction.atomic():
        if (
            membership.role == Membership.Role.MAINTAINER
            and team.memberships.filter(role=Membership.Role.MAINTAINER).count() == 1
        ):
            raise DomainError("A team keeps at least one maintainer.")
        username = membership.user.get_username()
        membership.delete()
        record(
            actor=actor,
            verb="team.member_removed",
            target=team,
            team=team,
            before={"user": username, "role": membership.role},
        )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None
