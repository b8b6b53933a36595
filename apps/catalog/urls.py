from django.urls import path

from apps.catalog import views

app_name = "catalog"

ENTITY = "entity/<str:kind>/<str:namespace>/<str:name>/"

urlpatterns = [
    path("", views.entity_list, name="entity-list"),
    path("catalog-info.yaml", views.export_list, name="export"),
    path("ingest/", views.ingest, name="ingest"),
    path("locations/", views.location_list, name="location-list"),
    path("locations/<int:pk>/refresh/", views.location_refresh, name="location-refresh"),
    path("locations/<int:pk>/delete/", views.location_delete, name="location-delete"),
    path("scorecards/", views.scorecards, name="scorecards"),
    path("scorecards/record/", views.adoption_record, name="adoption-record"),
    path(ENTITY, views.entity_detail, name="entity-detail"),
    path(ENTITY + "graph/", views.entity_graph, name="entity-graph"),
    path(ENTITY + "star/", views.entity_star, name="entity-star"),
    path(ENTITY + "endpoint/", views.entity_endpoint, name="entity-endpoint"),
    path(ENTITY + "delete/", views.entity_delete, name="entity-delete"),
    path(ENTITY + "catalog-info.yaml", views.entity_export, name="entity-export"),
]
