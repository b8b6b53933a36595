"""The audit log page: filters, keyset pages, scoping and a constant query count."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.audit.services import record

pytestmark = pytest.mark.django_db


def _events(n: int, actor: Any, team: Any, verb: str = "demo.step") -> None:
    for i in range(n):
        record(actor=actor, verb=verb, target=team, team=team, reason=f"step {i}")


def test_the_log_filters_by_actor_team_and_verb(
    client: Client, lead: Any, member: Any, team: Any, other_team: Any
) -> None:
    _events(3, member, team, "quota.approved")
    _events(2, lead, other_team, "token.created")
    client.force_login(lead)
    by_actor = client.get("/audit/", {"actor": member.username}).context["page"].rows
    assert {e.actor_label for e in by_actor} == {member.username} and len(by_actor) == 3
    by_team = client.get("/audit/", {"team": other_team.slug}).context["page"].rows
    assert len(by_team) == 2
    by_verb = client.get("/audit/", {"verb": "quota.approved"}).context["page"].rows
    assert len(by_verb) == 3
    assert client.get("/audit/", {"team": "no-such-team"}).context["page"].rows == []


def test_an_invalid_date_filter_is_reported_not_a_500(client: Client, lead: Any) -> None:
    client.force_login(lead)
    response = client.get("/audit/", {"since": "not-a-date"})
    assert response.status_code == 200
    assert b"Some filters are invalid" in response.content


def test_pages_follow_older_and_newer_links(client: Client, lead: Any, team: Any) -> None:
    _events(120, lead, team)
    client.force_login(lead)
    first = client.get("/audit/").context["page"]
    assert len(first.rows) == 50 and first.newer_cursor is None
    second = client.get("/audit/", {"before": first.older_cursor}).context["page"]
    assert second.rows[0].pk < first.rows[-1].pk
    back = client.get("/audit/", {"after": second.newer_cursor}).context["page"]
    assert [e.pk for e in back.rows] == [e.pk for e in first.rows]


def test_the_htmx_request_gets_only_the_table(client: Client, lead: Any, team: Any) -> None:
    _events(2, lead, team)
    client.force_login(lead)
    response = client.get("/audit/", HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b"<table" in response.content


def test_a_member_sees_only_their_teams_events(
    client: Client, member: Any, outsider: Any, team: Any, other_team: Any
) -> None:
    _events(2, member, team, "mine.event")
    _events(2, outsider, other_team, "their.event")
    client.force_login(member)
    verbs = {e.verb for e in client.get("/audit/").context["page"].rows}
    assert verbs == {"mine.event"}


def test_the_query_count_does_not_grow_with_the_events(
    client: Client, lead: Any, team: Any
) -> None:
    client.force_login(lead)
    _events(5, lead, team)
    with CaptureQueriesContext(connection) as small:
        client.get("/audit/")
    _events(200, lead, team)
    with CaptureQueriesContext(connection) as large:
        client.get("/audit/")
    assert len(large) == len(small)


def test_an_event_page_shows_before_and_after(client: Client, lead: Any, team: Any) -> None:
    event = record(actor=lead, verb="x.changed", target=team, before={"a": 1}, after={"a": 2})
    client.force_login(lead)
    response = client.get(f"/audit/{event.pk}/")
    assert response.status_code == 200
    assert b"Before" in response.content and b"After" in response.content
