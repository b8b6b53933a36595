"""The audit trail is append-only: no code path, admin page or SQL statement changes it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from apps.audit.models import AuditEvent
from apps.audit.querysets import AppendOnlyError
from apps.audit.services import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(member: Any, team: Any) -> AuditEvent:
    return record(actor=member, verb="demo.done", target=team, team=team, reason="because")


def test_an_event_records_who_what_when_and_why(event: AuditEvent, member: Any) -> None:
    assert event.actor == member and event.actor_label == member.username
    assert (event.verb, event.target_type, event.reason) == (
        "demo.done",
        "accounts.team",
        "because",
    )
    assert event.created_at is not None


def test_an_event_reads_back_as_it_was_recorded(member: Any, team: Any, settings: Any) -> None:
    """The PostgreSQL path inserts with a prepared statement; both paths store the same."""
    kwargs: dict[str, Any] = {
        "actor": member,
        "verb": "demo.changed",
        "target": team,
        "team": team,
        "before": {"count": 1, "names": ["a"]},
        "after": {"count": 2, "nested": {"ok": True}},
        "reason": "why",
    }
    fields = ["actor_id", "actor_label", "verb", "target_type", "target_id", "team_id"]
    fields += ["before", "after", "reason", "request_id", "created_at"]
    first = record(**kwargs)
    settings.DB_PREPARED_STATEMENTS = False
    second = record(**kwargs)
    for event in (first, second):
        stored = AuditEvent.objects.get(pk=event.pk)
        assert [getattr(stored, f) for f in fields] == [getattr(event, f) for f in fields]
    assert stored.before == {"count": 1, "names": ["a"]}
    assert record(actor=None, verb="system.tick", target_type="x", target_id="1").actor_label == (
        "system"
    )


def test_saving_an_existing_event_again_is_refused(event: AuditEvent) -> None:
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).reason == "because"


def test_deleting_an_event_is_refused(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_updates_are_refused(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["reason"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_raw_updates_and_deletes(event: AuditEvent) -> None:
    for sql in (
        "UPDATE audit_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == "because"


def test_the_admin_offers_no_add_change_or_delete(event: AuditEvent, op_user: Any) -> None:
    request = RequestFactory().get("/admin/audit/auditevent/")
    request.user = op_user
    model_admin = site._registry[AuditEvent]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


def test_a_user_in_the_trail_cannot_be_deleted(event: AuditEvent, member: Any) -> None:
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        member.delete()


def test_the_api_has_no_write_methods(event: AuditEvent, op_user: Any) -> None:
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(op_user)
    url = f"/api/v1/audit-events/{event.pk}/"
    assert api.get(url).status_code == 200
    for method in (api.put, api.patch, api.delete):
        assert method(url, {}).status_code == 405
    assert api.post("/api/v1/audit-events/", {}).status_code == 405
