"""Label and field selectors, with the syntax the API server accepts.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x,y)``,
comma-separated and ANDed. Field selectors: ``path=value``, ``path==value``, ``path!=value``
on dotted paths such as ``status.phase`` or ``spec.nodeName``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from worker.sandbox.errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([^\s!=(),]+)\s*(==|!=|=)\s*([^\s!=(),]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def _label_term(term: str) -> Predicate:
    match = _SET_TERM.match(term)
    if match and not match.group(1):
        key, operator = match.group(2), match.group(3)
        values = {value.strip() for value in match.group(4).split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    match = _EQ_TERM.match(term)
    if match:
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _EXISTS_TERM.match(term)
    if match:
        negate, key = match.groups()
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {term.strip()!r}")


def label_selector(selector: str | None) -> Predicate:
    """A predicate over an object's ``metadata.labels``; raise 400 ApiError if unparsable."""
    if not selector:
        return lambda obj: True
    predicates = [_label_term(term) for term in _split_terms(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(predicate(labels) for predicate in predicates)

    return matches


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_selector(selector: str | None) -> Predicate:
    """A predicate over dotted field paths; raise 400 ApiError if unparsable."""
    if not selector:
        return lambda obj: True
    terms: list[tuple[str, bool, str]] = []
    for term in selector.split(","):
        match = _EQ_TERM.match(term)
        if not match:
            raise bad_request(f"invalid field selector: {term.strip()!r}")
        path, operator, value = match.groups()
        terms.append((path, operator == "!=", value))

    def matches(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, path) == value) != negate for path, negate, value in terms)

    return matches
