"""The REST API, version 1: each app contributes its routes here."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from apps.accounts import api as accounts_api
from apps.audit import api as audit_api
from apps.catalog import api as catalog_api
from apps.clusters import api as clusters_api
from apps.core import api as core_api
from apps.quotas import api as quotas_api
from apps.registry import api as registry_api


class Router(DefaultRouter):
    # No ".json" URL suffixes: clients send Accept headers, and every request would
    # otherwise try each route twice.
    include_format_suffixes = False


router = Router()
router.register("teams", accounts_api.TeamViewSet, basename="team")
router.register("tokens", accounts_api.ApiTokenViewSet, basename="token")
router.register("audit-events", audit_api.AuditEventViewSet, basename="auditevent")
router.register("operations", core_api.OperationViewSet, basename="operation")
clusters_api.register(router)
catalog_api.register(router)
registry_api.register(router)
quotas_api.register(router)

urlpatterns = [
    path("me/", accounts_api.MeView.as_view(), name="api-me"),
    path("", include(router.urls)),
    path("<path:unknown>", core_api.not_found, name="api-not-found"),
]
