"""Request and response shapes of the registry API (the OpenAPI description)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser

from apps.core.serializers import FlatInput
from apps.registry.choices import Stage, TargetKind, VersionStatus


class TagSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=100)
    value = serializers.CharField(max_length=500, allow_blank=True)


class AliasRefSerializer(serializers.Serializer):
    alias = serializers.CharField()
    version = serializers.IntegerField()


class RegisteredModelOut(serializers.Serializer):
    name = serializers.CharField()
    team = serializers.CharField()
    description = serializers.CharField()
    catalog_entity_ref = serializers.CharField()
    latest_version = serializers.IntegerField(allow_null=True)
    tags = TagSerializer(many=True)
    aliases = AliasRefSerializer(many=True)
    creation_timestamp = serializers.IntegerField(help_text="ms since the epoch")
    last_updated_timestamp = serializers.IntegerField(help_text="ms since the epoch")


@extend_schema_serializer(many=False)  # a page object, also from the list action
class RegisteredModelPage(serializers.Serializer):
    registered_models = RegisteredModelOut(many=True)
    next_page_token = serializers.CharField(allow_null=True)


class ModelVersionOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]
    run_id = serializers.CharField()
    run_link = serializers.CharField()
    framework = serializers.CharField()
    metadata = serializers.JSONField()
    status = serializers.CharField(help_text="pending_registration, ready or failed_registration")
    stage = serializers.ChoiceField(choices=Stage.choices, allow_null=True)
    description = serializers.CharField()
    tags = TagSerializer(many=True)
    aliases = serializers.ListField(child=serializers.CharField())
    created_by = serializers.CharField(allow_null=True)
    creation_timestamp = serializers.IntegerField()
    last_updated_timestamp = serializers.IntegerField()


@extend_schema_serializer(many=False)  # a page object, also from the list action
class ModelVersionPage(serializers.Serializer):
    model_versions = ModelVersionOut(many=True)
    next_page_token = serializers.CharField(allow_null=True)


class EvalResultOut(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.CharField()
    value = serializers.FloatField()
    dataset = serializers.CharField()
    split = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    recorded_at = serializers.DateTimeField()


class CheckOut(serializers.Serializer):
    rule = serializers.CharField()
    metric = serializers.CharField()
    dataset = serializers.CharField()
    status = serializers.ChoiceField(choices=["passed", "failed", "missing"])
    actual = serializers.FloatField(allow_null=True)
    expected = serializers.CharField()
    detail = serializers.CharField()


class GateOut(serializers.Serializer):
    target_kind = serializers.ChoiceField(choices=TargetKind.choices)
    target = serializers.CharField()
    protected = serializers.BooleanField()
    policy = serializers.DictField(allow_null=True)
    holder_version = serializers.IntegerField(allow_null=True)
    passed = serializers.BooleanField()
    checks = CheckOut(many=True)


class PromotionOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    version_id = serializers.IntegerField()
    target_kind = serializers.ChoiceField(choices=TargetKind.choices)
    target = serializers.CharField()
    status = serializers.CharField(help_text="submitted, approved, rejected, cancelled or applied")
    requested_by = serializers.CharField()
    reason = serializers.CharField()
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True)
    gate = GateOut()


@extend_schema_serializer(many=False)  # a page object, also from the list action
class PromotionPage(serializers.Serializer):
    promotion_requests = PromotionOut(many=True)
    next_page_token = serializers.CharField(allow_null=True)


# --- request bodies --------------------------------------------------------------------


class TagsField(serializers.JSONField):
    """Tags as ``{key: value}`` or ``[{"key": …, "value": …}]`` (checked by the service)."""


class ModelCreateIn(FlatInput):
    name = serializers.CharField(max_length=200)
    team = serializers.SlugField(
        required=False, help_text="Owning team's slug; a team token defaults to its team."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = TagsField(required=False, default=None)
    catalog_entity_ref = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=255
    )


class ModelPatchIn(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = TagsField(required=False)
    catalog_entity_ref = serializers.CharField(required=False, allow_blank=True, max_length=255)


class VersionCreateIn(FlatInput):
    name = serializers.CharField(max_length=200, help_text="The registered model's name.")
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=1000, help_text="Artefact URI, e.g. s3://…"
    )
    run_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    run_link = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    framework = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    metadata = serializers.JSONField(required=False, default=dict)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = TagsField(required=False, default=None)
    status = serializers.CharField(
        required=False,
        default=VersionStatus.READY,
        help_text="ready (default) or pending_registration",
    )


class VersionPatchIn(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = TagsField(required=False)
    status = serializers.CharField(
        required=False, help_text="pending_registration → ready or failed_registration"
    )


class AliasSetIn(FlatInput):
    version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class AliasDeleteIn(FlatInput):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class EvalRowIn(serializers.Serializer):
    metric = serializers.CharField(max_length=100)
    value = serializers.FloatField(help_text="A finite number (NaN and ±inf are refused).")
    dataset = serializers.CharField(required=False, allow_blank=True, max_length=200)
    split = serializers.CharField(required=False, allow_blank=True, max_length=64)
    source = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, max_length=200
    )
    recorded_at = serializers.DateTimeField(required=False)


class EvalBatchIn(serializers.Serializer):
    rows = EvalRowIn(many=True, help_text="All rows are stored, or none (errors name rows).")


class EvalBatchOut(serializers.Serializer):
    created = serializers.IntegerField()
    version_id = serializers.IntegerField()


class PromotionIn(serializers.Serializer):
    alias = serializers.CharField(required=False, help_text="Target alias, or…")
    stage = serializers.ChoiceField(choices=Stage.choices, required=False, help_text="…stage.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class DecisionIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class LenientJSONParser(JSONParser):
    """Reads NaN and Infinity literals, so that a batch row carrying one gets a row error
    naming its index instead of a parse error for the whole body."""

    strict = False
