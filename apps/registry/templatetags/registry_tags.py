"""Template helpers of the registry pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# Registry statuses shown with the shared badge colours (text always says the status).
_BADGE = {
    "passed": "ok",
    "failed": "failed",
    "missing": "pending",
    "ready": "ok",
    "pending_registration": "pending",
    "failed_registration": "failed",
    "submitted": "submitted",
    "approved": "approved",
    "applied": "succeeded",
    "rejected": "rejected",
    "cancelled": "expired",
    "production": "active",
    "staging": "running",
}


@register.filter
def badge_class(status: str) -> str:
    """The shared CSS badge class for a registry status."""
    return _BADGE.get(status, "neutral")


@register.filter
def metric(value: Any) -> str:
    """A metric value, compact: 0.9213, 183.2, 1.2e+06; a dash when absent."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return str(value)
