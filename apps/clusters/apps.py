from django.apps import AppConfig


class ClustersConfig(AppConfig):
    """Clusters, team namespaces and the GPU inventory."""

    name = "apps.clusters"
    label = "clusters"
    verbose_name = "Clusters"

    def ready(self) -> None:
        # Register the Operation handlers and the system checks.
        from apps.clusters import checks, operations  # noqa: F401
