from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared pieces: operations (the worker pattern), navigation, errors, logging."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from apps.core import checks, operations  # noqa: F401  (registers checks and handlers)
