"""The navigation: one entry per built area. An area joins the list when it ships."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.accounts.roles import is_operator


def _signed_in(user: Any) -> bool:
    return bool(user.is_authenticated)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    path_prefix: str
    visible: Callable[[Any], bool] = _signed_in


NAV_ITEMS: list[NavItem] = [
    NavItem("Home", "home", "/$"),
    NavItem("Teams", "accounts:team-list", "/accounts/teams"),
    NavItem("Models", "registry:model-list", "/models"),
    NavItem("Catalog", "catalog:entity-list", "/catalog"),
    NavItem("Clusters", "clusters:list", "/clusters"),
    NavItem("Quotas", "quotas:request-list", "/quotas"),
    NavItem("Operations", "operation-list", "/operations"),
    NavItem("Audit", "audit:event-list", "/audit"),
    NavItem("Admin", "admin:index", "/admin", is_operator),
]


# Home-page panels that list what awaits a platform lead's approval. Apps with an
# approval queue append a callable returning (title, url, count) for the user.
APPROVAL_SOURCES: list[Callable[[Any], tuple[str, str, int] | None]] = []
# Home-page panels that list the user's own open requests: (title, url, count).
OPEN_REQUEST_SOURCES: list[Callable[[Any], tuple[str, str, int] | None]] = []
