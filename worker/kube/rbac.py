"""The worker's RBAC manifest (``deploy/rbac/clusterrole.yaml``) and how its rules match requests.

The Kubernetes API sandbox enforces the same file (``--rbac``), and a test runs every adapter
operation against it, so the manifest cannot drift from what the adapter really calls.
This module needs only PyYAML: it does not import the kubernetes client.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "deploy" / "rbac" / "clusterrole.yaml"
SERVICE_ACCOUNT_USER = "system:serviceaccount:tarmac:tarmac-worker"

Rule = dict[str, Any]


def load_rules(path: str | Path = MANIFEST_PATH) -> list[Rule]:
    """The ``rules`` of every ClusterRole/Role in a YAML file.

    The file may also be a bare list of rules, or a mapping with a top-level ``rules`` key.
    """
    rules: list[Rule] = []
    with open(path, encoding="utf-8") as handle:
        documents = list(yaml.safe_load_all(handle))
    for document in documents:
        if isinstance(document, list):
            rules.extend(document)
        elif isinstance(document, dict) and document.get("kind") in (None, "ClusterRole", "Role"):
            rules.extend(document.get("rules") or [])
    return rules


def _matches(values: Iterable[str], wanted: str) -> bool:
    values = list(values)
    return "*" in values or wanted in values


def is_allowed(
    rules: Iterable[Rule], group: str, resource: str, verb: str, name: str | None = None
) -> bool:
    """Whether any rule grants ``verb`` on ``resource`` in API ``group`` (RBAC semantics)."""
    for rule in rules:
        if not _matches(rule.get("apiGroups") or [], group):
            continue
        if not _matches(rule.get("resources") or [], resource):
            continue
        if not _matches(rule.get("verbs") or [], verb):
            continue
        resource_names = rule.get("resourceNames") or []
        if resource_names and (name is None or name not in resource_names):
            continue
        return True
    return False


def permissions(rules: Iterable[Rule]) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) the rules name explicitly (wildcards are kept as "*")."""
    granted: set[tuple[str, str, str]] = set()
    for rule in rules:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    granted.add((group, resource, verb))
    return granted
