"""Calling the generated client methods: JSON in, plain dicts out, ClusterError on failure.

Every call passes ``_preload_content=False`` and parses the JSON itself. The generated
models of client 37 are strict pydantic models; reading plain dicts keeps the adapter
independent of them (and is much faster for lists of thousands of pods).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from worker.kube.errors import TRANSPORT_ERRORS, ClusterError, translate

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "tarmac"
TEAM_LABEL = "tarmac.io/team"
FIELD_MANAGER = "tarmac"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


def call_json(
    method: Callable[..., Any], *args: Any, timeout: tuple[float, float], **kwargs: Any
) -> dict[str, Any]:
    """Call a generated API method and return the response body as a dict."""
    try:
        response = method(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
        data = response.data
        release = getattr(response, "release_conn", None)
        if release is not None:
            release()
    except TRANSPORT_ERRORS as exc:
        raise translate(exc) from exc
    if not data:
        return {}
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        # A proxy or load balancer answered instead of the API server.
        raise ClusterError(
            f"the response is not JSON: {data[:200]!r}", reason="InvalidResponse", transient=True
        ) from exc
    return parsed if isinstance(parsed, dict) else {}


def list_pages(fetch: Callable[[str | None], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Items of a paged list: ``fetch(continue_token)`` returns one page."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or None
        if not token:
            return


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    """An object's labels (empty dict when it has none)."""
    return dict((obj.get("metadata") or {}).get("labels") or {})


def is_managed_by_tarmac(obj: dict[str, Any]) -> bool:
    """Whether an object carries ``app.kubernetes.io/managed-by: tarmac``."""
    return labels_of(obj).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def managed_labels(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The labels every object Tarmac writes carries, plus ``extra``."""
    return {**(extra or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
