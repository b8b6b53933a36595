"""The quota request lifecycle: every transition, the rules around it, and what is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, DomainError, NotAllowed
from apps.core.models import Operation
from apps.quotas import services, tasks
from apps.quotas.choices import QUOTA_TRANSITIONS, QuotaStatus
from apps.quotas.models import AutoApproveRule, QuotaRequest
from tests.factories import member_of, operator
from tests.quotas.factories import A100, H100, make_cluster, make_namespace, make_request

pytestmark = pytest.mark.django_db

S = QuotaStatus


def submit(actor: Any, where: Any, /, **overrides: Any) -> QuotaRequest:
    """Submit through the service: 4 H100 in ``where`` for a week from today."""
    today = timezone.localdate()
    fields: dict[str, Any] = {
        "actor": actor,
        "team": where.team,
        "cluster": where.cluster,
        "namespace": where,
        "gpu_product": H100,
        "gpus": 4,
        "starts_on": today,
        "ends_on": today + timedelta(days=6),
        "justification": "Pretraining run.",
    }
    fields.update(overrides)
    return services.submit_request(**fields)


def verbs_of(req: QuotaRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="quotas.quotarequest", target_id=str(req.pk))
        .order_by("id")
        .values_list("verb", flat=True)
    )


# --- submit --------------------------------------------------------------------------


def test_a_member_submits_a_request_that_waits_and_leads_are_emailed(
    member: Any, lead: Any, vision_ns: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        req = submit(member, vision_ns, gpus=4)
    assert req.status == S.SUBMITTED
    assert req.granted_gpus is None
    assert verbs_of(req) == ["quota.submitted"]
    assert [m.to for m in mail.outbox] == [[lead.email]]
    assert "awaits approval" in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"gpus": 0}, "gpus", "at least 1 GPU"),
        ({"gpus": -3}, "gpus", "at least 1 GPU"),
        ({"gpus": 2.5}, "gpus", "whole number"),
        ({"gpus": "four"}, "gpus", "whole number"),
        ({"gpus": True}, "gpus", "whole number"),
        ({"gpus": None}, "gpus", "whole number"),
        ({"gpus": 100_000}, "gpus", "At most 512"),
        ({"gpus": 17}, "gpus", "Not enough NVIDIA-H100-80GB-HBM3 GPUs"),
        ({"gpu_product": "NVIDIA-B200"}, "gpu_product", "has no GPU product"),
        ({"starts_on": timezone.localdate() - timedelta(days=1)}, "starts_on", "in the past"),
        (
            {"ends_on": timezone.localdate() - timedelta(days=1)},
            "ends_on",
            "before the start date",
        ),
        ({"ends_on": timezone.localdate() + timedelta(days=400)}, "ends_on", "at most 366"),
        ({"justification": "   "}, "justification", "Give a justification"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_written(
    member: Any, vision_ns: Any, overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(DomainError) as caught:
        submit(member, vision_ns, **overrides)
    assert caught.value.field == field
    assert message in caught.value.message
    assert QuotaRequest.objects.count() == 0
    assert not AuditEvent.objects.filter(verb__startswith="quota.").exists()


def test_a_namespace_the_team_does_not_own_is_refused(
    member: Any, vision_ns: Any, nlp_ns: Any
) -> None:
    with pytest.raises(DomainError) as caught:
        submit(member, vision_ns, namespace=nlp_ns)
    assert caught.value.field == "namespace"
    assert "belongs to another team" in caught.value.message
    assert QuotaRequest.objects.count() == 0


def test_a_namespace_on_another_cluster_is_refused(member: Any, team: Any, vision_ns: Any) -> None:
    elsewhere = make_namespace(make_cluster("serve-us", capacity={"NVIDIA-L4": 8}), team)
    with pytest.raises(DomainError) as caught:
        submit(member, vision_ns, namespace=elsewhere)
    assert caught.value.field == "namespace"
    assert QuotaRequest.objects.count() == 0


def test_a_retired_cluster_takes_no_requests(member: Any, vision_ns: Any) -> None:
    vision_ns.cluster.is_active = False
    vision_ns.cluster.save()
    with pytest.raises(DomainError) as caught:
        submit(member, vision_ns)
    assert caught.value.field == "cluster"
    assert "retired" in caught.value.message
    assert QuotaRequest.objects.count() == 0


def test_a_member_of_another_team_cannot_request_for_it(outsider: Any, vision_ns: Any) -> None:
    with pytest.raises(NotAllowed):
        submit(outsider, vision_ns)
    assert QuotaRequest.objects.count() == 0


def test_a_double_submit_with_the_same_key_is_refused(member: Any, vision_ns: Any) -> None:
    first = submit(member, vision_ns, submit_key="k-1")
    with pytest.raises(Conflict) as caught:
        submit(member, vision_ns, submit_key="k-1", gpus=2)
    assert f"#{first.pk}" in caught.value.message
    assert QuotaRequest.objects.count() == 1


def test_an_identical_open_request_is_refused(member: Any, teammate: Any, vision_ns: Any) -> None:
    submit(member, vision_ns)
    with pytest.raises(Conflict):
        submit(teammate, vision_ns)
    assert QuotaRequest.objects.count() == 1


def test_submit_refuses_more_than_the_free_gpus_unless_overcommit_is_allowed(
    member: Any, lead: Any, vision_ns: Any
) -> None:
    make_request(vision_ns, lead, status=S.ACTIVE, gpus=14)
    with pytest.raises(DomainError) as caught:
        submit(member, vision_ns, gpus=4)
    assert "2 free" in caught.value.message
    vision_ns.cluster.allow_overcommit = True
    vision_ns.cluster.save()
    assert submit(member, vision_ns, gpus=4).status == S.SUBMITTED


# --- auto-approve --------------------------------------------------------------------


def test_a_request_within_the_auto_approve_rule_is_approved_by_the_system(
    member: Any, team: Any, vision_ns: Any, django_capture_on_commit_callbacks: Any
) -> None:
    AutoApproveRule.objects.create(team=team, cluster=vision_ns.cluster, max_gpus=2, max_days=7)
    with django_capture_on_commit_callbacks(execute=False):
        req = submit(member, vision_ns, gpus=2, starts_on=timezone.localdate() + timedelta(days=1))
    assert req.status == S.APPROVED and req.auto_approved
    assert req.decided_by is None and req.granted_gpus == 2
    event = AuditEvent.objects.get(verb="quota.auto_approved", target_id=str(req.pk))
    assert event.actor is None and event.actor_label == "system"


@pytest.mark.parametrize(("gpus", "days"), [(3, 5), (2, 8)])
def test_a_request_beyond_the_rule_waits_for_a_lead(
    member: Any, team: Any, vision_ns: Any, gpus: int, days: int
) -> None:
    AutoApproveRule.objects.create(team=team, cluster=vision_ns.cluster, max_gpus=2, max_days=7)
    today = timezone.localdate()
    req = submit(member, vision_ns, gpus=gpus, ends_on=today + timedelta(days=days - 1))
    assert req.status == S.SUBMITTED
    assert "quota.auto_approved" not in verbs_of(req)


def test_an_auto_approved_request_starting_today_is_applied_at_once(
    member: Any, team: Any, vision_ns: Any
) -> None:
    AutoApproveRule.objects.create(team=team, cluster=vision_ns.cluster, max_gpus=2, max_days=7)
    req = submit(member, vision_ns, gpus=1)
    assert req.status == S.APPLYING and req.apply_operation is not None
    assert req.apply_operation.created_by is None
    assert verbs_of(req) == ["quota.submitted", "quota.auto_approved", "quota.apply_started"]


def test_an_inactive_rule_approves_nothing(member: Any, team: Any, vision_ns: Any) -> None:
    AutoApproveRule.objects.create(
        team=team, cluster=vision_ns.cluster, max_gpus=8, max_days=30, is_active=False
    )
    assert submit(member, vision_ns, gpus=1).status == S.SUBMITTED


# --- decisions -----------------------------------------------------------------------


def test_a_lead_approves_a_future_request_and_it_waits_for_its_start_date(
    member: Any, lead: Any, vision_ns: Any, django_capture_on_commit_callbacks: Any
) -> None:
    req = submit(member, vision_ns, starts_on=timezone.localdate() + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        req = services.approve_request(req, actor=lead)
    assert req.status == S.APPROVED and req.granted_gpus == 4
    assert req.decided_by == lead and req.apply_operation is None
    assert verbs_of(req) == ["quota.submitted", "quota.approved"]
    assert mail.outbox[-1].to == [member.email] and "approved" in mail.outbox[-1].subject


def test_approval_on_the_start_date_creates_the_apply_operation(
    member: Any, lead: Any, vision_ns: Any
) -> None:
    req = services.approve_request(submit(member, vision_ns), actor=lead, reason="go")
    assert req.status == S.APPLYING
    op = req.apply_operation
    assert op is not None and op.kind == "quotas.apply" and op.status == "pending"
    assert op.payload["namespace_id"] == vision_ns.pk and op.payload["gpus"] == 4
    assert verbs_of(req) == ["quota.submitted", "quota.approved", "quota.apply_started"]


def test_a_requester_can_never_approve_their_own_request(
    lead: Any, team: Any, cluster: Any
) -> None:
    from tests.factories import MembershipFactory

    MembershipFactory(user=lead, team=team)
    ns = make_namespace(cluster, team)
    req = submit(lead, ns)
    with pytest.raises(NotAllowed, match="your own request"):
        services.approve_request(req, actor=lead)
    with pytest.raises(NotAllowed):
        services.reject_request(req, actor=lead, reason="no")
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


@pytest.mark.parametrize("who", ["member", "op_user", "maintainer"])
def test_only_platform_leads_approve(who: str, request: Any, member: Any, vision_ns: Any) -> None:
    actor = request.getfixturevalue(who)
    req = submit(member, vision_ns)
    with pytest.raises(NotAllowed):
        services.approve_request(req, actor=actor)
    assert QuotaRequest.objects.get(pk=req.pk).status == S.SUBMITTED


def test_a_lead_may_grant_a_different_count_only_with_a_reason(
    member: Any, lead: Any, vision_ns: Any
) -> None:
    req = submit(member, vision_ns, gpus=8)
    with pytest.raises(DomainError) as caught:
        services.approve_request(req, actor=lead, granted_gpus=4)
    assert caught.value.field == "reason"
    req = services.approve_request(req, actor=lead, granted_gpus=4, reason="half for now")
    assert (req.gpus, req.granted_gpus, req.decision_reason) == (8, 4, "half for now")
    event = AuditEvent.objects.get(verb="quota.approved", target_id=str(req.pk))
    assert event.after is not None
    assert event.after["granted_gpus"] == 4 and event.reason == "half for now"


def test_reject_needs_a_reason(member: Any, lead: Any, vision_ns: Any) -> None:
    req = submit(member, vision_ns)
    with pytest.raises(DomainError) as caught:
        services.reject_request(req, actor=lead, reason=" ")
    assert caught.value.field == "reason"
    req = services.reject_request(req, actor=lead, reason="Use the shared pool.")
    assert req.status == S.REJECTED and req.decision_reason == "Use the shared pool."


def test_two_leads_deciding_at_once_produce_one_decision(
    member: Any, lead: Any, second_lead: Any, vision_ns: Any
) -> None:
    req = submit(member, vision_ns)
    stale = QuotaRequest.objects.get(pk=req.pk)
    services.approve_request(req, actor=lead)
    with pytest.raises(Conflict, match="meanwhile"):
        services.reject_request(stale, actor=second_lead, reason="too late")
    assert QuotaRequest.objects.get(pk=req.pk).status == S.APPLYING


def test_the_requester_or_a_maintainer_cancels_a_submitted_request(
    member: Any, teammate: Any, maintainer: Any, vision_ns: Any
) -> None:
    req = submit(member, vision_ns)
    with pytest.raises(NotAllowed):
        services.cancel_request(req, actor=teammate)
    assert services.cancel_request(req, actor=member).status == S.CANCELLED
    other = submit(member, vision_ns, gpus=2)
    assert services.cancel_request(other, actor=maintainer, reason="dup").status == S.CANCELLED


# --- the whole transition matrix -------------------------------------------------------

ACTIONS = {
    "approve": (S.APPROVED, lambda req, ppl: services.approve_request(req, actor=ppl["lead"])),
    "reject": (
        S.REJECTED,
        lambda req, ppl: services.reject_request(req, actor=ppl["lead"], reason="no"),
    ),
    "cancel": (S.CANCELLED, lambda req, ppl: services.cancel_request(req, actor=ppl["member"])),
    "revoke": (
        S.REVOKED,
        lambda req, ppl: services.revoke_request(req, actor=ppl["lead"], reason="needed back"),
    ),
    "retry": (S.APPLYING, lambda req, ppl: services.retry_request(req, actor=ppl["lead"])),
}


def _allowed(status: str, action: str) -> bool:
    target = ACTIONS[action][0]
    if action == "retry":
        return status == S.FAILED  # the only way a person moves a grant to applying
    return target in QUOTA_TRANSITIONS[status]


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_is_allowed_exactly_from_the_statuses_the_state_machine_names(
    status: str, action: str, member: Any, lead: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member, status=status, gpus=2)
    people = {"lead": lead, "member": member}
    target, run = ACTIONS[action]
    if _allowed(status, action):
        run(req, people)
        # Approval on the start date goes straight on to applying.
        expected = S.APPLYING if action == "approve" else target
        assert QuotaRequest.objects.get(pk=req.pk).status == expected
    else:
        with pytest.raises(DomainError):
            run(req, people)
        assert QuotaRequest.objects.get(pk=req.pk).status == status


def test_the_state_machine_names_its_terminal_states() -> None:
    terminal = {s for s, nexts in QUOTA_TRANSITIONS.items() if not nexts}
    assert terminal == {S.REJECTED, S.CANCELLED, S.EXPIRED, S.REVOKED}
    assert set(QUOTA_TRANSITIONS) == set(S)


# --- the apply outcome hooks ---------------------------------------------------------


def _finished_op(req: QuotaRequest, *, status: str, error: str = "") -> Operation:
    op = req.apply_operation
    assert op is not None
    op.status = status
    op.last_error = error
    op.attempts = 2
    op.result = {"gpus": req.granted_gpus, "observed_gpus": req.granted_gpus}
    op.save()
    return op


def test_a_succeeded_apply_makes_the_grant_active(member: Any, lead: Any, vision_ns: Any) -> None:
    req = services.approve_request(submit(member, vision_ns), actor=lead)
    services.on_apply_succeeded(_finished_op(req, status="succeeded"))
    req.refresh_from_db()
    assert req.status == S.ACTIVE and req.activated_at is not None
    assert verbs_of(req)[-1] == "quota.activated"
    assert vision_ns.quota_state.applied_gpus == 4


def test_a_failed_apply_keeps_the_message_and_tells_the_requester(
    member: Any, lead: Any, vision_ns: Any, django_capture_on_commit_callbacks: Any
) -> None:
    req = services.approve_request(submit(member, vision_ns), actor=lead)
    with django_capture_on_commit_callbacks(execute=True):
        services.on_apply_failed(_finished_op(req, status="failed", error="Forbidden 403: no"))
    req.refresh_from_db()
    assert req.status == S.FAILED and req.failure_message == "Forbidden 403: no"
    assert mail.outbox[-1].to == [member.email]
    assert "could not be applied" in mail.outbox[-1].subject
    assert "Forbidden 403: no" in mail.outbox[-1].body


def test_a_retry_creates_a_new_apply_operation(member: Any, lead: Any, vision_ns: Any) -> None:
    req = services.approve_request(submit(member, vision_ns), actor=lead)
    first = _finished_op(req, status="failed", error="boom")
    services.on_apply_failed(first)
    req = services.retry_request(QuotaRequest.objects.get(pk=req.pk), actor=lead, reason="fixed")
    assert req.status == S.APPLYING and req.apply_operation_id != first.pk
    assert verbs_of(req)[-1] == "quota.retried"


def test_a_members_retry_is_refused(member: Any, vision_ns: Any) -> None:
    req = make_request(vision_ns, member, status=S.FAILED)
    with pytest.raises(NotAllowed):
        services.retry_request(req, actor=member)


def test_an_operator_retries_and_revokes(member: Any, vision_ns: Any) -> None:
    oscar = operator(username="oscar2")
    req = make_request(vision_ns, member, status=S.FAILED)
    assert services.retry_request(req, actor=oscar).status == S.APPLYING
    active = make_request(vision_ns, member, status=S.ACTIVE, gpus=1)
    assert services.revoke_request(active, actor=oscar, reason="abuse").status == S.REVOKED


def test_the_outcome_of_a_superseded_operation_changes_nothing(
    member: Any, lead: Any, vision_ns: Any
) -> None:
    """GIVEN a grant revoked while its apply was running
    WHEN the apply then succeeds THEN the grant stays revoked."""
    req = services.approve_request(submit(member, vision_ns), actor=lead)
    op = req.apply_operation
    services.revoke_request(req, actor=lead, reason="changed plans")
    assert op is not None
    op.result = {"gpus": 4}
    services.on_apply_succeeded(op)
    assert QuotaRequest.objects.get(pk=req.pk).status == S.REVOKED


# --- capacity guard (sequential; the thread race is in test_race.py) -------------------


def test_the_capacity_guard_refuses_approvals_beyond_allocatable(
    member: Any, teammate: Any, lead: Any, vision_ns: Any
) -> None:
    first = submit(member, vision_ns, gpus=10)
    second = submit(teammate, vision_ns, gpus=8)
    services.approve_request(first, actor=lead)
    with pytest.raises(DomainError) as caught:
        services.approve_request(second, actor=lead)
    assert "16 allocatable, 10 already granted or reserved, 6 free; this needs 8" in (
        caught.value.message
    )
    assert QuotaRequest.objects.get(pk=second.pk).status == S.SUBMITTED
    assert services.approve_request(second, actor=lead, granted_gpus=6, reason="what is left")


def test_capacity_is_per_product(member: Any, teammate: Any, lead: Any, vision_ns: Any) -> None:
    services.approve_request(submit(member, vision_ns, gpus=16), actor=lead)
    a100 = submit(teammate, vision_ns, gpus=8, gpu_product=A100)
    assert services.approve_request(a100, actor=lead).status == S.APPLYING


def test_over_commit_lets_approvals_exceed_allocatable(
    member: Any, teammate: Any, lead: Any, vision_ns: Any
) -> None:
    services.approve_request(submit(member, vision_ns, gpus=16), actor=lead)
    vision_ns.cluster.allow_overcommit = True
    vision_ns.cluster.save()
    req = submit(teammate, vision_ns, gpus=8)
    assert services.approve_request(req, actor=lead).status == S.APPLYING


def test_expired_and_failed_grants_release_their_capacity(
    member: Any, lead: Any, vision_ns: Any
) -> None:
    make_request(vision_ns, member, status=S.EXPIRED, gpus=16)
    make_request(vision_ns, member, status=S.FAILED, gpus=16)
    req = submit(member, vision_ns, gpus=16)
    assert services.approve_request(req, actor=lead).status == S.APPLYING


# --- expiry with a frozen clock, start dates, revocation --------------------------------


def _frozen(day_offset: int) -> datetime:
    return timezone.now() + timedelta(days=day_offset)


def test_grants_expire_the_day_after_their_end_date_with_a_frozen_clock(
    member: Any, vision_ns: Any, nlp_ns: Any, outsider: Any
) -> None:
    """GIVEN two active grants in a namespace, one ending in 3 days, and one elsewhere
    WHEN the expiry beat task runs on days 3 and 4 (clock frozen)
    THEN only on day 4 the first expires, and one operation lowers its namespace."""
    ending = make_request(vision_ns, member, status=S.ACTIVE, gpus=4, days=4)
    staying = make_request(vision_ns, member, status=S.ACTIVE, gpus=2, days=30)
    make_request(nlp_ns, outsider, status=S.ACTIVE, gpus=1, days=30)
    with mock.patch("django.utils.timezone.now", return_value=_frozen(3)):
        assert tasks.expire_grants() == 0
    assert QuotaRequest.objects.get(pk=ending.pk).status == S.ACTIVE
    with mock.patch("django.utils.timezone.now", return_value=_frozen(4)):
        assert tasks.expire_grants() == 1
        assert tasks.expire_grants() == 0  # idempotent
    ending.refresh_from_db()
    assert ending.status == S.EXPIRED and ending.end_reason == "end date passed"
    assert QuotaRequest.objects.get(pk=staying.pk).status == S.ACTIVE
    ops = Operation.objects.filter(kind="quotas.sync_namespace")
    assert [(op.payload["namespace_id"], op.payload["reason"]) for op in ops] == [
        (vision_ns.pk, "expired")
    ]
    assert ending.release_operation_id == ops[0].pk
    event = AuditEvent.objects.get(verb="quota.expired")
    assert event.actor is None


def test_an_approved_grant_that_never_started_expires_without_touching_the_cluster(
    member: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member, status=S.APPROVED, start_in=1, days=2)
    assert services.expire_due_grants(now=_frozen(5)) == [req.pk]
    assert not Operation.objects.filter(kind="quotas.sync_namespace").exists()


def test_approved_grants_start_applying_on_their_start_date(member: Any, vision_ns: Any) -> None:
    req = make_request(vision_ns, member, status=S.APPROVED, start_in=2)
    assert services.start_due_grants(now=_frozen(1)) == []
    with mock.patch("django.utils.timezone.now", return_value=_frozen(2)):
        assert tasks.start_due_grants() == 1
        assert tasks.start_due_grants() == 0
    req.refresh_from_db()
    assert req.status == S.APPLYING and req.apply_operation is not None
    assert req.apply_operation.created_by is None  # the system started it


def test_revoking_an_active_grant_lowers_the_namespace_by_an_operation(
    member: Any, lead: Any, vision_ns: Any, django_capture_on_commit_callbacks: Any
) -> None:
    req = make_request(vision_ns, member, status=S.ACTIVE)
    with pytest.raises(DomainError):
        services.revoke_request(req, actor=lead, reason="")
    with django_capture_on_commit_callbacks(execute=False):
        req = services.revoke_request(req, actor=lead, reason="Team moved to serve-us.")
    assert req.status == S.REVOKED and req.ended_by == lead
    assert req.release_operation is not None
    assert req.release_operation.payload == {
        "namespace_id": vision_ns.pk,
        "cluster": "train-eu",
        "namespace": "team-vision",
        "reason": "revoked",
    }
    assert AuditEvent.objects.get(verb="quota.revoked").reason == "Team moved to serve-us."


def test_revoking_a_grant_that_never_reached_the_cluster_needs_no_operation(
    member: Any, lead: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member, status=S.APPROVED, start_in=3)
    assert services.revoke_request(req, actor=lead, reason="not needed").release_operation is None


def test_members_cannot_revoke(member: Any, vision_ns: Any) -> None:
    req = make_request(vision_ns, member, status=S.ACTIVE)
    with pytest.raises(NotAllowed):
        services.revoke_request(req, actor=member, reason="mine")


def test_a_retry_after_the_end_date_is_refused(member: Any, lead: Any, vision_ns: Any) -> None:
    req = make_request(vision_ns, member, status=S.FAILED, days=1)
    with pytest.raises(DomainError, match="end date has passed"):
        services.retry_request(req, actor=lead, now=_frozen(2))


def test_a_member_of_two_teams_requests_for_either(
    cluster: Any, team: Any, other_team: Any
) -> None:
    both = member_of(team, username="bea")
    from tests.factories import MembershipFactory

    MembershipFactory(user=both, team=other_team)
    req = submit(both, make_namespace(cluster, other_team))
    assert req.team == other_team
