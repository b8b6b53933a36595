"""System checks that report misconfiguration at start-up, not at the first request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def check_broker_url(app_configs: Any, **kwargs: Any) -> list[Any]:
    url = settings.CELERY_BROKER_URL
    known = ("redis://", "rediss://", "amqp://", "filesystem://", "memory://", "sentinel://")
    if not url.startswith(known):
        return [
            Error(
                f"CELERY_BROKER_URL {url.split('://')[0]}:// is not a supported broker.",
                hint="Use redis://host:6379/0 in production.",
                id="tarmac.E001",
            )
        ]
    if not settings.DEBUG and url.startswith(("filesystem://", "memory://")):
        return [
            Warning(
                "The embedded broker is in use with DEBUG off.",
                hint="Set CELERY_BROKER_URL to a Redis server for production.",
                id="tarmac.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_database_engine(app_configs: Any, **kwargs: Any) -> list[Any]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if not settings.DEBUG and engine.endswith("sqlite3"):
        return [
            Warning(
                "SQLite is in use with DEBUG off.",
                hint="Set DATABASE_URL=postgres://… for production.",
                id="tarmac.W002",
            )
        ]
    return []
