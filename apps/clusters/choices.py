"""Enums of the clusters app."""

from django.db import models


class AuthMethod(models.TextChoices):
    """How the worker reaches a cluster's API server."""

    API_TOKEN = "api_token", "API URL + bearer token from a secret file"
    KUBECONFIG = "kubeconfig", "kubeconfig file and context"
    IN_CLUSTER = "in_cluster", "In-cluster service account"
    NONE = "none", "API URL without credentials (the bundled sandbox)"


class DriftPolicy(models.TextChoices):
    """What the reconciler does when a cluster object was changed out of band."""

    RESTORE = "restore", "Restore the desired state"
    FLAG = "flag", "Only flag it"


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    OK = "ok", "OK"
    ERROR = "error", "Error"
