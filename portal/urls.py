"""Top-level URL map: one include per app, the API under /api/v1/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views

urlpatterns = [
    # First: automation calls the API far more often than people load pages.
    path("api/v1/", include(("portal.api_urls", "api"), namespace="api")),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("audit/", include("apps.audit.urls")),
    path("clusters/", include("apps.clusters.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("models/", include("apps.registry.urls")),
    path("quotas/", include("apps.quotas.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = core_views.bad_request
handler403 = core_views.permission_denied
handler404 = core_views.page_not_found
handler500 = core_views.server_error
