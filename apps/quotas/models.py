"""GPU quota requests, the per-namespace quota state the worker keeps, and the operator's
settings (auto-approve rules, Kueue flavor mappings)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.quotas.choices import (
    IN_FORCE_STATUSES,
    LIVE_STATUSES,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    QuotaStatus,
)
from apps.quotas.querysets import QuotaRequestQuerySet


class QuotaRequest(models.Model):
    """A team's request for GPUs of one product in one of its namespaces, for a window.

    State machine (``QUOTA_TRANSITIONS`` in choices.py)::

        submitted ──approve──▶ approved ──start date──▶ applying ──▶ active ──▶ expired
            │                     │                      │   ▲          │
            ├──reject──▶ rejected │                      │   └─retry─┐  └──revoke──▶ revoked
            └──cancel──▶ cancelled└──revoke──▶ revoked   └──▶ failed ┘
                                                              (or revoked / expired)

    * ``approved`` holds capacity and waits for ``starts_on``; approval on or after the
      start date moves straight on to ``applying`` in the same transaction.
    * ``applying`` has an Operation (``apply_operation``) that writes the namespace's
      quota; its outcome moves the grant to ``active`` or ``failed`` (with the API's
      message). A lead or operator retries a failed grant: ``failed → applying``.
    * ``expired`` (the day after ``ends_on``) and ``revoked`` change the desired state at
      once; an Operation then lowers the cluster's quota to the remaining grants. Whether
      the cluster followed is the release operation's status, and the reconciler flags it
      otherwise — there is no intermediate "releasing" state.

    Terminal: rejected, cancelled, expired, revoked. ``granted_gpus`` is set on approval
    (a lead may grant fewer or more than ``gpus``, with a reason).
    """

    Status = QuotaStatus

    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, related_name="quota_requests"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.PROTECT, related_name="quota_requests"
    )
    namespace = models.ForeignKey(
        "clusters.TeamNamespace", on_delete=models.PROTECT, related_name="quota_requests"
    )
    gpu_product = models.CharField(max_length=120)
    gpus = models.PositiveIntegerField(help_text="GPUs asked for.")
    granted_gpus = models.PositiveIntegerField(
        null=True, blank=True, help_text="GPUs granted (set on approval)."
    )
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="Last day of the grant; it expires when the day ends.")
    justification = models.TextField()
    status = models.CharField(
        max_length=16, choices=QuotaStatus.choices, default=QuotaStatus.SUBMITTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quota_requests"
    )
    # The form's one-time key (or the API's Idempotency-Key): a double submit is refused.
    submit_key = models.CharField(max_length=64, null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    auto_approved = models.BooleanField(default=False)
    apply_operation = models.ForeignKey(
        "core.Operation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    release_operation = models.ForeignKey(
        "core.Operation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failure_message = models.TextField(blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    end_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = QuotaRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="quota_status_created"),
            models.Index(fields=["cluster", "gpu_product", "status"], name="quota_capacity"),
            models.Index(fields=["team", "status"], name="quota_team_status"),
            models.Index(fields=["namespace", "status"], name="quota_namespace_status"),
            models.Index(fields=["requested_by", "status"], name="quota_requester_status"),
            models.Index(fields=["status", "ends_on"], name="quota_status_ends"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(gpus__gt=0), name="quota_gpus_positive"),
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="quota_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["requested_by", "submit_key"], name="quota_unique_submit_key"
            ),
        ]

    def __str__(self) -> str:
        return f"Quota request #{self.pk}: {self.gpus} x {self.gpu_product} for {self.team_id}"

    @property
    def effective_gpus(self) -> int:
        """GPUs this grant is worth: the granted count once decided, else the asked one."""
        return self.granted_gpus if self.granted_gpus is not None else self.gpus

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_in_force(self) -> bool:
        return self.status in IN_FORCE_STATUSES

    @property
    def is_live(self) -> bool:
        """Whether the page should keep polling for a new status."""
        return self.status in LIVE_STATUSES

    @property
    def days(self) -> int:
        """Length of the window in days, both ends included."""
        return (self.ends_on - self.starts_on).days + 1

    @property
    def expires_at(self) -> datetime:
        """When the grant lapses: midnight (in TIME_ZONE) after ``ends_on``."""
        return expiry_instant(self.ends_on)

    @property
    def count_differs(self) -> bool:
        return self.granted_gpus is not None and self.granted_gpus != self.gpus


def expiry_instant(ends_on: date) -> datetime:
    """The first instant after the last day of a grant."""
    return timezone.make_aware(datetime.combine(ends_on + timedelta(days=1), time.min))


class NamespaceQuotaState(models.Model):
    """What Tarmac last wrote to and read from one namespace's GPU quota.

    Created on the first apply. ``desired_gpus`` is the sum of the namespace's grants
    in force; ``observed_gpus`` is the ResourceQuota's ``requests.nvidia.com/gpu`` as the
    reconciler last read it (None: the object is missing). ``drifted_at`` is set when the
    cluster disagrees (someone edited it with kubectl) and cleared once it agrees again.
    """

    namespace = models.OneToOneField(
        "clusters.TeamNamespace", on_delete=models.CASCADE, related_name="quota_state"
    )
    desired_gpus = models.PositiveIntegerField(default=0)
    applied_gpus = models.PositiveIntegerField(null=True, blank=True)
    observed_gpus = models.PositiveIntegerField(null=True, blank=True)
    last_applied_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    check_error = models.TextField(blank=True)
    drifted_at = models.DateTimeField(null=True, blank=True)
    drift_detail = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["drifted_at"], name="quota_state_drifted")]

    def __str__(self) -> str:
        return f"quota state of namespace {self.namespace_id}"

    @property
    def is_drifted(self) -> bool:
        return self.drifted_at is not None


class AutoApproveRule(models.Model):
    """Requests of a team on a cluster within these limits are approved by the system.

    Set by operators in the admin console (audited). The capacity guard still applies:
    a request that would over-commit the cluster waits for a lead instead.
    """

    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="quota_auto_approve_rules"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="quota_auto_approve_rules"
    )
    max_gpus = models.PositiveIntegerField(help_text="Largest GPU count approved automatically.")
    max_days = models.PositiveIntegerField(
        help_text="Longest window (days) approved automatically."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__slug", "cluster__name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "cluster"], name="autoapprove_unique"),
            models.CheckConstraint(
                condition=models.Q(max_gpus__gt=0) & models.Q(max_days__gt=0),
                name="autoapprove_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"auto-approve ≤ {self.max_gpus} GPUs for ≤ {self.max_days} days"

    def matches(self, gpus: int, days: int) -> bool:
        return self.is_active and gpus <= self.max_gpus and days <= self.max_days


class KueueFlavorMapping(models.Model):
    """On a Kueue cluster: which ResourceFlavor a GPU product is, and which ClusterQueue
    holds a team's quota (``cluster_queue_template`` with ``{team}`` = the team's slug and
    ``{namespace}`` = the namespace's name; ``team-{team}`` by default).

    Operators keep these in the admin console; a grant on a Kueue cluster for a product
    without a mapping fails to apply with a message saying so.
    """

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="kueue_flavor_mappings"
    )
    gpu_product = models.CharField(max_length=120)
    flavor = models.CharField(max_length=63, help_text="Kueue ResourceFlavor name.")
    cluster_queue_template = models.CharField(max_length=100, default="team-{team}")
    local_queue = models.CharField(
        max_length=63, default="default", help_text="LocalQueue created in each namespace."
    )
    cohort = models.CharField(
        max_length=63, blank=True, help_text="Cohort of ClusterQueues Tarmac creates."
    )

    class Meta:
        ordering = ["cluster__name", "gpu_product"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "gpu_product"], name="kueue_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.gpu_product} → {self.flavor}"

    def cluster_queue_for(self, *, team_slug: str, namespace: str) -> str:
        return self.cluster_queue_template.format(team=team_slug, namespace=namespace)

    def clean(self) -> None:
        try:
            sample = self.cluster_queue_for(team_slug="team", namespace="namespace")
        except (KeyError, IndexError, ValueError):
            raise ValidationError(
                {"cluster_queue_template": "Use only {team} and {namespace} as placeholders."}
            ) from None
        if not _DNS_NAME.fullmatch(sample):
            raise ValidationError(
                {"cluster_queue_template": "The result must be a valid Kubernetes object name."}
            )


_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
