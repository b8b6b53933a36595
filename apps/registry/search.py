"""Search for the registry API: MLflow-style filter strings, max_results and page tokens.

A page token is opaque to clients: base64 of the last row's sort key. Pages are fetched
with ``WHERE key > last ORDER BY key LIMIT n+1`` (keyset), so there is no COUNT(*) and
no growing OFFSET however deep the client pages.

Filter strings understand ``AND``-joined clauses, as MLflow's search does::

    name = 'fraud-detector'            name LIKE 'fraud%'        name ILIKE '%Fraud%'
    tags.owner = 'ml-core'             tags.`task type` = 'ranking'
    run_id = 'abc123'                  alias = 'champion'        version = '3'
    stage = 'production'               status = 'ready'          team = 'vision'
    framework = 'pytorch'
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from apps.core.errors import DomainError

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000

_CLAUSE = re.compile(
    r"""^\s*(?P<key>tags\.`[^`]+`|tags\.[A-Za-z0-9_.:/@-]+|[A-Za-z_]+)\s*
        (?P<op>=|!=|LIKE|ILIKE)\s*
        (?P<quote>['"])(?P<value>.*)(?P=quote)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    key: str  # "name", "run_id", … or "tag" (with tag_key)
    op: str  # "=", "!=", "LIKE", "ILIKE"
    value: str
    tag_key: str = ""


def parse_filter(text: str, *, allowed: set[str]) -> list[Clause]:
    """Parse an MLflow-style filter string into clauses; any error is a 400 naming it."""
    text = (text or "").strip()
    if not text:
        return []
    clauses = []
    for part in _AND.split(text):
        match = _CLAUSE.match(part)
        if match is None:
            raise DomainError(
                f"Cannot read the filter clause {part.strip()!r}: write key = 'value', "
                "joined with AND.",
                field="filter",
            )
        key, op, value = match["key"], match["op"].upper(), match["value"]
        tag_key = ""
        if key.lower().startswith("tags."):
            tag_key = key[5:].strip("`")
            key = "tag"
        else:
            key = key.lower()
        if key not in allowed:
            raise DomainError(
                f"Unknown filter key {key!r}; use one of {', '.join(sorted(allowed))}.",
                field="filter",
            )
        if op in ("LIKE", "ILIKE") and key != "name":
            raise DomainError("LIKE and ILIKE work on name only.", field="filter")
        if op == "!=" and key not in ("name", "tag", "stage", "status"):
            raise DomainError(f"!= does not work on {key}.", field="filter")
        clauses.append(Clause(key=key, op=op, value=value, tag_key=tag_key))
    return clauses


def like_lookup(field: str, pattern: str, *, insensitive: bool) -> dict[str, str]:
    """Turn a SQL LIKE pattern into a Django lookup (prefix/contains/suffix when it can)."""
    i = "i" if insensitive else ""
    inner = pattern.strip("%")
    if "%" not in inner and "_" not in inner:
        starts, ends = pattern.startswith("%"), pattern.endswith("%")
        if starts and ends:
            return {f"{field}__{i}contains": inner}
        if ends:
            return {f"{field}__{i}startswith": inner}
        if starts:
            return {f"{field}__{i}endswith": inner}
        return {f"{field}__{i}exact" if i else field: inner}
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return {f"{field}__{i}regex": f"^{regex}$"}


def max_results(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise DomainError("max_results must be a whole number.", field="max_results") from None
    if not 1 <= value <= MAX_RESULTS_LIMIT:
        raise DomainError(f"max_results is between 1 and {MAX_RESULTS_LIMIT}.", field="max_results")
    return value


def encode_token(kind: str, key: Any) -> str:
    raw = json.dumps([kind, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, kind: str) -> Any:
    """The sort key a token carries, or None without a token. Bad tokens are a 400."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if not (isinstance(data, list) and len(data) == 2 and data[0] == kind):
        raise DomainError("The page_token is not valid for this search.", field="page_token")
    return data[1]
