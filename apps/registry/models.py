"""The model registry: models, versions, tags, aliases, eval results, policies, promotions."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.registry.choices import (
    TERMINAL_PROMOTION_STATUSES,
    Comparator,
    PromotionStatus,
    Stage,
    TargetKind,
    VersionStatus,
)
from apps.registry.querysets import (
    ModelVersionQuerySet,
    PromotionRequestQuerySet,
    RegisteredModelQuerySet,
)

model_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$",
    "Use letters, digits, dots, hyphens and underscores (no spaces or slashes), "
    "starting with a letter or digit.",
)
alias_validator = RegexValidator(
    r"^[a-z][a-z0-9_-]{0,63}$",
    "Use lower-case letters, digits, hyphens and underscores, starting with a letter.",
)


class RegisteredModel(models.Model):
    """A named model owned by one team. Names are unique whatever their case.

    ``latest_version`` is the highest version number handed out so far; new versions
    take the next number under a row lock on this model, so two uploads never clash.
    """

    name = models.CharField(max_length=200, validators=[model_name_validator])
    team = models.ForeignKey(  # indexed by (team, -updated_at) below
        "accounts.Team", on_delete=models.PROTECT, related_name="registered_models", db_index=False
    )
    description = models.TextField(blank=True)
    catalog_entity_ref = models.CharField(
        max_length=255,
        blank=True,
        help_text="The catalog entity that serves this model, e.g. component:default/fraud-api.",
    )
    latest_version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = RegisteredModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="registry_model_name_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["name"], name="registry_model_name"),
            models.Index(fields=["team", "-updated_at"], name="registry_model_team_updated"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelTag(models.Model):
    """A key/value tag on a registered model (a row, so that tag filters use an index)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=100)
    value = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="registry_modeltag_unique_key")
        ]
        indexes = [models.Index(fields=["key", "value"], name="registry_modeltag_kv")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class ModelVersion(models.Model):
    """One registered version of a model: where its artefact is, which run made it, its
    signature and metadata, its registration status and (optionally) its stage."""

    Status = VersionStatus

    # Indexed by the (model, version) and (model, -id) indexes below: every index is
    # paid for on each upload, so none is kept twice.
    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="versions", db_index=False
    )
    version = models.PositiveIntegerField()
    source_uri = models.CharField(max_length=1000)
    run_id = models.CharField(max_length=64, blank=True)
    run_link = models.URLField(max_length=1000, blank=True)
    framework = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=24, choices=VersionStatus.choices, default=VersionStatus.READY
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["model_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="registry_version_unique"),
        ]
        indexes = [
            models.Index(fields=["model", "-id"], name="registry_version_model_id"),
            models.Index(fields=["model", "stage"], name="registry_version_model_stage"),
            models.Index(fields=["framework", "model"], name="registry_version_framework"),
            # Equality only (no LIKE), so not the pattern-ops twin that db_index adds.
            models.Index(fields=["run_id"], name="registry_version_run_id"),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}" if self.model_id else f"v{self.version}"


class VersionTag(models.Model):
    """A key/value tag on a model version."""

    # Indexed by the (version, key) constraint.
    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    key = models.CharField(max_length=100)
    value = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="registry_versiontag_unique")
        ]
        indexes = [models.Index(fields=["key", "value"], name="registry_versiontag_kv")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class ModelAlias(models.Model):
    """A movable name (``champion``, ``production``) pointing at one version of the model."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=64, validators=[alias_validator])
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alias"]
        constraints = [
            models.UniqueConstraint(fields=["model", "alias"], name="registry_alias_unique"),
        ]
        indexes = [models.Index(fields=["alias", "model"], name="registry_alias_name")]

    def __str__(self) -> str:
        return f"{self.alias} → v{self.version.version}" if self.version_id else self.alias


class AliasHistory(models.Model):
    """Append-only record of every alias or stage move: from which version to which, who,
    why, and through which promotion request (if any). ``to_version`` empty = removed."""

    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="alias_history"
    )
    kind = models.CharField(max_length=8, choices=TargetKind.choices, default=TargetKind.ALIAS)
    target = models.CharField(max_length=64)
    from_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    request = models.ForeignKey(
        "PromotionRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["model", "-id"], name="registry_aliashist_model")]

    def __str__(self) -> str:
        return f"{self.kind} {self.target}: {self.from_version_id} → {self.to_version_id}"


class EvalResult(models.Model):
    """One evaluation figure of a version: metric = value on a dataset/split, from a source."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="eval_results")
    metric = models.CharField(max_length=100)
    value = models.FloatField()
    dataset = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=200, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["metric", "dataset", "-recorded_at"]
        indexes = [models.Index(fields=["version", "metric"], name="registry_eval_version_metric")]
        constraints = [
            # NaN and infinities are refused by the service; the database refuses them too.
            models.CheckConstraint(
                condition=models.Q(value__gte=-sys.float_info.max)
                & models.Q(value__lte=sys.float_info.max),
                name="registry_eval_value_finite",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.value} on {self.dataset or 'any dataset'}"


class PromotionPolicy(models.Model):
    """What it takes to move a protected alias or stage of a model (or, as a team default,
    of every model of a team that has no policy of its own for that target)."""

    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="policies"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_kind = models.CharField(
        max_length=8, choices=TargetKind.choices, default=TargetKind.ALIAS
    )
    target = models.CharField(max_length=64, validators=[alias_validator])
    requires_approval = models.BooleanField(
        default=False, help_text="A platform lead (never the requester) must approve."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "promotion policies"
        ordering = ["target_kind", "target"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(model__isnull=False, team__isnull=True)
                    | models.Q(model__isnull=True, team__isnull=False)
                ),
                name="registry_policy_model_xor_team",
            ),
            models.UniqueConstraint(
                fields=["model", "target_kind", "target"],
                condition=models.Q(model__isnull=False),
                name="registry_policy_unique_model_target",
            ),
            models.UniqueConstraint(
                fields=["team", "target_kind", "target"],
                condition=models.Q(team__isnull=False),
                name="registry_policy_unique_team_target",
            ),
        ]

    def __str__(self) -> str:
        owner = self.model.name if self.model_id and self.model else f"team default {self.team}"
        return f"{owner}: {self.target_kind} {self.target}"

    @property
    def is_team_default(self) -> bool:
        return self.model_id is None


class PolicyRule(models.Model):
    """One condition of a policy.

    Absolute: ``metric comparator threshold`` (``accuracy >= 0.92`` on ``dataset``).
    Relative to the holder: the version must not be worse than the version that holds the
    target now by more than ``max_regression_pct`` percent (``higher_is_better`` says which
    way is worse). A blank dataset matches the metric on any dataset.
    """

    policy = models.ForeignKey(PromotionPolicy, on_delete=models.CASCADE, related_name="rules")
    metric = models.CharField(max_length=100)
    dataset = models.CharField(max_length=200, blank=True)
    comparator = models.CharField(
        max_length=2, choices=Comparator.choices, default=Comparator.GTE, blank=True
    )
    threshold = models.FloatField(null=True, blank=True)
    relative_to_holder = models.BooleanField(default=False)
    max_regression_pct = models.FloatField(null=True, blank=True)
    higher_is_better = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.describe()

    def clean(self) -> None:
        """An absolute rule needs a comparator and threshold; a relative one a percentage."""
        from django.core.exceptions import ValidationError

        if self.relative_to_holder:
            if self.max_regression_pct is None or not 0 <= self.max_regression_pct <= 100:
                raise ValidationError(
                    {"max_regression_pct": "Give the allowed regression, 0-100 %."}
                )
        elif not self.comparator or self.threshold is None:
            raise ValidationError("An absolute rule needs a comparator and a threshold.")

    def describe(self) -> str:
        """The rule as a sentence: ``accuracy >= 0.92 on holdout-2026``."""
        where = f" on {self.dataset}" if self.dataset else ""
        if self.relative_to_holder:
            direction = "higher is better" if self.higher_is_better else "lower is better"
            return (
                f"{self.metric}{where} not worse than the current holder by more than "
                f"{_fmt(self.max_regression_pct)}% ({direction})"
            )
        return f"{self.metric} {self.comparator} {_fmt(self.threshold)}{where}"


class PromotionRequest(models.Model):
    """A request to move a protected alias or stage to a version.

    State machine::

        submitted ──approve (platform lead, not the requester)──▶ approved ──▶ applied
            │  └──reject (lead, with a reason)──▶ rejected
            └──cancel (requester or the owning team)──▶ cancelled

    ``applied``, ``rejected`` and ``cancelled`` are terminal. A policy that needs no
    approval records its promotions straight as ``applied``. Approval claims the row
    with a conditional update, so two leads clicking at once produce one approval; the
    gate is evaluated again at approval time and kept in ``gate``.
    """

    Status = PromotionStatus

    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="promotion_requests"
    )
    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="promotion_requests"
    )
    target_kind = models.CharField(max_length=8, choices=TargetKind.choices)
    target = models.CharField(max_length=64)
    status = models.CharField(
        max_length=12, choices=PromotionStatus.choices, default=PromotionStatus.SUBMITTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    gate = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    objects = PromotionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_kind", "target"],
                condition=models.Q(status="submitted"),
                name="registry_promotion_one_open",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="registry_promotion_status"),
            models.Index(fields=["requested_by", "status"], name="registry_promotion_requester"),
        ]

    def __str__(self) -> str:
        return f"promote {self.version} to {self.target_kind} {self.target} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_PROMOTION_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status == PromotionStatus.SUBMITTED

    @property
    def target_label(self) -> str:
        return f"{'stage' if self.target_kind == TargetKind.STAGE else 'alias'} {self.target}"


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}"


__all__ = [
    "AliasHistory",
    "Comparator",
    "EvalResult",
    "ModelAlias",
    "ModelTag",
    "ModelVersion",
    "PolicyRule",
    "PromotionPolicy",
    "PromotionRequest",
    "RegisteredModel",
    "Stage",
    "VersionTag",
]
