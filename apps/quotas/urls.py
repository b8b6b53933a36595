from django.urls import path

from apps.quotas import views

app_name = "quotas"

urlpatterns = [
    path("", views.request_list, name="request-list"),
    path("new/", views.request_new, name="request-new"),
    path("new/context/", views.request_context, name="request-context"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/<slug:slug>/", views.team_quota, name="team-quota"),
    path("<int:pk>/", views.request_detail, name="request-detail"),
    path("<int:pk>/status/", views.request_status, name="request-status"),
    path("<int:pk>/row/", views.request_row, name="request-row"),
    path("<int:pk>/approve/", views.request_approve, name="request-approve"),
    path("<int:pk>/reject/", views.request_reject, name="request-reject"),
    path("<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("<int:pk>/revoke/", views.request_revoke, name="request-revoke"),
    path("<int:pk>/retry/", views.request_retry, name="request-retry"),
]
