"""Template context shared by every page: navigation and the user's roles."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from apps.accounts.roles import role_labels
from apps.core.nav import NAV_ITEMS


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    items = []
    for item in NAV_ITEMS:
        if not item.visible(user):
            continue
        prefix = item.path_prefix
        active = (
            bool(re.match(prefix, request.path))
            if prefix.endswith("$")
            else (request.path.startswith(prefix))
        )
        items.append({"label": item.label, "url": reverse(item.url_name), "active": active})
    return {"nav_items": items, "user_roles": role_labels(user)}
