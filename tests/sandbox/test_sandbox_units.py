"""Selectors, quantities and the RBAC rule matcher on their own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from worker.kube.quantity import parse_count, parse_quantity
from worker.kube.rbac import is_allowed
from worker.sandbox.errors import ApiError
from worker.sandbox.selectors import field_selector, label_selector


def obj(**labels: str) -> dict:
    return {"metadata": {"labels": labels}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("team=a", True),
        ("team==a", True),
        ("team!=a", False),
        ("team", True),
        ("!team", False),
        ("team in (a, b),tier", True),
        ("team notin (a,b)", False),
        ("team=a,tier=gold", False),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert label_selector(selector)(obj(team="a", tier="silver")) is matches


def test_field_selectors_and_bad_syntax() -> None:
    running = obj()
    assert field_selector("status.phase!=Succeeded,status.phase!=Failed")(running)
    assert not field_selector("status.phase=Pending")(running)
    with pytest.raises(ApiError) as caught:
        field_selector("status.phase")
    assert caught.value.code == 400


@pytest.mark.parametrize(
    ("text", "value"),
    [("8", Decimal(8)), ("500m", Decimal("0.5")), ("1Gi", Decimal(2**30)), ("1e3", Decimal(1000))],
)
def test_quantities(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_bad_quantities_and_counts() -> None:
    with pytest.raises(ValueError):
        parse_quantity("lots")
    assert parse_count("8000m") == 8


def test_rbac_rules_match_group_resource_verb_and_name() -> None:
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": ["kueue.x-k8s.io"], "resources": ["*"], "verbs": ["get"]},
        {
            "apiGroups": [""],
            "resources": ["resourcequotas"],
            "verbs": ["patch"],
            "resourceNames": ["q"],
        },
    ]
    assert is_allowed(rules, "", "pods", "list")
    assert not is_allowed(rules, "", "pods", "get")
    assert is_allowed(rules, "kueue.x-k8s.io", "clusterqueues", "get")
    assert is_allowed(rules, "", "resourcequotas", "patch", "q")
    assert not is_allowed(rules, "", "resourcequotas", "patch", "other")
