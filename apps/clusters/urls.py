from django.urls import path

from apps.clusters import views

app_name = "clusters"

urlpatterns = [
    path("", views.cluster_list, name="list"),
    path("<slug:name>/", views.cluster_detail, name="detail"),
    path("<slug:name>/sync/", views.cluster_sync, name="sync"),
    path("<slug:name>/test-connection/", views.cluster_test_connection, name="test-connection"),
    path(
        "<slug:name>/namespaces/<int:pk>/ensure/",
        views.namespace_ensure,
        name="namespace-ensure",
    ),
]
