"""API tokens: hashed at rest, shown once, scoped, expiring and revocable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent
from apps.core.errors import DomainError, NotAllowed

pytestmark = pytest.mark.django_db


def _bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_only_the_hash_of_a_token_is_stored(member: Any) -> None:
    issued = services.create_token(actor=member, name="ci")
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.key.startswith("tmc_")
    assert issued.key not in {row.key_hash, row.prefix, row.name}
    assert row.key_hash == services.hash_token(issued.key)
    assert len(row.key_hash) == 64


def test_a_personal_token_authenticates_as_its_user_and_records_last_use(member: Any) -> None:
    issued = services.create_token(actor=member, name="ci")
    response = _bearer(issued.key).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == member.username
    assert response.json()["token"]["scope"] == "personal"
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_a_team_token_acts_as_the_team_service_account(maintainer: Any, team: Any) -> None:
    issued = services.create_token(actor=maintainer, name="ci", team=team)
    body = _bearer(issued.key).get("/api/v1/me/").json()
    assert body["username"] == f"svc-{team.slug}"
    assert [m["team"] for m in body["teams"]] == [team.slug]
    assert body["is_platform_lead"] is False


def test_a_member_cannot_create_a_team_token(member: Any, team: Any) -> None:
    with pytest.raises(NotAllowed):
        services.create_token(actor=member, name="ci", team=team)
    assert not ApiToken.objects.exists()


def test_an_expired_token_is_refused_with_a_json_401(member: Any) -> None:
    issued = services.create_token(actor=member, name="ci", expires_in_days=1)
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = _bearer(issued.key).get("/api/v1/me/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_token_is_refused_and_the_revocation_is_audited(member: Any) -> None:
    issued = services.create_token(actor=member, name="ci")
    services.revoke_token(issued.token, actor=member, reason="leaked in a log")
    assert _bearer(issued.key).get("/api/v1/me/").status_code == 401
    event = AuditEvent.objects.get(verb="token.revoked")
    assert (event.actor, event.reason) == (member, "leaked in a log")


def test_a_made_up_token_is_refused(db: Any) -> None:
    response = _bearer("tmc_notreal_abcdef").get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize("days", [0, -1, 366])
def test_expiry_outside_one_to_365_days_is_refused(member: Any, days: int) -> None:
    with pytest.raises(DomainError) as error:
        services.create_token(actor=member, name="ci", expires_in_days=days)
    assert error.value.field == "expires_in_days"


def test_the_token_page_shows_a_new_key_once(client: Client, member: Any) -> None:
    client.force_login(member)
    response = client.post(
        "/accounts/tokens/", {"name": "laptop", "team": "", "expires_in_days": "30"}
    )
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key and key.encode() in response.content
    again = client.get("/accounts/tokens/")
    assert key.encode() not in again.content
    assert b"laptop" in again.content


def test_the_token_form_reports_a_bad_expiry_on_the_field(client: Client, member: Any) -> None:
    client.force_login(member)
    response = client.post("/accounts/tokens/", {"name": "x", "expires_in_days": "900"})
    assert response.status_code == 200
    assert "expires_in_days" in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_another_teams_token_cannot_be_seen_or_revoked(
    client: Client, maintainer: Any, team: Any, outsider: Any
) -> None:
    issued = services.create_token(actor=maintainer, name="vision-deployer", team=team)
    client.force_login(outsider)
    assert b"vision-deployer" not in client.get("/accounts/tokens/").content
    response = client.post(f"/accounts/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 403
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.get(f"/api/v1/tokens/{issued.token.pk}/").status_code == 403
    assert api.delete(f"/api/v1/tokens/{issued.token.pk}/").status_code == 403
    assert api.delete("/api/v1/tokens/999999/").status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_malformed_token_id_is_a_json_404(member: Any, method: str) -> None:
    api = APIClient()
    api.force_authenticate(member)
    response = getattr(api, method)("/api/v1/tokens/null,null/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_a_member_may_not_revoke_their_teams_token(member: Any, maintainer: Any, team: Any) -> None:
    issued = services.create_token(actor=maintainer, name="ci", team=team)
    with pytest.raises(NotAllowed):
        services.revoke_token(issued.token, actor=member)


def test_a_token_brings_its_users_roles_in_the_same_query(
    member: Any, team: Any, other_team: Any, lead: Any, django_assert_num_queries: Any
) -> None:
    """On PostgreSQL, token authentication is one query, which also loads the
    memberships and the platform-lead flag that permission checks read (roles.py caches
    them). Elsewhere the ORM path takes one query each."""
    from django.db import connection

    from apps.accounts import roles
    from apps.accounts.models import Membership

    queries = 1 if connection.vendor == "postgresql" else 3

    Membership.objects.create(user=member, team=other_team, role="maintainer")
    mine = services.create_token(actor=member, name="ci").key
    leads = services.create_token(actor=lead, name="ci").key
    services.authenticate_token(mine)  # the once-a-minute last_used_at write happens here
    services.authenticate_token(leads)
    with django_assert_num_queries(queries):
        token = services.authenticate_token(mine)
        assert token is not None
        user = token.user
        assert roles.team_ids_of(user) == {team.pk, other_team.pk}
        assert roles.maintained_team_ids(user) == {other_team.pk}
        assert roles.is_platform_lead(user) is False
    with django_assert_num_queries(queries):
        token = services.authenticate_token(leads)
        assert token is not None
        assert roles.is_platform_lead(token.user) is True
        assert roles.team_ids_of(token.user) == set()


def test_tokens_authenticate_alike_without_prepared_statements(
    maintainer: Any, team: Any, settings: Any
) -> None:
    personal = services.create_token(actor=maintainer, name="ci").key
    team_key = services.create_token(actor=maintainer, name="ci", team=team).key
    prepared = [_bearer(k).get("/api/v1/me/").json() for k in (personal, team_key)]
    settings.DB_PREPARED_STATEMENTS = False
    assert [_bearer(k).get("/api/v1/me/").json() for k in (personal, team_key)] == prepared
