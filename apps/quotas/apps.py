from django.apps import AppConfig


class QuotasConfig(AppConfig):
    """GPU quota requests: four-eyes approval, apply by the worker, expiry, reconciliation."""

    name = "apps.quotas"
    label = "quotas"
    verbose_name = "GPU quotas"

    def ready(self) -> None:
        from apps.core.nav import APPROVAL_SOURCES, OPEN_REQUEST_SOURCES
        from apps.quotas import home, operations  # noqa: F401  (registers the handlers)

        if home.awaiting_approval not in APPROVAL_SOURCES:
            APPROVAL_SOURCES.append(home.awaiting_approval)
        if home.my_open_requests not in OPEN_REQUEST_SOURCES:
            OPEN_REQUEST_SOURCES.append(home.my_open_requests)
