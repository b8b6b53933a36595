"""Every state change of GPU quota: submit, decide, apply, expire, revoke, reconcile.

Permission matrix (the API mirrors it; team tokens never approve or reject)::

    action                                  who
    --------------------------------------  ---------------------------------------------
    see a team's requests and quota         members of the team, platform leads, operators
    submit a request for a team             members of the team (and operators)
    cancel a submitted request              the requester, the team's maintainers, operators
    approve (possibly another count) /      platform leads — never the requester
      reject (with a reason)
    revoke a grant early (with a reason)    platform leads and operators
    retry a failed apply                    platform leads and operators
    auto-approve                            the system, by an operator's AutoApproveRule

Every change runs in one transaction: the request row is locked (``select_for_update``)
and moved with a conditional update on its old status, the audit event is written, and
side effects (the Operation's task, e-mails) are queued with ``transaction.on_commit``.
The capacity guard locks the Cluster row, so two approvals racing for the last GPUs of
a product serialise and exactly one succeeds.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import can_maintain, is_member, is_operator, is_platform_lead
from apps.audit.services import record
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.errors import Conflict, DomainError, NotAllowed
from apps.core.models import Operation
from apps.core.services import create_operation
from apps.quotas import notifications, selectors
from apps.quotas.choices import (
    IN_FORCE_STATUSES,
    QUOTA_TRANSITIONS,
    QuotaStatus,
)
from apps.quotas.models import NamespaceQuotaState, QuotaRequest

log = logging.getLogger(__name__)

S = QuotaStatus
APPLY_KIND = "quotas.apply"
SYNC_KIND = "quotas.sync_namespace"
QUOTA_KINDS = (APPLY_KIND, SYNC_KIND)

MAX_GPUS_PER_REQUEST = 512
MAX_DAYS = 366
MAX_DAYS_AHEAD = 366
MAX_JUSTIFICATION = 2000
MAX_REASON = 2000


# --- permissions -----------------------------------------------------------------------


def can_request(user: Any, team_id: int) -> bool:
    """Members of the team (and operators) ask for its GPUs."""
    return is_operator(user) or is_member(user, team_id)


def can_decide(user: Any, req: QuotaRequest) -> bool:
    """A platform lead who did not ask, while the request waits."""
    return (
        req.status == S.SUBMITTED
        and is_platform_lead(user)
        and req.requested_by_id != getattr(user, "pk", None)
    )


def can_cancel(user: Any, req: QuotaRequest) -> bool:
    return req.status == S.SUBMITTED and (
        req.requested_by_id == getattr(user, "pk", None) or can_maintain(user, req.team_id)
    )


def can_manage_grants(user: Any) -> bool:
    """Platform leads and operators revoke grants and retry failed applies."""
    return is_platform_lead(user) or is_operator(user)


def can_revoke(user: Any, req: QuotaRequest) -> bool:
    return S.REVOKED in QUOTA_TRANSITIONS[req.status] and can_manage_grants(user)


def can_retry(user: Any, req: QuotaRequest) -> bool:
    return req.status == S.FAILED and can_manage_grants(user)


# --- validation ------------------------------------------------------------------------


def validate_count(value: Any, *, field: str = "gpus") -> int:
    """A whole number of GPUs between 1 and MAX_GPUS_PER_REQUEST."""
    if isinstance(value, bool) or value is None:
        raise DomainError("Give the number of GPUs as a whole number.", field=field)
    if isinstance(value, float):
        if not value.is_integer():
            raise DomainError("GPUs come whole: give a whole number.", field=field)
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit():
            raise DomainError("Give the number of GPUs as a whole number.", field=field)
        value = int(text)
    if not isinstance(value, int):
        raise DomainError("Give the number of GPUs as a whole number.", field=field)
    if value < 1:
        raise DomainError("Ask for at least 1 GPU.", field=field)
    if value > MAX_GPUS_PER_REQUEST:
        raise DomainError(
            f"At most {MAX_GPUS_PER_REQUEST} GPUs per request; talk to the platform team "
            "about larger allocations.",
            field=field,
        )
    return value


def validate_window(starts_on: Any, ends_on: Any, *, today: date) -> tuple[date, date]:
    """Start today or later (within a year), end on or after the start, at most a year."""
    if not isinstance(starts_on, date):
        raise DomainError("Give a start date (YYYY-MM-DD).", field="starts_on")
    if not isinstance(ends_on, date):
        raise DomainError("Give an end date (YYYY-MM-DD).", field="ends_on")
    if starts_on < today:
        raise DomainError("The start date is in the past.", field="starts_on")
    if starts_on > today + timedelta(days=MAX_DAYS_AHEAD):
        raise DomainError("Start within the next year.", field="starts_on")
    if ends_on < starts_on:
        raise DomainError("The end date is before the start date.", field="ends_on")
    if (ends_on - starts_on).days + 1 > MAX_DAYS:
        raise DomainError(f"A grant lasts at most {MAX_DAYS} days.", field="ends_on")
    return starts_on, ends_on


def _clean_text(value: Any, *, field: str, limit: int, required: bool, what: str) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(f"The {what} must be text.", field=field)
    text = value.strip()
    if required and not text:
        raise DomainError(f"Give a {what}.", field=field)
    if len(text) > limit:
        raise DomainError(f"The {what} is longer than {limit} characters.", field=field)
    return text


def _guard_capacity(cluster: Cluster, product: str, gpus: int, *, exclude_pk: int | None) -> None:
    """Refuse when the grants of (cluster, product) plus ``gpus`` exceed allocatable."""
    if cluster.allow_overcommit:
        return
    allocatable = selectors.allocatable_gpus(cluster.pk, product)
    reserved = selectors.reserved_gpus(cluster.pk, product, exclude_pk=exclude_pk)
    if reserved + gpus > allocatable:
        free = max(0, allocatable - reserved)
        raise DomainError(
            f"Not enough {product} GPUs on {cluster.name}: {allocatable} allocatable, "
            f"{reserved} already granted or reserved, {free} free; this needs {gpus}.",
            field="gpus",
        )


# --- submit ----------------------------------------------------------------------------


def submit_request(
    *,
    actor: Any,
    team: Team,
    cluster: Cluster | None,
    namespace: TeamNamespace | None,
    gpu_product: str,
    gpus: Any,
    starts_on: Any,
    ends_on: Any,
    justification: str,
    submit_key: str | None = None,
    now: Any = None,
) -> QuotaRequest:
    """A team member asks for GPUs. Checked before anything is written: membership, an
    active cluster, a namespace the team owns there, a product the cluster has, a whole
    positive count, a sane window, free capacity, and no double submit. Leads are told
    by e-mail; a matching AutoApproveRule approves it at once (audited as such)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not can_request(actor, team.pk):
        raise NotAllowed(f"Only members of {team.slug} request GPUs for it.", field="team")
    gpus = validate_count(gpus)
    starts_on, ends_on = validate_window(starts_on, ends_on, today=today)
    if cluster is None or not cluster.is_active:
        raise DomainError("That cluster does not exist or has been retired.", field="cluster")
    if namespace is None or namespace.cluster_id != cluster.pk:
        raise DomainError(f"Choose a namespace on {cluster.name}.", field="namespace")
    if namespace.team_id != team.pk:
        raise DomainError(
            f"{namespace.name} on {cluster.name} belongs to another team; choose one of "
            f"{team.slug}'s namespaces.",
            field="namespace",
        )
    gpu_product = (gpu_product or "").strip()
    products = selectors.cluster_products(cluster)
    if gpu_product not in products:
        known = ", ".join(products) or "none recorded yet"
        raise DomainError(
            f"{cluster.name} has no GPU product {gpu_product or '(empty)'!r} (it has: {known}).",
            field="gpu_product",
        )
    justification = _clean_text(
        justification,
        field="justification",
        limit=MAX_JUSTIFICATION,
        required=True,
        what="justification",
    )
    submit_key = (submit_key or "").strip()[:64] or None
    with transaction.atomic():
        if submit_key:
            earlier = QuotaRequest.objects.filter(requested_by=actor, submit_key=submit_key).first()
            if earlier is not None:
                raise Conflict(f"This request was already submitted as #{earlier.pk}.")
        duplicate = QuotaRequest.objects.filter(
            team=team,
            namespace=namespace,
            gpu_product=gpu_product,
            gpus=gpus,
            starts_on=starts_on,
            ends_on=ends_on,
            status=S.SUBMITTED,
        ).first()
        if duplicate is not None:
            raise Conflict(
                f"An identical request (#{duplicate.pk}) is already waiting for approval."
            )
        _guard_capacity(cluster, gpu_product, gpus, exclude_pk=None)
        try:
            with transaction.atomic():
                req = QuotaRequest.objects.create(
                    team=team,
                    cluster=cluster,
                    namespace=namespace,
                    gpu_product=gpu_product,
                    gpus=gpus,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    justification=justification,
                    requested_by=actor,
                    submit_key=submit_key,
                    created_at=now,
                )
        except IntegrityError as exc:
            raise Conflict("This request was just submitted; it is not sent twice.") from exc
        record(
            actor=actor,
            verb="quota.submitted",
            target=req,
            team=team,
            after=_snapshot(req),
            reason=justification,
        )
        rule = selectors.auto_approve_rule(team.pk, cluster.pk)
        if rule is not None and rule.matches(gpus, req.days):
            try:
                with transaction.atomic():
                    _approve(req, actor=None, granted=gpus, reason=str(rule), auto=True, now=now)
            except DomainError as exc:
                # Over capacity: a lead decides instead.
                log.info("auto-approval of quota request %s skipped: %s", req.pk, exc.message)
        req.refresh_from_db()
        if req.status == S.SUBMITTED:
            notifications.new_request(req)
    return req


# --- decisions -------------------------------------------------------------------------


def approve_request(
    req: QuotaRequest,
    *,
    actor: Any,
    granted_gpus: Any = None,
    reason: str = "",
    now: Any = None,
) -> QuotaRequest:
    """A platform lead (never the requester) approves, optionally a different count with
    a reason. The capacity guard runs under the cluster's row lock; when the start date
    has come the apply Operation is created in the same transaction."""
    if not is_platform_lead(actor):
        raise NotAllowed("Only platform leads approve quota requests.")
    if req.requested_by_id == actor.pk:
        raise NotAllowed("You cannot approve your own request; another lead must.")
    granted = (
        req.gpus
        if granted_gpus in (None, "")
        else validate_count(granted_gpus, field="granted_gpus")
    )
    reason = _clean_text(reason, field="reason", limit=MAX_REASON, required=False, what="reason")
    if granted != req.gpus and not reason:
        raise DomainError(
            f"Say why you grant {granted} GPUs instead of the {req.gpus} asked for.",
            field="reason",
        )
    return _approve(req, actor=actor, granted=granted, reason=reason, auto=False, now=now)


def _approve(
    req: QuotaRequest, *, actor: Any, granted: int, reason: str, auto: bool, now: Any
) -> QuotaRequest:
    now = now or timezone.now()
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=req.cluster_id)
        current = _require_current(req, S.APPROVED)
        if not cluster.is_active:
            raise DomainError(f"{cluster.name} has been retired; reject the request instead.")
        if req.ends_on < timezone.localdate(now):
            raise DomainError("The request's window has already ended; reject it instead.")
        _guard_capacity(cluster, req.gpu_product, granted, exclude_pk=req.pk)
        _transition(
            req,
            S.APPROVED,
            actor=actor,
            verb="quota.auto_approved" if auto else "quota.approved",
            reason=reason,
            now=now,
            locked=current,
            after={"gpus": req.gpus, "granted_gpus": granted, "auto": auto},
            granted_gpus=granted,
            decided_by=_user_or_none(actor),
            decided_at=now,
            decision_reason=reason,
            auto_approved=auto,
        )
        notifications.decided(req, "auto-approved" if auto else "approved")
        if req.starts_on <= timezone.localdate(now):
            # Still holding the row lock: the status is the one just written.
            _begin_apply(req, actor=actor, now=now, verb="quota.apply_started", locked=S.APPROVED)
    req.refresh_from_db()
    return req


def reject_request(req: QuotaRequest, *, actor: Any, reason: str, now: Any = None) -> QuotaRequest:
    """A platform lead (never the requester) rejects, saying why."""
    if not is_platform_lead(actor):
        raise NotAllowed("Only platform leads reject quota requests.")
    if req.requested_by_id == actor.pk:
        raise NotAllowed("You cannot decide your own request; cancel it instead.")
    reason = _clean_text(reason, field="reason", limit=MAX_REASON, required=True, what="reason")
    now = now or timezone.now()
    with transaction.atomic():
        _transition(
            req,
            S.REJECTED,
            actor=actor,
            verb="quota.rejected",
            reason=reason,
            now=now,
            decided_by=actor,
            decided_at=now,
            decision_reason=reason,
        )
        notifications.decided(req, "rejected")
    req.refresh_from_db()
    return req


def cancel_request(req: QuotaRequest, *, actor: Any, reason: str = "") -> QuotaRequest:
    """The requester (or the team's maintainers, or an operator) withdraws it while it waits."""
    if req.requested_by_id != actor.pk and not can_maintain(actor, req.team_id):
        raise NotAllowed("Only the requester or the team's maintainers cancel a request.")
    reason = _clean_text(reason, field="reason", limit=MAX_REASON, required=False, what="reason")
    now = timezone.now()
    with transaction.atomic():
        _transition(
            req,
            S.CANCELLED,
            actor=actor,
            verb="quota.cancelled",
            reason=reason,
            now=now,
            ended_at=now,
            ended_by=actor,
            end_reason=reason,
        )
    req.refresh_from_db()
    return req


def revoke_request(req: QuotaRequest, *, actor: Any, reason: str, now: Any = None) -> QuotaRequest:
    """A lead or operator ends a grant early. If the cluster holds it, an Operation lowers
    the namespace's quota to the remaining grants."""
    if not can_manage_grants(actor):
        raise NotAllowed("Only platform leads and operators revoke grants.")
    reason = _clean_text(reason, field="reason", limit=MAX_REASON, required=True, what="reason")
    now = now or timezone.now()
    with transaction.atomic():
        previous = _transition(
            req,
            S.REVOKED,
            actor=actor,
            verb="quota.revoked",
            reason=reason,
            now=now,
            ended_at=now,
            ended_by=actor,
            end_reason=reason,
        )
        if previous in IN_FORCE_STATUSES:
            op = request_namespace_sync(
                req.namespace_id, actor=actor, reason="revoked", team=req.team
            )
            QuotaRequest.objects.filter(pk=req.pk).update(release_operation=op)
        notifications.decided(req, "revoked")
    req.refresh_from_db()
    return req


def retry_request(
    req: QuotaRequest, *, actor: Any, reason: str = "", now: Any = None
) -> QuotaRequest:
    """A lead or operator sends a failed grant round again (a new apply Operation). The
    capacity guard runs again: the failed grant released its GPUs meanwhile."""
    if not can_manage_grants(actor):
        raise NotAllowed("Only platform leads and operators retry a failed apply.")
    reason = _clean_text(reason, field="reason", limit=MAX_REASON, required=False, what="reason")
    now = now or timezone.now()
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=req.cluster_id)
        current = _require_current(req, S.APPLYING, allowed_from={S.FAILED})
        if req.ends_on < timezone.localdate(now):
            raise DomainError("The grant's end date has passed; it cannot be applied any more.")
        if not cluster.is_active:
            raise DomainError(f"{cluster.name} has been retired.")
        _guard_capacity(cluster, req.gpu_product, req.effective_gpus, exclude_pk=req.pk)
        _begin_apply(req, actor=actor, now=now, verb="quota.retried", reason=reason, locked=current)
    req.refresh_from_db()
    return req


# --- applying --------------------------------------------------------------------------


def _begin_apply(
    req: QuotaRequest,
    *,
    actor: Any,
    now: Any,
    verb: str,
    reason: str = "",
    locked: str | None = None,
) -> Operation:
    """approved/failed → applying, with the Operation that writes the namespace's quota."""
    _transition(
        req,
        S.APPLYING,
        actor=actor,
        verb=verb,
        reason=reason,
        now=now,
        locked=locked,
        failure_message="",
    )
    op = create_operation(
        kind=APPLY_KIND,
        actor=actor,
        target=req,
        team=req.team,
        payload={
            "request_id": req.pk,
            "namespace_id": req.namespace_id,
            "cluster": req.cluster.name,
            "namespace": req.namespace.name,
            "gpu_product": req.gpu_product,
            "gpus": req.effective_gpus,
        },
        reason=reason,
    )
    QuotaRequest.objects.filter(pk=req.pk).update(apply_operation=op)
    req.apply_operation = op
    return op


def request_namespace_sync(
    namespace_id: int, *, actor: Any, reason: str, team: Team | None = None
) -> Operation:
    """An Operation that writes the namespace's desired quota (after expiry, revocation or
    drift). Always a new one: it reads the grants when it runs, after this commits."""
    namespace = TeamNamespace.objects.select_related("cluster", "team").get(pk=namespace_id)
    return create_operation(
        kind=SYNC_KIND,
        actor=actor,
        target=namespace,
        team=team or namespace.team,
        payload={
            "namespace_id": namespace.pk,
            "cluster": namespace.cluster.name,
            "namespace": namespace.name,
            "reason": reason,
        },
        reason=reason,
    )


def on_apply_succeeded(op: Operation) -> None:
    """Operation hook: the grant's quota is on the cluster — applying → active."""
    req = (
        QuotaRequest.objects.select_related("team").filter(pk=op.payload.get("request_id")).first()
    )
    if req is not None and req.status == S.APPLYING and req.apply_operation_id == op.pk:
        now = timezone.now()
        # Revoked meanwhile: its release operation lowers the quota again.
        with contextlib.suppress(DomainError):
            _transition(
                req,
                S.ACTIVE,
                actor=None,
                verb="quota.activated",
                now=now,
                after={"namespace_gpus": op.result.get("gpus"), "operation": op.pk},
                activated_at=now,
                failure_message="",
            )
    record_applied(op)


def on_apply_failed(op: Operation) -> None:
    """Operation hook: the cluster refused (or kept failing) — applying → failed."""
    req = (
        QuotaRequest.objects.select_related("team").filter(pk=op.payload.get("request_id")).first()
    )
    if req is None or req.status != S.APPLYING or req.apply_operation_id != op.pk:
        return
    try:
        _transition(
            req,
            S.FAILED,
            actor=None,
            verb="quota.apply_failed",
            now=timezone.now(),
            after={"error": op.last_error, "attempts": op.attempts, "operation": op.pk},
            failure_message=op.last_error,
        )
    except DomainError:
        return  # revoked meanwhile
    notifications.apply_failed(req)


def on_sync_succeeded(op: Operation) -> None:
    """Operation hook: a namespace's quota was written (expiry, revocation, drift)."""
    record_applied(op)


def record_applied(op: Operation) -> None:
    """Remember what the worker wrote to the namespace; a drift it repaired is cleared."""
    namespace_id = op.payload.get("namespace_id")
    if namespace_id is None:
        return
    # The namespace cannot have gone: its quota requests protect it from deletion.
    state, _ = NamespaceQuotaState.objects.select_for_update().get_or_create(
        namespace_id=namespace_id
    )
    gpus = op.result.get("gpus")
    now = timezone.now()
    if isinstance(gpus, int):
        state.desired_gpus = gpus
        state.applied_gpus = gpus
        state.observed_gpus = op.result.get("observed_gpus", gpus)
    state.last_applied_at = now
    if state.drifted_at is not None:
        namespace = TeamNamespace.objects.select_related("team", "cluster").get(pk=namespace_id)
        record(
            actor=None,
            verb="quota.drift_restored",
            target=namespace,
            team=namespace.team,
            before={"drifted_at": state.drifted_at.isoformat(), "detail": state.drift_detail},
            after={"gpus": gpus, "operation": op.pk},
            reason=f"quota written by operation #{op.pk} ({op.payload.get('reason') or 'apply'})",
        )
        state.drifted_at = None
        state.drift_detail = ""
    state.save()


# --- beat: start, expire ----------------------------------------------------------------


def start_due_grants(*, now: Any = None) -> list[int]:
    """Approved grants whose start date has come begin applying. Idempotent."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = QuotaRequest.objects.filter(
        status=S.APPROVED, starts_on__lte=today, ends_on__gte=today
    ).values_list("pk", flat=True)
    started = []
    for pk in list(due):
        try:
            with transaction.atomic():
                req = QuotaRequest.objects.select_related("team", "cluster", "namespace").get(pk=pk)
                if req.status != S.APPROVED:
                    continue
                _begin_apply(req, actor=None, now=now, verb="quota.apply_started")
                started.append(pk)
        except (Conflict, DomainError) as exc:
            log.info("quota request %s not started: %s", pk, exc.message)
    return started


def expire_due_grants(*, now: Any = None) -> list[int]:
    """Grants whose last day is over become ``expired``; for every namespace that held one
    an Operation lowers its quota. One transaction per namespace; running it twice does
    nothing the second time."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = QuotaRequest.objects.filter(
        status__in=[S.ACTIVE, S.APPROVED, S.FAILED], ends_on__lt=today
    ).values_list("pk", "namespace_id")
    by_namespace: dict[int, list[int]] = defaultdict(list)
    for pk, namespace_id in due:
        by_namespace[namespace_id].append(pk)
    expired: list[int] = []
    for namespace_id, pks in sorted(by_namespace.items()):
        with transaction.atomic():
            released: list[int] = []
            for req in QuotaRequest.objects.select_related("team").filter(pk__in=pks):
                try:
                    previous = _transition(
                        req,
                        S.EXPIRED,
                        actor=None,
                        verb="quota.expired",
                        reason=f"the grant ended on {req.ends_on.isoformat()}",
                        now=now,
                        ended_at=now,
                        end_reason="end date passed",
                    )
                except (Conflict, DomainError):
                    continue  # moved meanwhile
                expired.append(req.pk)
                if previous in IN_FORCE_STATUSES:
                    released.append(req.pk)
            if released:
                op = request_namespace_sync(namespace_id, actor=None, reason="expired")
                QuotaRequest.objects.filter(pk__in=released).update(release_operation=op)
    return expired


# --- reconciliation --------------------------------------------------------------------


@dataclass
class ReconcileReport:
    """What one reconciliation pass saw."""

    checked: int = 0
    drifted: list[int] = field(default_factory=list)  # namespace ids
    restoring: list[int] = field(default_factory=list)  # namespace ids
    cleared: list[int] = field(default_factory=list)
    skipped_busy: int = 0
    errors: dict[int, str] = field(default_factory=dict)


def busy_namespace_ids() -> set[int]:
    """Namespaces with a quota Operation still queued or running (their quota may be in
    the middle of changing, so the reconciler leaves them alone this round)."""
    payloads = (
        Operation.objects.filter(kind__in=QUOTA_KINDS).active().values_list("payload", flat=True)
    )
    return {
        int(p["namespace_id"])
        for p in payloads
        if isinstance(p, dict) and str(p.get("namespace_id", "")).isdigit()
    }


def namespaces_to_reconcile() -> list[TeamNamespace]:
    """Namespaces Tarmac manages: any it wrote a quota to, or that hold a grant in force."""
    ids = set(NamespaceQuotaState.objects.values_list("namespace_id", flat=True))
    ids.update(
        QuotaRequest.objects.filter(status__in=IN_FORCE_STATUSES).values_list(
            "namespace_id", flat=True
        )
    )
    return list(
        TeamNamespace.objects.filter(pk__in=ids, cluster__is_active=True)
        .select_related("cluster", "team")
        .order_by("cluster__name", "name")
    )


def reconcile_quotas(*, now: Any = None) -> ReconcileReport:
    """Beat: compare each managed namespace's quota on the cluster with the grants, flag
    what differs, and restore it (or only flag it, per the cluster's drift policy)."""
    from apps.quotas import cluster_sync

    now = now or timezone.now()
    report = ReconcileReport()
    busy = busy_namespace_ids()
    reader = cluster_sync.ClusterReader()
    for namespace in namespaces_to_reconcile():
        if namespace.pk in busy:
            report.skipped_busy += 1
            continue
        try:
            observation = reader.observe(namespace)
        except Exception as exc:  # an unreachable cluster is recorded, not raised
            message = str(exc) or type(exc).__name__
            report.errors[namespace.pk] = message
            NamespaceQuotaState.objects.update_or_create(
                namespace=namespace,
                defaults={"last_checked_at": now, "check_error": message[:2000]},
            )
            continue
        report.checked += 1
        record_observation(namespace, observation, now=now, report=report)
    return report


def record_observation(
    namespace: TeamNamespace,
    observation: Any,
    *,
    now: Any,
    report: ReconcileReport | None = None,
) -> NamespaceQuotaState:
    """Store what the reconciler read; a difference is flagged (and restored per policy),
    an agreement clears an earlier flag. Both are audited."""
    report = report or ReconcileReport()
    with transaction.atomic():
        state, _ = NamespaceQuotaState.objects.select_for_update().get_or_create(
            namespace=namespace
        )
        state.desired_gpus = observation.desired_gpus
        state.observed_gpus = observation.observed_gpus
        state.last_checked_at = now
        state.check_error = ""
        detail = "; ".join(observation.differences)
        if observation.differences:
            report.drifted.append(namespace.pk)
            is_new = state.drifted_at is None or state.drift_detail != detail
            if state.drifted_at is None:
                state.drifted_at = now
            state.drift_detail = detail
            policy = namespace.cluster.drift_policy
            if is_new:
                record(
                    actor=None,
                    verb="quota.drifted",
                    target=namespace,
                    team=namespace.team,
                    before={"gpus": observation.desired_gpus},
                    after={
                        "gpus": observation.observed_gpus,
                        "detail": detail,
                        "policy": policy,
                    },
                    reason="changed on the cluster outside Tarmac",
                )
            if policy == "restore":
                request_namespace_sync(namespace.pk, actor=None, reason="drift")
                report.restoring.append(namespace.pk)
        elif state.drifted_at is not None:
            record(
                actor=None,
                verb="quota.drift_cleared",
                target=namespace,
                team=namespace.team,
                before={"drifted_at": state.drifted_at.isoformat(), "detail": state.drift_detail},
                after={"gpus": observation.observed_gpus},
                reason="the cluster agrees with the grants again",
            )
            state.drifted_at = None
            state.drift_detail = ""
            report.cleared.append(namespace.pk)
        state.save()
    return state


# --- helpers ---------------------------------------------------------------------------


def _require_current(req: QuotaRequest, new: str, *, allowed_from: set[str] | None = None) -> str:
    """Lock the request row and check ``new`` is allowed from its current status (and,
    when given, that the current status is one of ``allowed_from``)."""
    current = (
        QuotaRequest.objects.select_for_update()
        .filter(pk=req.pk)
        .values_list("status", flat=True)
        .first()
    )
    if current is None:
        raise DomainError("This request no longer exists.")
    allowed = new in QUOTA_TRANSITIONS.get(current, frozenset())
    if not allowed or (allowed_from is not None and current not in allowed_from):
        label = QuotaStatus(current).label.lower()
        if current != req.status:
            raise Conflict(f"Someone acted on this request meanwhile: it is now {label}.")
        raise DomainError(f"This request is {label}; it cannot become {new}.")
    return current


def _transition(
    req: QuotaRequest,
    new: str,
    *,
    actor: Any,
    verb: str,
    now: Any,
    reason: str = "",
    after: dict[str, Any] | None = None,
    locked: str | None = None,
    **fields: Any,
) -> str:
    """Move ``req`` to ``new`` (locked, conditional on its old status) and audit it.

    Must run inside a transaction. ``locked`` is the status the caller has just read
    under the row lock (``_require_current``) in this transaction, saving a second read.
    Returns the status it left.
    """
    current = locked if locked is not None else _require_current(req, new)
    moved = QuotaRequest.objects.filter(pk=req.pk, status=current).update(
        status=new, updated_at=now, **fields
    )
    if moved != 1:
        raise Conflict("Someone acted on this request meanwhile; reload the page.")
    record(
        actor=actor,
        verb=verb,
        target=req,
        team=req.team,
        before={"status": current},
        after={"status": new, **(after or {})},
        reason=reason,
    )
    req.status = new
    for name, value in fields.items():
        setattr(req, name, value)
    return current


def _snapshot(req: QuotaRequest) -> dict[str, Any]:
    return {
        "status": req.status,
        "cluster": req.cluster.name,
        "namespace": req.namespace.name,
        "gpu_product": req.gpu_product,
        "gpus": req.gpus,
        "starts_on": req.starts_on.isoformat(),
        "ends_on": req.ends_on.isoformat(),
    }


def _user_or_none(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None
