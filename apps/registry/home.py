"""Home-page panels: promotions awaiting a lead's approval, and the user's open requests."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.registry.models import PromotionRequest


def awaiting_approval(user: Any) -> tuple[str, str, int] | None:
    """Open promotion requests a platform lead may decide (not their own)."""
    count = PromotionRequest.objects.awaiting(user).count()
    if not count:
        return None
    return ("Model promotions", reverse("registry:promotion-list") + "?status=submitted", count)


def my_open_requests(user: Any) -> tuple[str, str, int] | None:
    """The user's own promotion requests that still wait for a decision."""
    count = PromotionRequest.objects.open().filter(requested_by=user).count()
    if not count:
        return None
    return (
        "Model promotion requests",
        reverse("registry:promotion-list") + "?status=submitted&mine=1",
        count,
    )
