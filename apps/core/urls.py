from django.urls import path

from apps.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("operations/", views.operation_list, name="operation-list"),
    path("operations/health-check/", views.run_health_check, name="operation-health-check"),
    path("operations/<int:pk>/", views.operation_detail, name="operation-detail"),
    path("operations/<int:pk>/retry/", views.operation_retry, name="operation-retry"),
]
