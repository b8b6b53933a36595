"""Home-page panels: quota requests awaiting a lead, and the user's open requests."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.quotas.models import QuotaRequest


def awaiting_approval(user: Any) -> tuple[str, str, int] | None:
    """Submitted quota requests a platform lead may decide (not their own)."""
    count = QuotaRequest.objects.awaiting(user).count()
    if not count:
        return None
    return ("GPU quota requests", reverse("quotas:request-list") + "?status=submitted", count)


def my_open_requests(user: Any) -> tuple[str, str, int] | None:
    """The user's own quota requests that are not settled yet."""
    count = QuotaRequest.objects.open().filter(requested_by=user).count()
    if not count:
        return None
    return ("GPU quota requests", reverse("quotas:request-list") + "?mine=1&status=open", count)
