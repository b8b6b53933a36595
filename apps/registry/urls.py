from django.urls import path, register_converter

from apps.registry import views


class ModelNameConverter:
    """Registered model names: letters, digits, '.', '-' and '_', starting alphanumeric."""

    regex = r"[A-Za-z0-9][A-Za-z0-9._-]*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ModelNameConverter, "modelname")

app_name = "registry"

# "/-/" holds the pages that are not a model, so that no model name can shadow them.
urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("-/promotions/", views.promotion_list, name="promotion-list"),
    path("-/promotions/<int:pk>/", views.promotion_detail, name="promotion-detail"),
    path("-/promotions/<int:pk>/approve/", views.promotion_approve, name="promotion-approve"),
    path("-/promotions/<int:pk>/reject/", views.promotion_reject, name="promotion-reject"),
    path("-/promotions/<int:pk>/cancel/", views.promotion_cancel, name="promotion-cancel"),
    path("<modelname:name>/", views.model_detail, name="model-detail"),
    path("<modelname:name>/aliases/", views.alias_set, name="alias-set"),
    path("<modelname:name>/aliases/<str:alias>/delete/", views.alias_delete, name="alias-delete"),
    path("<modelname:name>/policies/", views.policy_save, name="policy-save"),
    path("<modelname:name>/policies/<int:pk>/delete/", views.policy_delete, name="policy-delete"),
    path("<modelname:name>/compare/", views.compare, name="compare"),
    path("<modelname:name>/trend/", views.trend, name="trend"),
    path("<modelname:name>/versions/<int:number>/", views.version_detail, name="version-detail"),
    path(
        "<modelname:name>/versions/<int:number>/promote/",
        views.version_promote,
        name="version-promote",
    ),
    path(
        "<modelname:name>/versions/<int:number>/stage/", views.version_stage, name="version-stage"
    ),
]
