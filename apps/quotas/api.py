"""REST API of the quotas app."""

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
