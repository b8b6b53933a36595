"""Status enums of the core app."""

from django.db import models


class OperationStatus(models.TextChoices):
    """Lifecycle of an Operation (see apps.core.models.Operation for the state machine)."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


TERMINAL_OPERATION_STATUSES = frozenset({OperationStatus.SUCCEEDED, OperationStatus.FAILED})
