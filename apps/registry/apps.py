from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """The model registry: models, versions, aliases, stages, eval results, promotion gates."""

    name = "apps.registry"
    label = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from apps.core.nav import APPROVAL_SOURCES, OPEN_REQUEST_SOURCES
        from apps.registry import home

        if home.awaiting_approval not in APPROVAL_SOURCES:
            APPROVAL_SOURCES.append(home.awaiting_approval)
        if home.my_open_requests not in OPEN_REQUEST_SOURCES:
            OPEN_REQUEST_SOURCES.append(home.my_open_requests)
