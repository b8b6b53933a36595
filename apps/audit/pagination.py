"""Keyset pagination for the audit log: constant cost however deep the page.

A page of events is fetched as ``id < cursor ORDER BY id DESC LIMIT n+1``; no
``COUNT(*)`` over a million rows, no growing ``OFFSET``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class KeysetPage:
    rows: list[Any]
    older_cursor: int | None
    newer_cursor: int | None


def keyset_page(queryset: Any, *, before: int | None, after: int | None, size: int) -> KeysetPage:
    """Return ``size`` rows older than ``before`` (or newer than ``after``), newest first."""
    if after is not None:
        rows = list(queryset.filter(pk__gt=after).order_by("id")[: size + 1])
        has_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        older = rows[-1].pk if rows else None
        return KeysetPage(rows, older_cursor=older, newer_cursor=rows[0].pk if has_newer else None)
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-id")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows,
        older_cursor=rows[-1].pk if has_older and rows else None,
        newer_cursor=rows[0].pk if before is not None and rows else None,
    )
