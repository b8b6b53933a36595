"""Registry services: models, versions, eval batches, policies, aliases, promotions,
approvals and the permission matrix."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, DomainError, NotAllowed
from apps.registry import services
from apps.registry.errors import EvalBatchError, GateFailed, RegistryNotFound
from apps.registry.models import (
    AliasHistory,
    EvalResult,
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
    VersionTag,
)
from tests.factories import member_of, operator, platform_lead
from tests.registry.factories import (
    add_evals,
    make_model,
    make_policy,
    make_version,
    point_alias,
)

pytestmark = pytest.mark.django_db

ACCURACY = {"metric": "accuracy", "comparator": ">=", "threshold": 0.92, "dataset": "holdout"}


@pytest.fixture
def model(team: Any) -> Any:
    return make_model(name="fraud", team=team)


def _verbs() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))


# --- models and versions ---------------------------------------------------------------------


def test_member_registers_a_model_with_tags_and_it_is_audited(team: Any, member: Any) -> None:
    model = services.create_model(
        actor=member, name="Churn-Model", team=team, tags={"task": "churn"}
    )

    assert dict(model.tags.values_list("key", "value")) == {"task": "churn"}
    assert _verbs() == ["registry.model_created"]


def test_duplicate_model_name_in_another_case_is_a_conflict(team: Any, member: Any) -> None:
    services.create_model(actor=member, name="churn", team=team)

    with pytest.raises(Conflict) as err:
        services.create_model(actor=member, name="CHURN", team=team)

    assert err.value.field == "name"
    assert RegisteredModel.objects.count() == 1


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-leading", "x" * 201])
def test_bad_model_names_are_refused(team: Any, member: Any, name: str) -> None:
    with pytest.raises(DomainError) as err:
        services.create_model(actor=member, name=name, team=team)
    assert err.value.field == "name"


def test_outsider_cannot_register_a_model_for_another_team(team: Any, outsider: Any) -> None:
    with pytest.raises(NotAllowed):
        services.create_model(actor=outsider, name="x", team=team)


def test_versions_are_numbered_one_after_another(model: Any, member: Any) -> None:
    numbers = [
        services.create_version(model, actor=member, source_uri=f"s3://b/{i}").version
        for i in range(3)
    ]

    assert numbers == [1, 2, 3]
    model.refresh_from_db()
    assert model.latest_version == 3
    assert _verbs().count("registry.version_created") == 3


def test_a_new_version_is_audited_with_its_number_and_source(model: Any, member: Any) -> None:
    """On PostgreSQL the version, its tags and its event are one statement; the event
    must still name the version and carry what was registered."""
    services.create_version(model, actor=member, source_uri="s3://b/0")
    version = services.create_version(
        model, actor=member, source_uri="s3://b/1", run_id="r1", tags={"k": "v"}
    )

    event = AuditEvent.objects.filter(verb="registry.version_created").order_by("-id").first()
    assert event is not None
    assert (event.actor, event.team_id, event.target_type) == (
        member,
        model.team_id,
        "registry.modelversion",
    )
    assert (event.target_id, event.target_repr) == (str(version.pk), f"{model.name} v2")
    assert event.after == {"version": 2, "source": "s3://b/1", "run_id": "r1", "status": "ready"}
    assert dict(version.tags.values_list("key", "value")) == {"k": "v"}


def test_a_version_for_a_deleted_model_writes_nothing(model: Any, member: Any) -> None:
    RegisteredModel.objects.filter(pk=model.pk).delete()
    with pytest.raises(RegistryNotFound):
        services.create_version(model, actor=member, source_uri="s3://x", tags={"k": "v"})
    assert not AuditEvent.objects.filter(verb="registry.version_created").exists()
    assert not VersionTag.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source_uri": ""}, "source"),
        ({"source_uri": "s3://x", "run_link": "not a url"}, "run_link"),
        ({"source_uri": "s3://x", "metadata": [1, 2]}, "metadata"),
        ({"source_uri": "s3://x", "status": "failed_registration"}, "status"),
        ({"source_uri": "s3://x", "tags": [{"value": "no key"}]}, "tags"),
    ],
)
def test_bad_version_input_is_refused_and_nothing_is_written(
    model: Any, member: Any, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(DomainError) as err:
        services.create_version(model, actor=member, **fields)

    assert err.value.field == field
    assert ModelVersion.objects.count() == 0


def test_pending_version_can_become_ready_but_not_back(model: Any, member: Any) -> None:
    version = services.create_version(
        model, actor=member, source_uri="s3://x", status="pending_registration"
    )
    services.update_version(version, actor=member, status="ready")

    with pytest.raises(DomainError):
        services.update_version(version, actor=member, status="pending_registration")
    version.refresh_from_db()
    assert version.status == "ready"


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_get_distinct_version_numbers(team: Any, member: Any) -> None:
    """GIVEN one model WHEN four threads register versions at once THEN numbers 1..8, no clash."""
    model = make_model(name="racy", team=team)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            for _ in range(2):
                services.create_version(model, actor=member, source_uri="s3://x")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sorted(model.versions.values_list("version", flat=True)) == list(range(1, 9))


# --- eval results ----------------------------------------------------------------------------


def test_eval_batch_is_stored_whole_and_audited(model: Any, member: Any) -> None:
    version = make_version(model)
    services.add_eval_results(
        version,
        [
            {"metric": "accuracy", "value": 0.93, "dataset": "holdout"},
            {"metric": "latency_p95_ms", "value": 180, "split": "test", "source": "ci"},
        ],
        actor=member,
    )

    assert version.eval_results.count() == 2
    assert _verbs() == ["registry.eval_results_posted"]


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, "NaN", "inf", "0.9", None, True, [1]]
)
def test_one_bad_value_rejects_the_whole_batch_naming_the_row(
    model: Any, member: Any, bad: Any
) -> None:
    version = make_version(model)
    rows = [{"metric": "a", "value": 1.0}] * 3 + [{"metric": "b", "value": bad}]

    with pytest.raises(EvalBatchError) as err:
        services.add_eval_results(version, rows, actor=member)

    assert list(err.value.row_errors) == [3]
    assert "value" in err.value.row_errors[3]
    assert EvalResult.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_non_finite_values_say_finite(model: Any, member: Any) -> None:
    version = make_version(model)
    with pytest.raises(EvalBatchError) as err:
        services.add_eval_results(version, [{"metric": "a", "value": math.nan}], actor=member)
    assert err.value.row_errors[0]["value"] == ["must be a finite number"]


def test_batch_errors_name_every_bad_row_and_field(model: Any, member: Any) -> None:
    version = make_version(model)
    rows = [
        {"metric": "ok", "value": 1},
        {"metric": "", "value": 1},
        {"metric": "x", "value": 1, "colour": "red"},
        {"metric": "y", "value": 1, "recorded_at": "yesterday"},
    ]
    with pytest.raises(EvalBatchError) as err:
        services.add_eval_results(version, rows, actor=member)

    assert set(err.value.row_errors) == {1, 2, 3}
    assert "metric" in err.value.row_errors[1]
    assert "colour" in err.value.row_errors[2]
    assert "recorded_at" in err.value.row_errors[3]


def test_empty_batch_is_refused(model: Any, member: Any) -> None:
    with pytest.raises(DomainError):
        services.add_eval_results(make_version(model), [], actor=member)


# --- policies --------------------------------------------------------------------------------


def test_policy_rule_on_a_metric_that_never_appears_is_refused(model: Any, maintainer: Any) -> None:
    add_evals(make_version(model), accuracy=0.9)

    with pytest.raises(DomainError) as err:
        services.save_policy(
            actor=maintainer,
            model=model,
            target_kind="alias",
            target="production",
            rules=[{"metric": "acuracy", "comparator": ">=", "threshold": 0.9}],
        )

    assert "acuracy" in err.value.message
    assert model.policies.count() == 0


def test_policy_rule_on_a_dataset_that_never_appears_is_refused(
    model: Any, maintainer: Any
) -> None:
    add_evals(make_version(model), dataset="holdout", accuracy=0.9)

    with pytest.raises(DomainError):
        services.save_policy(
            actor=maintainer,
            model=model,
            target_kind="alias",
            target="production",
            rules=[{**ACCURACY, "dataset": "holdout-2099"}],
        )


def test_saving_a_policy_again_replaces_its_rules(model: Any, maintainer: Any) -> None:
    add_evals(make_version(model), accuracy=0.9, latency_p95_ms=100)
    kwargs = {"actor": maintainer, "model": model, "target_kind": "alias", "target": "production"}
    services.save_policy(**kwargs, rules=[ACCURACY])
    policy = services.save_policy(
        **kwargs,
        requires_approval=True,
        rules=[{"metric": "latency_p95_ms", "comparator": "<=", "threshold": 200}],
    )

    assert [r.metric for r in policy.rules.all()] == ["latency_p95_ms"]
    assert policy.requires_approval
    assert _verbs() == ["registry.policy_saved", "registry.policy_saved"]


@pytest.mark.parametrize(
    "rule",
    [
        {"metric": "accuracy", "comparator": "==", "threshold": 1},
        {"metric": "accuracy", "comparator": ">=", "threshold": "high"},
        {"metric": "accuracy", "comparator": ">=", "threshold": math.inf},
        {"metric": "accuracy", "relative_to_holder": True, "max_regression_pct": -1},
    ],
)
def test_malformed_rules_are_refused(model: Any, maintainer: Any, rule: dict[str, Any]) -> None:
    add_evals(make_version(model), accuracy=0.9)
    with pytest.raises(DomainError):
        services.save_policy(
            actor=maintainer, model=model, target_kind="alias", target="production", rules=[rule]
        )


def test_plain_members_cannot_set_policies(model: Any, member: Any) -> None:
    with pytest.raises(NotAllowed):
        services.save_policy(
            actor=member, model=model, target_kind="alias", target="production", rules=[]
        )


def test_team_default_policy_checks_metrics_across_the_teams_models(
    model: Any, maintainer: Any
) -> None:
    add_evals(make_version(model), accuracy=0.9)
    policy = services.save_policy(
        actor=maintainer,
        team=model.team,
        target_kind="stage",
        target="production",
        rules=[ACCURACY],
    )
    assert policy.is_team_default


# --- aliases ---------------------------------------------------------------------------------


def test_member_moves_an_unprotected_alias_with_history(model: Any, member: Any) -> None:
    v1, v2 = make_version(model), make_version(model)
    services.set_alias(model, "champion", v1, actor=member)
    services.set_alias(model, "champion", v2, actor=member, reason="better")

    assert ModelAlias.objects.get(model=model, alias="champion").version == v2
    last = AliasHistory.objects.filter(model=model).first()
    assert last is not None
    assert (last.from_version, last.to_version, last.reason) == (v1, v2, "better")
    assert _verbs() == ["registry.alias_moved", "registry.alias_moved"]


def test_protected_alias_cannot_be_set_directly_even_by_operators(model: Any) -> None:
    make_policy(model=model, rules=[])
    with pytest.raises(NotAllowed, match="protected"):
        services.set_alias(model, "production", make_version(model), actor=operator())


def test_alias_on_a_version_of_another_model_is_refused(model: Any, member: Any) -> None:
    other = make_model(team=model.team)
    with pytest.raises(DomainError) as err:
        services.set_alias(model, "champion", make_version(other), actor=member)
    assert err.value.field == "version"


@pytest.mark.parametrize("alias", ["latest", "v3", "Champion", "has space", ""])
def test_reserved_or_malformed_alias_names_are_refused(model: Any, member: Any, alias: str) -> None:
    with pytest.raises(DomainError):
        services.set_alias(model, alias, make_version(model), actor=member)


def test_deleting_an_unknown_alias_is_not_found(model: Any, member: Any) -> None:
    with pytest.raises(RegistryNotFound):
        services.delete_alias(model, "ghost", actor=member)


def test_protected_alias_is_removed_only_by_a_lead_with_a_reason(
    model: Any, member: Any, lead: Any
) -> None:
    make_policy(model=model, rules=[])
    point_alias(model, "production", make_version(model))

    with pytest.raises(NotAllowed):
        services.delete_alias(model, "production", actor=member, reason="oops")
    with pytest.raises(DomainError):
        services.delete_alias(model, "production", actor=lead, reason="")
    services.delete_alias(model, "production", actor=lead, reason="incident 42")

    assert not ModelAlias.objects.filter(model=model).exists()
    assert "registry.alias_deleted" in _verbs()


# --- promotion -------------------------------------------------------------------------------


def _gated(model: Any, *, approval: bool) -> Any:
    make_policy(model=model, requires_approval=approval, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=0.95)
    return version


def test_failing_gate_refuses_the_request_and_writes_nothing(model: Any, member: Any) -> None:
    make_policy(model=model, requires_approval=True, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=0.80)

    with pytest.raises(GateFailed) as err:
        services.request_promotion(version, target="production", actor=member)

    assert "accuracy" in err.value.message and "0.8" in err.value.message
    assert err.value.gate.checks[0].status == "failed"
    assert PromotionRequest.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_passing_gate_without_approval_moves_the_alias_at_once(model: Any, member: Any) -> None:
    version = _gated(model, approval=False)

    req = services.request_promotion(version, target="production", actor=member, reason="go")

    assert req.status == "applied"
    assert ModelAlias.objects.get(model=model, alias="production").version == version
    assert AliasHistory.objects.get(model=model).request == req


def test_policy_needing_approval_leaves_the_request_submitted(model: Any, member: Any) -> None:
    version = _gated(model, approval=True)

    req = services.request_promotion(version, target="production", actor=member)

    assert req.status == "submitted"
    assert req.gate["passed"] is True
    assert not ModelAlias.objects.filter(model=model, alias="production").exists()
    assert _verbs() == ["registry.promotion_requested"]


def test_a_second_open_request_for_the_same_target_is_a_conflict(model: Any, member: Any) -> None:
    version = _gated(model, approval=True)
    services.request_promotion(version, target="production", actor=member)

    with pytest.raises(Conflict):
        services.request_promotion(version, target="production", actor=member)


def test_only_ready_versions_are_promoted(model: Any, member: Any) -> None:
    version = _gated(model, approval=False)
    ModelVersion.objects.filter(pk=version.pk).update(status="pending_registration")
    version.refresh_from_db()
    with pytest.raises(DomainError, match="ready"):
        services.request_promotion(version, target="production", actor=member)


def test_lead_approval_moves_the_alias_and_records_who_when_why(
    model: Any, member: Any, lead: Any
) -> None:
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=member)

    req = services.approve_promotion(req, actor=lead, reason="eval looks solid")

    assert req.status == "applied"
    assert req.decided_by == lead and req.decided_at is not None
    assert ModelAlias.objects.get(model=model, alias="production").version == version
    event = AuditEvent.objects.get(verb="registry.promotion_approved")
    assert (event.actor, event.reason) == (lead, "eval looks solid")
    moved = AuditEvent.objects.get(verb="registry.alias_moved")
    assert moved.after == {"alias": "production", "version": version.version}


def test_requester_cannot_approve_their_own_request_even_as_a_lead(model: Any) -> None:
    lead_member = member_of(model.team, username="lead-member")
    lead_member.groups.add(*platform_lead(username="tmp").groups.all())
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=lead_member)

    with pytest.raises(NotAllowed, match="own"):
        services.approve_promotion(req, actor=lead_member)
    req.refresh_from_db()
    assert req.status == "submitted"


@pytest.mark.parametrize("who", ["member", "maintainer", "op_user"])
def test_only_platform_leads_approve(model: Any, request: Any, who: str) -> None:
    requester = member_of(model.team, username="req")
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=requester)
    with pytest.raises(NotAllowed):
        services.approve_promotion(req, actor=request.getfixturevalue(who))


def test_second_approval_of_a_decided_request_is_a_conflict(
    model: Any, member: Any, lead: Any
) -> None:
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=member)
    stale = PromotionRequest.objects.get(pk=req.pk)
    services.approve_promotion(req, actor=lead)

    with pytest.raises(Conflict):
        services.approve_promotion(stale, actor=platform_lead(username="lead2"))
    assert AuditEvent.objects.filter(verb="registry.promotion_approved").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_leads_approving_at_once_produce_one_approval(team: Any) -> None:
    """GIVEN a submitted request WHEN two leads approve in parallel THEN one wins, one 409."""
    model = make_model(name="race", team=team)
    requester = member_of(team, username="req")
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=requester)
    leads = [platform_lead(username="l1"), platform_lead(username="l2")]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def approve(lead: Any) -> None:
        try:
            barrier.wait()
            services.approve_promotion(PromotionRequest.objects.get(pk=req.pk), actor=lead)
            outcomes.append("approved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(lead,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["approved", "conflict"]
    assert AliasHistory.objects.filter(model=model, target="production").count() == 1


def test_gate_is_checked_again_at_approval_time(model: Any, member: Any, lead: Any) -> None:
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=member)
    add_evals(version, accuracy=0.5)  # a newer, worse result arrives

    with pytest.raises(GateFailed):
        services.approve_promotion(req, actor=lead)

    req.refresh_from_db()
    assert req.status == "submitted"
    assert not ModelAlias.objects.filter(model=model, alias="production").exists()


def test_reject_needs_a_reason_and_leaves_the_alias(model: Any, member: Any, lead: Any) -> None:
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=member)

    with pytest.raises(DomainError):
        services.reject_promotion(req, actor=lead, reason=" ")
    req = services.reject_promotion(req, actor=lead, reason="latency regression in canary")

    assert req.status == "rejected"
    assert not ModelAlias.objects.filter(model=model, alias="production").exists()
    with pytest.raises(DomainError):
        services.approve_promotion(req, actor=lead)


def test_requester_cancels_an_open_request_but_an_outsider_cannot(
    model: Any, member: Any, outsider: Any
) -> None:
    version = _gated(model, approval=True)
    req = services.request_promotion(version, target="production", actor=member)

    with pytest.raises(NotAllowed):
        services.cancel_promotion(req, actor=outsider)
    req = services.cancel_promotion(req, actor=member)

    assert req.status == "cancelled"


def test_stage_promotion_archives_the_previous_holder(model: Any, member: Any) -> None:
    make_policy(model=model, target="production", target_kind="stage", rules=[ACCURACY])
    old = make_version(model, stage="production")
    version = make_version(model)
    add_evals(version, accuracy=0.99)

    services.request_promotion(version, target="production", target_kind="stage", actor=member)

    old.refresh_from_db()
    version.refresh_from_db()
    assert (old.stage, version.stage) == ("archived", "production")


def test_protected_stage_cannot_be_set_directly(model: Any, member: Any) -> None:
    make_policy(model=model, target="production", target_kind="stage", rules=[])
    with pytest.raises(NotAllowed):
        services.set_stage(make_version(model), "production", actor=member)
    services.set_stage(make_version(model), "staging", actor=member)


# --- permission matrix -----------------------------------------------------------------------

MATRIX = [
    # (who, action, allowed)
    ("member", "create_version", True),
    ("maintainer", "create_version", True),
    ("outsider", "create_version", False),
    ("lead", "create_version", False),
    ("op_user", "create_version", True),
    ("member", "post_evals", True),
    ("outsider", "post_evals", False),
    ("member", "set_alias", True),
    ("outsider", "set_alias", False),
    ("lead", "set_alias", False),
    ("op_user", "set_alias", True),
    ("member", "request_promotion", True),
    ("outsider", "request_promotion", False),
    ("member", "save_policy", False),
    ("maintainer", "save_policy", True),
    ("op_user", "save_policy", True),
    ("outsider", "save_policy", False),
]


@pytest.mark.parametrize(("who", "action", "allowed"), MATRIX)
def test_permission_matrix(model: Any, request: Any, who: str, action: str, allowed: bool) -> None:
    user = request.getfixturevalue(who)
    version = make_version(model)
    add_evals(version, accuracy=0.99)
    make_policy(model=model, rules=[ACCURACY])
    run = {
        "create_version": lambda: services.create_version(model, actor=user, source_uri="s3://x"),
        "post_evals": lambda: services.add_eval_results(
            version, [{"metric": "f1", "value": 0.5}], actor=user
        ),
        "set_alias": lambda: services.set_alias(model, "champion", version, actor=user),
        "request_promotion": lambda: services.request_promotion(
            version, target="production", actor=user
        ),
        "save_policy": lambda: services.save_policy(
            actor=user, model=model, target_kind="alias", target="staging", rules=[ACCURACY]
        ),
    }[action]
    if allowed:
        run()
    else:
        with pytest.raises(NotAllowed):
            run()
