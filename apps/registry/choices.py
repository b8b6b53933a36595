"""Status enums and fixed vocabularies of the model registry."""

from django.db import models


class VersionStatus(models.TextChoices):
    """Registration state of a model version (as MLflow names them).

    ``pending_registration → ready | failed_registration``; both ends are terminal.
    """

    PENDING_REGISTRATION = "pending_registration", "Pending registration"
    READY = "ready", "Ready"
    FAILED_REGISTRATION = "failed_registration", "Failed registration"


VERSION_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    VersionStatus.PENDING_REGISTRATION: frozenset(
        {VersionStatus.READY, VersionStatus.FAILED_REGISTRATION}
    ),
    VersionStatus.READY: frozenset(),
    VersionStatus.FAILED_REGISTRATION: frozenset(),
}


class Stage(models.TextChoices):
    """The optional lifecycle stage of a version, for teams that work with stages."""

    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class TargetKind(models.TextChoices):
    """What a promotion moves: a named alias, or the version's stage."""

    ALIAS = "alias", "Alias"
    STAGE = "stage", "Stage"


class Comparator(models.TextChoices):
    """How a policy rule compares a metric with its threshold."""

    GTE = ">=", "≥"
    LTE = "<=", "≤"
    GT = ">", ">"
    LT = "<", "<"


class CheckStatus(models.TextChoices):
    """Outcome of one gate rule for one version."""

    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    MISSING = "missing", "Missing"


class PromotionStatus(models.TextChoices):
    """Lifecycle of a promotion request (see PromotionRequest for the state machine)."""

    SUBMITTED = "submitted", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    APPLIED = "applied", "Applied"


PROMOTION_TRANSITIONS: dict[str, frozenset[str]] = {
    PromotionStatus.SUBMITTED: frozenset(
        {PromotionStatus.APPROVED, PromotionStatus.REJECTED, PromotionStatus.CANCELLED}
    ),
    PromotionStatus.APPROVED: frozenset({PromotionStatus.APPLIED}),
    PromotionStatus.REJECTED: frozenset(),
    PromotionStatus.CANCELLED: frozenset(),
    PromotionStatus.APPLIED: frozenset(),
}
TERMINAL_PROMOTION_STATUSES = frozenset(
    status for status, nexts in PROMOTION_TRANSITIONS.items() if not nexts
)
