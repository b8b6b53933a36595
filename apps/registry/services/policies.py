"""Promotion policies and their rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Team
from apps.audit.services import record
from apps.core.errors import DomainError, NotAllowed
from apps.registry.choices import (
    Comparator,
)
from apps.registry.models import (
    EvalResult,
    PolicyRule,
    PromotionPolicy,
    RegisteredModel,
)
from apps.registry.services.common import (
    _METRIC_RE,
    _user_or_none,
    _validate_target,
    can_edit_policy,
)


def save_policy(
    *,
    actor: Any,
    target_kind: str,
    target: str,
    rules: Iterable[Mapping[str, Any]],
    requires_approval: bool = False,
    model: RegisteredModel | None = None,
    team: Team | None = None,
) -> PromotionPolicy:
    """Create or replace the policy of one target, for a model or as a team default.

    Every rule must name a metric (and dataset, when given) that some version of the
    model — or, for a team default, of one of the team's models — has a result for;
    a typo would otherwise make the gate unpassable.
    """
    if (model is None) == (team is None):
        raise DomainError("A policy belongs to a model or is a team default, not both.")
    owner_team_id = model.team_id if model is not None else team.pk  # type: ignore[union-attr]
    if not can_edit_policy(actor, owner_team_id):
        raise NotAllowed("Only maintainers of the owning team set promotion policies.")
    target = _validate_target(target_kind, (target or "").strip())
    clean_rules = [_clean_rule(i, rule) for i, rule in enumerate(rules)]
    check_metrics_exist(clean_rules, model=model, team_id=owner_team_id)
    with transaction.atomic():
        lookup: dict[str, Any] = {"target_kind": target_kind, "target": target}
        lookup.update({"model": model} if model is not None else {"team": team})
        policy = PromotionPolicy.objects.select_for_update().filter(**lookup).first()
        before = _policy_snapshot(policy) if policy else None
        if policy is None:
            policy = PromotionPolicy.objects.create(
                **lookup, requires_approval=requires_approval, created_by=_user_or_none(actor)
            )
        else:
            policy.requires_approval = requires_approval
            policy.updated_at = timezone.now()
            policy.save(update_fields=["requires_approval", "updated_at"])
            policy.rules.all().delete()
        PolicyRule.objects.bulk_create([PolicyRule(policy=policy, **r) for r in clean_rules])
        record(
            actor=actor,
            verb="registry.policy_saved",
            target=policy,
            team=model.team if model is not None else team,
            before=before,
            after=_policy_snapshot(policy),
        )
    return policy


def delete_policy(policy: PromotionPolicy, *, actor: Any, reason: str = "") -> None:
    """Remove a policy: its target becomes unprotected."""
    team = policy.model.team if policy.model_id and policy.model else policy.team
    assert team is not None
    if not can_edit_policy(actor, team.pk):
        raise NotAllowed("Only maintainers of the owning team remove promotion policies.")
    with transaction.atomic():
        record(
            actor=actor,
            verb="registry.policy_deleted",
            target=policy,
            team=team,
            before=_policy_snapshot(policy),
            reason=reason,
        )
        policy.delete()


def _clean_rule(index: int, rule: Mapping[str, Any]) -> dict[str, Any]:
    where = f"Rule {index + 1}"
    metric = str(rule.get("metric") or "").strip()
    if not _METRIC_RE.match(metric):
        raise DomainError(f"{where}: name the metric.", field="rules")
    dataset = str(rule.get("dataset") or "").strip()
    relative = bool(rule.get("relative_to_holder"))
    higher = rule.get("higher_is_better")
    out: dict[str, Any] = {
        "metric": metric,
        "dataset": dataset,
        "relative_to_holder": relative,
        "higher_is_better": True if higher is None else bool(higher),
        "comparator": "",
        "threshold": None,
        "max_regression_pct": None,
    }
    if relative:
        pct = _number(rule.get("max_regression_pct"), f"{where}: the allowed regression (%)")
        if pct < 0 or pct > 100:
            raise DomainError(f"{where}: the allowed regression is 0-100 %.", field="rules")
        out["max_regression_pct"] = pct
        return out
    comparator = rule.get("comparator") or ""
    if comparator not in Comparator.values:
        raise DomainError(
            f"{where}: the comparator is one of {', '.join(Comparator.values)}.", field="rules"
        )
    out["comparator"] = comparator
    out["threshold"] = _number(rule.get("threshold"), f"{where}: the threshold")
    return out


def _number(raw: Any, label: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DomainError(f"{label} must be a number.", field="rules") from None
    if not math.isfinite(value) or isinstance(raw, bool):
        raise DomainError(f"{label} must be a finite number.", field="rules")
    return value


def check_metrics_exist(
    rules: list[dict[str, Any]], *, model: RegisteredModel | None, team_id: int
) -> None:
    if not rules:
        return
    scope = (
        EvalResult.objects.filter(version__model=model)
        if model is not None
        else EvalResult.objects.filter(version__model__team_id=team_id)
    )
    where = f"model {model.name}" if model is not None else "any model of this team"
    for index, rule in enumerate(rules):
        query = scope.filter(metric=rule["metric"])
        if rule["dataset"]:
            query = query.filter(dataset=rule["dataset"])
        if not query.exists():
            on = f" on dataset {rule['dataset']!r}" if rule["dataset"] else ""
            raise DomainError(
                f"Rule {index + 1}: no version of {where} has a {rule['metric']!r} result{on}; "
                "check the metric's spelling (the gate could never pass).",
                field="rules",
            )


def _policy_snapshot(policy: PromotionPolicy) -> dict[str, Any]:
    return {
        "target": f"{policy.target_kind}:{policy.target}",
        "requires_approval": policy.requires_approval,
        "rules": [rule.describe() for rule in policy.rules.all()],
    }
