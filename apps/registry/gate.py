"""The promotion gate: does a version meet the policy of a protected alias or stage?

``evaluate_gate`` reads, never writes, and costs four small queries whatever the size
of the registry: the policy, its rules, the current holder of the target, and the
eval results of the version and the holder for the rules' metrics only.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from apps.registry.choices import CheckStatus, Comparator, TargetKind
from apps.registry.models import (
    EvalResult,
    ModelAlias,
    ModelVersion,
    PolicyRule,
    PromotionPolicy,
)

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    Comparator.GTE: operator.ge,
    Comparator.LTE: operator.le,
    Comparator.GT: operator.gt,
    Comparator.LT: operator.lt,
}


@dataclass(frozen=True)
class Check:
    """One rule's verdict for one version, with the numbers that decided it."""

    rule: PolicyRule
    status: str
    actual: float | None
    expected: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status == CheckStatus.PASSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.describe(),
            "metric": self.rule.metric,
            "dataset": self.rule.dataset,
            "status": self.status,
            "actual": self.actual,
            "expected": self.expected,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class GateResult:
    """The checklist of a version against the policy of one target."""

    target_kind: str
    target: str
    policy: PromotionPolicy | None
    holder_version: int | None
    checks: list[Check] = field(default_factory=list)

    @property
    def protected(self) -> bool:
        return self.policy is not None

    @property
    def requires_approval(self) -> bool:
        return bool(self.policy and self.policy.requires_approval)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        """One line per rule that did not pass, for error messages."""
        return "; ".join(f"{c.rule.describe()}: {c.status} ({c.detail})" for c in self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_kind": self.target_kind,
            "target": self.target,
            "protected": self.protected,
            "policy": (
                None
                if self.policy is None
                else {
                    "id": self.policy.pk,
                    "team_default": self.policy.is_team_default,
                    "requires_approval": self.policy.requires_approval,
                }
            ),
            "holder_version": self.holder_version,
            "passed": self.passed,
            "checks": [check.as_dict() for check in self.checks],
        }


def policy_for(model: Any, *, target_kind: str, target: str) -> PromotionPolicy | None:
    """The model's own policy for the target, else its team's default, else None."""
    candidates = list(
        PromotionPolicy.objects.filter(
            Q(model_id=model.pk) | Q(team_id=model.team_id, model__isnull=True),
            target_kind=target_kind,
            target=target,
        )
    )
    own = [p for p in candidates if p.model_id is not None]
    chosen = own or candidates
    return chosen[0] if chosen else None


def current_holder(model: Any, *, target_kind: str, target: str) -> tuple[int, int] | None:
    """(id, number) of the version that holds the alias — or, for a stage, of the newest
    version in that stage — or None when nothing holds it."""
    if target_kind == TargetKind.STAGE:
        return (
            ModelVersion.objects.filter(model_id=model.pk, stage=target)
            .order_by("-version")
            .values_list("pk", "version")
            .first()
        )
    return (
        ModelAlias.objects.filter(model_id=model.pk, alias=target)
        .values_list("version_id", "version__version")
        .first()
    )


def evaluate_gate(
    version: ModelVersion, target: str, *, target_kind: str = TargetKind.ALIAS
) -> GateResult:
    """Evaluate every rule of the target's policy for ``version``.

    Each rule is ``passed``, ``failed`` (with the numbers) or ``missing`` (the version has
    no result for that metric and dataset). A target without a policy is unprotected
    and its gate passes with no checks.
    """
    model = version.model
    policy = policy_for(model, target_kind=target_kind, target=target)
    if policy is None:
        return GateResult(target_kind, target, None, None, [])
    rules = list(policy.rules.all())
    holder = current_holder(model, target_kind=target_kind, target=target)
    holder_id, holder_number = holder if holder is not None else (None, None)
    version_ids = [version.pk]
    if holder_id is not None and holder_id != version.pk:
        version_ids.append(holder_id)
    values = _latest_values(version_ids, {rule.metric for rule in rules})
    checks = [
        _check(rule, values.get(version.pk, {}), holder_id, holder_number, values, version.pk)
        for rule in rules
    ]
    return GateResult(target_kind, target, policy, holder_number, checks)


def _latest_values(
    version_ids: list[int], metrics: set[str]
) -> dict[int, dict[tuple[str, str], float]]:
    """{version_id: {(metric, dataset): latest value}} plus (metric, "") = latest on any."""
    out: dict[int, dict[tuple[str, str], float]] = {vid: {} for vid in version_ids}
    if not metrics:
        return out
    rows = (
        EvalResult.objects.filter(version_id__in=version_ids, metric__in=metrics)
        .order_by("recorded_at", "id")
        .values_list("version_id", "metric", "dataset", "value")
    )
    for version_id, metric, dataset, value in rows:
        # Ordered oldest first, so the last write for a key is the latest result.
        out[version_id][(metric, dataset)] = value
        out[version_id][(metric, "")] = value
    return out


def _check(
    rule: PolicyRule,
    mine: dict[tuple[str, str], float],
    holder_id: int | None,
    holder_number: int | None,
    values: dict[int, dict[tuple[str, str], float]],
    version_id: int,
) -> Check:
    key = (rule.metric, rule.dataset)
    where = f" on {rule.dataset}" if rule.dataset else ""
    actual = mine.get(key)
    if rule.relative_to_holder:
        return _relative_check(rule, actual, where, holder_id, holder_number, values, version_id)
    expected = f"{rule.comparator} {_fmt(rule.threshold)}"
    if actual is None:
        return Check(rule, CheckStatus.MISSING, None, expected, f"no {rule.metric} result{where}")
    assert rule.threshold is not None
    ok = _COMPARE[rule.comparator](actual, rule.threshold)
    detail = f"{rule.metric}{where} is {_fmt(actual)}, needs {expected}"
    return Check(rule, CheckStatus.PASSED if ok else CheckStatus.FAILED, actual, expected, detail)


def _relative_check(
    rule: PolicyRule,
    actual: float | None,
    where: str,
    holder_id: int | None,
    holder_number: int | None,
    values: dict[int, dict[tuple[str, str], float]],
    version_id: int,
) -> Check:
    pct = rule.max_regression_pct or 0.0
    sign = "≥" if rule.higher_is_better else "≤"
    if actual is None:
        return Check(
            rule,
            CheckStatus.MISSING,
            None,
            f"within {_fmt(pct)}% of the holder",
            f"no {rule.metric} result{where}",
        )
    if holder_id is None or holder_id == version_id:
        detail = (
            "this version already holds the target"
            if holder_id == version_id
            else "no version holds the target yet: nothing to regress from"
        )
        return Check(rule, CheckStatus.PASSED, actual, "no current holder", detail)
    holder_value = values.get(holder_id, {}).get((rule.metric, rule.dataset))
    if holder_value is None:
        return Check(
            rule,
            CheckStatus.PASSED,
            actual,
            "holder has no value",
            f"the current holder v{holder_number} has no {rule.metric}{where} to compare with",
        )
    slack = abs(holder_value) * pct / 100
    bound = holder_value - slack if rule.higher_is_better else holder_value + slack
    ok = actual >= bound if rule.higher_is_better else actual <= bound
    expected = f"{sign} {_fmt(bound)}"
    detail = (
        f"{rule.metric}{where} is {_fmt(actual)}; the holder v{holder_number} has "
        f"{_fmt(holder_value)}, so at most {_fmt(pct)}% worse means {sign} {_fmt(bound)}"
    )
    return Check(rule, CheckStatus.PASSED if ok else CheckStatus.FAILED, actual, expected, detail)


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.6g}"
