"""Gate evaluation: each rule passed, failed (with the numbers) or missing."""

from __future__ import annotations

from typing import Any

import pytest

from apps.registry.gate import evaluate_gate
from apps.registry.models import EvalResult, ModelVersion
from tests.registry.factories import (
    add_evals,
    make_model,
    make_policy,
    make_version,
    point_alias,
)

pytestmark = pytest.mark.django_db

ACCURACY = {"metric": "accuracy", "comparator": ">=", "threshold": 0.92, "dataset": "holdout"}
LATENCY = {"metric": "latency_p95_ms", "comparator": "<=", "threshold": 200}
F1_RELATIVE = {
    "metric": "f1",
    "dataset": "holdout",
    "relative_to_holder": True,
    "max_regression_pct": 0.5,
}


@pytest.fixture
def model(team: Any) -> Any:
    return make_model(name="fraud", team=team)


def _statuses(gate: Any) -> list[str]:
    return [check.status for check in gate.checks]


def test_gate_passes_when_every_rule_is_met(model: Any) -> None:
    make_policy(model=model, rules=[ACCURACY, LATENCY])
    version = make_version(model)
    add_evals(version, accuracy=0.95, latency_p95_ms=150)

    gate = evaluate_gate(version, "production")

    assert gate.protected
    assert gate.passed
    assert _statuses(gate) == ["passed", "passed"]


def test_failed_rule_reports_actual_and_expected_numbers(model: Any) -> None:
    make_policy(model=model, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=0.9)

    gate = evaluate_gate(version, "production")

    assert not gate.passed
    check = gate.checks[0]
    assert check.status == "failed"
    assert check.actual == pytest.approx(0.9)
    assert check.expected == ">= 0.92"
    assert "0.9" in check.detail and "0.92" in check.detail


def test_metric_the_version_lacks_is_missing_and_blocks_the_gate(model: Any) -> None:
    make_policy(model=model, rules=[ACCURACY, LATENCY])
    version = make_version(model)
    add_evals(version, accuracy=0.95)

    gate = evaluate_gate(version, "production")

    assert _statuses(gate) == ["passed", "missing"]
    assert not gate.passed
    assert gate.checks[1].actual is None


def test_result_on_another_dataset_does_not_satisfy_a_dataset_rule(model: Any) -> None:
    make_policy(model=model, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, dataset="train", accuracy=0.99)

    assert _statuses(evaluate_gate(version, "production")) == ["missing"]


def test_rule_without_dataset_takes_the_latest_result_on_any_dataset(model: Any) -> None:
    make_policy(model=model, rules=[LATENCY])
    version = make_version(model)
    add_evals(version, dataset="a", latency_p95_ms=500)
    add_evals(version, dataset="b", latency_p95_ms=120)

    assert evaluate_gate(version, "production").passed


def test_latest_posted_result_wins_over_an_older_one(model: Any) -> None:
    make_policy(model=model, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=0.80)
    assert not evaluate_gate(version, "production").passed

    add_evals(version, accuracy=0.93)

    assert evaluate_gate(version, "production").passed


def test_relative_rule_passes_within_the_allowed_regression_of_the_holder(model: Any) -> None:
    make_policy(model=model, rules=[F1_RELATIVE])
    holder = make_version(model)
    add_evals(holder, f1=0.900)
    point_alias(model, "production", holder)
    candidate = make_version(model)
    add_evals(candidate, f1=0.896)  # 0.44 % worse: allowed

    gate = evaluate_gate(candidate, "production")

    assert gate.passed
    assert gate.holder_version == holder.version


def test_relative_rule_fails_when_worse_than_the_holder_by_more_than_allowed(model: Any) -> None:
    make_policy(model=model, rules=[F1_RELATIVE])
    holder = make_version(model)
    add_evals(holder, f1=0.900)
    point_alias(model, "production", holder)
    candidate = make_version(model)
    add_evals(candidate, f1=0.890)  # 1.1 % worse

    gate = evaluate_gate(candidate, "production")

    check = gate.checks[0]
    assert check.status == "failed"
    assert check.expected == "≥ 0.8955"
    assert "v1" in check.detail


def test_relative_rule_where_lower_is_better_fails_on_a_slower_candidate(model: Any) -> None:
    rule = {
        "metric": "latency_p95_ms",
        "dataset": "holdout",
        "relative_to_holder": True,
        "max_regression_pct": 10,
        "higher_is_better": False,
    }
    make_policy(model=model, rules=[rule])
    holder = make_version(model)
    add_evals(holder, latency_p95_ms=100)
    point_alias(model, "production", holder)
    fast, slow = make_version(model), make_version(model)
    add_evals(fast, latency_p95_ms=109)
    add_evals(slow, latency_p95_ms=111)

    assert evaluate_gate(fast, "production").passed
    assert not evaluate_gate(slow, "production").passed


def test_relative_rule_passes_when_nothing_holds_the_target_yet(model: Any) -> None:
    make_policy(model=model, rules=[F1_RELATIVE])
    version = make_version(model)
    add_evals(version, f1=0.5)

    gate = evaluate_gate(version, "production")

    assert gate.passed
    assert gate.holder_version is None
    assert "nothing to regress from" in gate.checks[0].detail


def test_relative_rule_is_missing_when_the_candidate_lacks_the_metric(model: Any) -> None:
    make_policy(model=model, rules=[F1_RELATIVE])
    holder = make_version(model)
    add_evals(holder, f1=0.9)
    point_alias(model, "production", holder)

    assert _statuses(evaluate_gate(make_version(model), "production")) == ["missing"]


def test_stage_holder_is_the_newest_version_in_that_stage(model: Any) -> None:
    make_policy(model=model, target="production", target_kind="stage", rules=[F1_RELATIVE])
    old = make_version(model, stage="production")
    newer = make_version(model, stage="production")
    add_evals(old, f1=0.5)
    add_evals(newer, f1=0.9)
    candidate = make_version(model)
    add_evals(candidate, f1=0.8)

    gate = evaluate_gate(candidate, "production", target_kind="stage")

    assert gate.holder_version == newer.version
    assert not gate.passed


def test_team_default_policy_applies_to_a_model_without_its_own(model: Any) -> None:
    make_policy(team=model.team, rules=[ACCURACY])
    version = make_version(model)
    add_evals(version, accuracy=0.5)

    gate = evaluate_gate(version, "production")

    assert gate.policy is not None and gate.policy.is_team_default
    assert not gate.passed


def test_model_policy_overrides_the_team_default(model: Any) -> None:
    make_policy(team=model.team, rules=[ACCURACY])
    make_policy(model=model, rules=[LATENCY])
    version = make_version(model)
    add_evals(version, accuracy=0.5, latency_p95_ms=100)

    gate = evaluate_gate(version, "production")

    assert gate.passed
    assert [c.rule.metric for c in gate.checks] == ["latency_p95_ms"]


def test_unprotected_target_passes_with_no_checks(model: Any) -> None:
    gate = evaluate_gate(make_version(model), "champion")

    assert not gate.protected
    assert gate.passed
    assert gate.checks == []


def test_gate_costs_a_constant_handful_of_queries(
    model: Any, django_assert_max_num_queries: Any
) -> None:
    make_policy(model=model, rules=[ACCURACY, LATENCY, F1_RELATIVE])
    holder = make_version(model)
    point_alias(model, "production", holder)
    for _ in range(30):
        version = make_version(model)
        add_evals(version, accuracy=0.95, latency_p95_ms=100, f1=0.9, recall=0.4)
    version = ModelVersion.objects.select_related("model").get(pk=version.pk)

    with django_assert_max_num_queries(4):
        gate = evaluate_gate(version, "production")

    assert len(gate.checks) == 3
    assert EvalResult.objects.count() == 120
