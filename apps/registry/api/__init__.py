"""REST API of the model registry, in shapes MLflow users know.

``/registered-models/``   search (filter, max_results, page_token), create, get, patch;
                          ``/{name}/aliases/{alias}/`` get version by alias, set, delete.
``/model-versions/``      search (name, run_id, tag, alias, …), create for a model by name,
                          get, patch; ``/{id}/eval-results/`` batch post (all or nothing),
                          ``/{id}/gate/`` the checklist, ``/{id}/promotions/`` request one.
``/promotion-requests/``  list, get, approve / reject (platform leads' personal tokens
                          only, never team tokens), cancel.
"""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from apps.registry.api.model_versions import ModelVersionViewSet
from apps.registry.api.promotions import PromotionRequestViewSet
from apps.registry.api.registered_models import RegisteredModelViewSet

__all__ = ["ModelVersionViewSet", "PromotionRequestViewSet", "RegisteredModelViewSet", "register"]


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("registered-models", RegisteredModelViewSet, basename="registry-model")
    router.register("model-versions", ModelVersionViewSet, basename="registry-version")
    router.register("promotion-requests", PromotionRequestViewSet, basename="registry-promotion")
