"""Clusters, team namespaces and the GPU inventory the collector records."""

from __future__ import annotations

from django.db import models

from apps.accounts.models import slug_validator
from apps.clusters.choices import AuthMethod, DriftPolicy, SyncStatus
from apps.clusters.querysets import ClusterQuerySet, TeamNamespaceQuerySet


class Cluster(models.Model):
    """A Kubernetes cluster Tarmac acts on. Managed by operators in the admin console.

    Credentials are never stored here: a token comes from ``token_file`` (a mounted
    secret) and a kubeconfig from ``kubeconfig_path``; neither is rendered anywhere.
    A retired cluster (``is_active=False``) keeps its history but takes no requests.
    """

    AuthMethod = AuthMethod

    name = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    display_name = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    region = models.CharField(max_length=60, blank=True)
    auth_method = models.CharField(
        max_length=16, choices=AuthMethod.choices, default=AuthMethod.API_TOKEN
    )
    api_url = models.URLField(blank=True, max_length=300)
    token_file = models.CharField(
        max_length=300, blank=True, help_text="Path of a file holding the bearer token."
    )
    kubeconfig_path = models.CharField(max_length=300, blank=True)
    kube_context = models.CharField(max_length=120, blank=True)
    ca_cert_path = models.CharField(max_length=300, blank=True)
    verify_ssl = models.BooleanField(default=True)
    timeout_seconds = models.PositiveIntegerField(default=10)
    uses_kueue = models.BooleanField(default=False, help_text="Apply quota to Kueue queues too.")
    uses_kserve = models.BooleanField(default=False, help_text="Serves KServe InferenceServices.")
    gpu_products = models.JSONField(
        default=list, blank=True, help_text="GPU products (nvidia.com/gpu.product) present."
    )
    allow_overcommit = models.BooleanField(
        default=False, help_text="Allow granted GPU quota to exceed allocatable GPUs."
    )
    drift_policy = models.CharField(
        max_length=8, choices=DriftPolicy.choices, default=DriftPolicy.RESTORE
    )
    is_active = models.BooleanField(default=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_status = models.CharField(
        max_length=8, choices=SyncStatus.choices, default=SyncStatus.NEVER
    )
    last_sync_error = models.TextField(blank=True)
    last_sync_duration_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long the last inventory sync took."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name


class TeamNamespace(models.Model):
    """A namespace on a cluster that belongs to a team. Quota, rollouts and cost key on it."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="namespaces")
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="namespaces")
    name = models.CharField(max_length=63, validators=[slug_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamNamespaceQuerySet.as_manager()

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="namespace_unique_per_cluster")
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"


class GpuNode(models.Model):
    """A node with GPUs as the inventory collector last saw it."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=253)
    gpu_product = models.CharField(max_length=120, blank=True)
    gpu_allocatable = models.PositiveIntegerField(default=0)
    gpu_capacity = models.PositiveIntegerField(default=0)
    ready = models.BooleanField(default=True)
    unschedulable = models.BooleanField(default=False)
    labels = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="gpunode_unique_per_cluster")
        ]
        # The cluster page lists a cluster's nodes of one product, by name.
        indexes = [models.Index(fields=["cluster", "gpu_product", "name"], name="gpunode_product")]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"


class GpuCapacity(models.Model):
    """Current GPUs of one product on one cluster: allocatable and requested by pods."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="capacities")
    gpu_product = models.CharField(max_length=120)
    nodes = models.PositiveIntegerField(default=0)
    ready_nodes = models.PositiveIntegerField(default=0)
    allocatable = models.PositiveIntegerField(default=0)
    requested = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["cluster__name", "gpu_product"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "gpu_product"], name="gpucapacity_unique_product"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name} {self.gpu_product}: {self.allocatable}"


class NamespaceGpuUsage(models.Model):
    """Current GPUs requested by running pods in a namespace, per GPU product."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="usages")
    namespace = models.CharField(max_length=63)
    gpu_product = models.CharField(max_length=120, blank=True)
    requested = models.PositiveIntegerField(default=0)
    pods = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["cluster__name", "namespace", "gpu_product"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "gpu_product"], name="nsusage_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.namespace} {self.gpu_product}: {self.requested}"


class GpuUsageHour(models.Model):
    """Hourly history: allocatable and requested GPUs per cluster, product and namespace.

    ``namespace == ""`` rows hold the cluster-wide totals for the product. Written once
    per hour per key by the collector (idempotent upsert), read by the quota and cost
    charts.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="history")
    hour = models.DateTimeField()
    gpu_product = models.CharField(max_length=120)
    namespace = models.CharField(max_length=63, blank=True)
    allocatable = models.PositiveIntegerField(default=0)
    requested = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "hour", "gpu_product", "namespace"], name="usagehour_unique"
            )
        ]
        indexes = [models.Index(fields=["cluster", "namespace", "hour"], name="usagehour_ns")]

    def __str__(self) -> str:
        return f"{self.cluster.name} {self.hour:%Y-%m-%d %H}h {self.gpu_product}"
