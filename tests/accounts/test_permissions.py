"""The permission matrix: role by page and role by API endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.services import record
from apps.core.models import Operation

pytestmark = pytest.mark.django_db

ROLES = ["member", "maintainer", "outsider", "lead", "op_user"]


def _user(request: Any, role: str) -> Any:
    return request.getfixturevalue(role)


@pytest.mark.parametrize(
    ("role", "status"),
    [("member", 403), ("maintainer", 403), ("outsider", 403), ("lead", 403), ("op_user", 200)],
)
def test_only_operators_reach_the_admin_console(
    request: Any, client: Client, role: str, status: int
) -> None:
    client.force_login(_user(request, role))
    assert client.get("/admin/").status_code == status


def test_anonymous_admin_visit_goes_to_the_admin_login(client: Client) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_every_signed_in_role_reads_me_and_teams(request: Any, role: str, team: Any) -> None:
    api = APIClient()
    api.force_authenticate(_user(request, role))
    assert api.get("/api/v1/me/").status_code == 200
    assert api.get("/api/v1/teams/").status_code == 200
    assert api.get(f"/api/v1/teams/{team.slug}/").status_code == 200


def test_anonymous_api_calls_get_a_json_401(db: Any) -> None:
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("role", "sees_team_event", "sees_other_event"),
    [
        ("member", True, False),
        ("outsider", False, True),
        ("lead", True, True),
        ("op_user", True, True),
    ],
)
def test_audit_events_are_scoped_to_the_readers_teams(
    request: Any,
    role: str,
    sees_team_event: bool,
    sees_other_event: bool,
    team: Any,
    other_team: Any,
    maintainer: Any,
) -> None:
    mine = record(actor=maintainer, verb="demo.team", target=team, team=team)
    theirs = record(actor=maintainer, verb="demo.other", target=other_team, team=other_team)
    api = APIClient()
    api.force_authenticate(_user(request, role))
    ids = {row["id"] for row in api.get("/api/v1/audit-events/").json()["results"]}
    assert (mine.pk in ids) == sees_team_event
    assert (theirs.pk in ids) == sees_other_event


@pytest.mark.parametrize(("role", "status"), [("member", 403), ("lead", 202), ("op_user", 202)])
def test_only_leads_and_operators_retry_operations_through_the_api(
    request: Any, role: str, status: int, team: Any
) -> None:
    op = Operation.objects.create(kind="core.health_check", status="failed", team=team)
    api = APIClient()
    api.force_authenticate(_user(request, role))
    response = api.post(f"/api/v1/operations/{op.pk}/retry/", {"reason": "try again"})
    assert response.status_code == status
    body = response.json()
    assert body["code"] == "notallowed" if status == 403 else body["status"] == "pending"


def test_a_maintainer_adds_a_member_and_a_member_may_not(
    client: Client, team: Any, maintainer: Any, member: Any, outsider: Any
) -> None:
    client.force_login(member)
    assert (
        client.post(
            f"/accounts/teams/{team.slug}/", {"username": outsider.username, "role": "member"}
        ).status_code
        == 403
    )
    client.force_login(maintainer)
    response = client.post(
        f"/accounts/teams/{team.slug}/", {"username": outsider.username, "role": "member"}
    )
    assert response.status_code == 302
    assert team.memberships.filter(user=outsider).exists()


def test_adding_an_unknown_user_is_a_form_error_on_the_field(
    client: Client, team: Any, maintainer: Any
) -> None:
    client.force_login(maintainer)
    response = client.post(f"/accounts/teams/{team.slug}/", {"username": "ghost", "role": "member"})
    assert response.status_code == 200
    assert "username" in response.context["form"].errors


def test_post_without_csrf_token_is_refused(team: Any, maintainer: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(maintainer)
    response = client.post(f"/accounts/teams/{team.slug}/", {"username": "x", "role": "member"})
    assert response.status_code == 403
