"""Status enums of the quotas app and the quota request's allowed transitions."""

from django.db import models


class QuotaStatus(models.TextChoices):
    """Lifecycle of a GPU quota request (see QuotaRequest for the state machine)."""

    SUBMITTED = "submitted", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    APPLYING = "applying", "Applying"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


S = QuotaStatus

QUOTA_TRANSITIONS: dict[str, frozenset[str]] = {
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    # An approved grant waits for its start date; it never reached the cluster, so it
    # can still be revoked, or expire unused if its window passed while it waited.
    S.APPROVED: frozenset({S.APPLYING, S.REVOKED, S.EXPIRED}),
    S.APPLYING: frozenset({S.ACTIVE, S.FAILED, S.REVOKED}),
    S.FAILED: frozenset({S.APPLYING, S.REVOKED, S.EXPIRED}),
    S.ACTIVE: frozenset({S.EXPIRED, S.REVOKED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REVOKED: frozenset(),
}
TERMINAL_STATUSES = frozenset(status for status, nexts in QUOTA_TRANSITIONS.items() if not nexts)

# Grants the cluster should hold: the namespace's ResourceQuota is their sum.
IN_FORCE_STATUSES = frozenset({S.APPLYING, S.ACTIVE})
# Grants that hold capacity: the capacity guard sums these.
RESERVED_STATUSES = frozenset({S.APPROVED, S.APPLYING, S.ACTIVE})
# Requests still in motion (the requester's "open requests").
OPEN_STATUSES = frozenset({S.SUBMITTED, S.APPROVED, S.APPLYING, S.FAILED})
# Requests whose page polls for a new status.
LIVE_STATUSES = frozenset({S.APPLYING})
