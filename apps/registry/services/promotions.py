"""Promotion requests: gate, approval by a platform lead, and the move."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.roles import is_platform_lead
from apps.audit.services import record
from apps.core.errors import Conflict, DomainError, NotAllowed
from apps.registry.choices import (
    PROMOTION_TRANSITIONS,
    PromotionStatus,
    TargetKind,
    VersionStatus,
)
from apps.registry.errors import GateFailed
from apps.registry.gate import GateResult, current_holder, evaluate_gate
from apps.registry.models import (
    ModelVersion,
    PromotionRequest,
)
from apps.registry.services.aliases import _move_alias, _move_stage
from apps.registry.services.common import _require_member, _validate_target, can_edit


def request_promotion(
    version: ModelVersion,
    *,
    target: str,
    actor: Any,
    reason: str = "",
    target_kind: str = TargetKind.ALIAS,
) -> PromotionRequest:
    """Ask to move an alias or stage to ``version``.

    The gate must pass (else GateFailed lists the failures and nothing is written). When
    the policy wants a platform lead's approval the request waits as ``submitted``;
    otherwise the target moves at once and the request is recorded as ``applied``.
    """
    model = version.model
    target = _validate_target(target_kind, (target or "").strip())
    _require_member(actor, model.team_id, "request promotions of this model")
    if version.status != VersionStatus.READY:
        raise DomainError(
            f"Only a ready version can be promoted (v{version.version} is {version.status})."
        )
    holder = current_holder(model, target_kind=target_kind, target=target)
    if target_kind == TargetKind.ALIAS and holder is not None and holder[0] == version.pk:
        raise DomainError(f"v{version.version} already holds the alias {target!r}.")
    if target_kind == TargetKind.STAGE and version.stage == target:
        raise DomainError(f"v{version.version} is already in stage {target!r}.")
    gate = evaluate_gate(version, target, target_kind=target_kind)
    if not gate.passed:
        raise GateFailed(
            f"The gate for {target_kind} {target!r} does not pass for v{version.version}: "
            f"{gate.summary()}",
            gate=gate,
        )
    now = timezone.now()
    with transaction.atomic():
        if gate.requires_approval:
            if PromotionRequest.objects.filter(
                version=version, target_kind=target_kind, target=target, status="submitted"
            ).exists():
                raise Conflict(
                    f"v{version.version} already has an open request for {target_kind} {target!r}."
                )
            try:
                with transaction.atomic():
                    req = PromotionRequest.objects.create(
                        model=model,
                        version=version,
                        target_kind=target_kind,
                        target=target,
                        requested_by=actor,
                        reason=reason,
                        gate=gate.as_dict(),
                        created_at=now,
                    )
            except IntegrityError as exc:
                raise Conflict("An identical request was just submitted.") from exc
            record(
                actor=actor,
                verb="registry.promotion_requested",
                target=req,
                team=model.team,
                after={
                    "version": version.version,
                    "target": f"{target_kind}:{target}",
                    "gate": "passed",
                },
                reason=reason,
            )
            return req
        req = PromotionRequest.objects.create(
            model=model,
            version=version,
            target_kind=target_kind,
            target=target,
            status=PromotionStatus.APPLIED,
            requested_by=actor,
            reason=reason,
            gate=gate.as_dict(),
            created_at=now,
            decided_at=now,
            applied_at=now,
        )
        record(
            actor=actor,
            verb="registry.promotion_applied",
            target=req,
            team=model.team,
            after={"version": version.version, "target": f"{target_kind}:{target}"},
            reason=reason,
        )
        _apply(req, version, actor=actor, reason=reason)
    return req


def approve_promotion(req: PromotionRequest, *, actor: Any, reason: str = "") -> PromotionRequest:
    """A platform lead (never the requester) approves: the gate is evaluated again, and
    the alias or stage moves in the same transaction. Two leads at once: one wins."""
    if not is_platform_lead(actor):
        raise NotAllowed("Only platform leads approve promotions.")
    if req.requested_by_id == actor.pk:
        raise NotAllowed("You cannot approve your own promotion request.")
    _check_transition(req, PromotionStatus.APPROVED)
    now = timezone.now()
    with transaction.atomic():
        claimed = PromotionRequest.objects.filter(pk=req.pk, status="submitted").update(
            status=PromotionStatus.APPROVED,
            decided_by=actor,
            decided_at=now,
            decision_reason=reason,
        )
        if claimed != 1:
            raise Conflict("Someone else decided this request first.")
        version = ModelVersion.objects.select_related("model__team").get(pk=req.version_id)
        gate = evaluate_gate(version, req.target, target_kind=req.target_kind)
        if not gate.passed:
            raise GateFailed(
                f"The gate no longer passes for v{version.version}: {gate.summary()}. "
                "Reject the request, or wait for better results.",
                gate=gate,
            )
        PromotionRequest.objects.filter(pk=req.pk).update(
            status=PromotionStatus.APPLIED, applied_at=now, gate=gate.as_dict()
        )
        record(
            actor=actor,
            verb="registry.promotion_approved",
            target=req,
            team=version.model.team,
            before={"status": PromotionStatus.SUBMITTED},
            after={
                "status": PromotionStatus.APPLIED,
                "version": version.version,
                "target": f"{req.target_kind}:{req.target}",
                "requested_by": req.requested_by.get_username(),
            },
            reason=reason,
        )
        _apply(req, version, actor=actor, reason=reason or req.reason)
    req.refresh_from_db()
    return req


def reject_promotion(req: PromotionRequest, *, actor: Any, reason: str) -> PromotionRequest:
    """A platform lead rejects a request, saying why."""
    if not is_platform_lead(actor):
        raise NotAllowed("Only platform leads reject promotions.")
    if req.requested_by_id == actor.pk:
        raise NotAllowed("You cannot decide your own promotion request; cancel it instead.")
    if not (reason or "").strip():
        raise DomainError("Say why the promotion is rejected.", field="reason")
    return _close_submitted(
        req,
        PromotionStatus.REJECTED,
        actor=actor,
        verb="registry.promotion_rejected",
        reason=reason,
        conflict="Someone else decided this request first.",
    )


def cancel_promotion(req: PromotionRequest, *, actor: Any, reason: str = "") -> PromotionRequest:
    """The requester (or the owning team) withdraws an open request."""
    if req.requested_by_id != actor.pk and not can_edit(actor, req.model.team_id):
        raise NotAllowed("Only the requester or the owning team cancel a request.")
    return _close_submitted(
        req,
        PromotionStatus.CANCELLED,
        actor=actor,
        verb="registry.promotion_cancelled",
        reason=reason,
        conflict="The request was decided meanwhile.",
    )


def _close_submitted(
    req: PromotionRequest, status: str, *, actor: Any, verb: str, reason: str, conflict: str
) -> PromotionRequest:
    """Claim a submitted request into a closed ``status`` (rejected or cancelled), audited."""
    _check_transition(req, status)
    with transaction.atomic():
        claimed = PromotionRequest.objects.filter(
            pk=req.pk, status=PromotionStatus.SUBMITTED
        ).update(status=status, decided_by=actor, decided_at=timezone.now(), decision_reason=reason)
        if claimed != 1:
            raise Conflict(conflict)
        record(
            actor=actor,
            verb=verb,
            target=req,
            team=req.model.team,
            before={"status": PromotionStatus.SUBMITTED},
            after={"status": status},
            reason=reason,
        )
    req.refresh_from_db()
    return req


def _check_transition(req: PromotionRequest, new: str) -> None:
    if new not in PROMOTION_TRANSITIONS.get(req.status, frozenset()):
        raise DomainError(
            f"This request is {req.get_status_display().lower()}; it cannot become {new}."
        )


def _apply(req: PromotionRequest, version: ModelVersion, *, actor: Any, reason: str) -> None:
    if req.target_kind == TargetKind.STAGE:
        _move_stage(version, req.target, actor=actor, reason=reason, request=req)
    else:
        _move_alias(version.model, req.target, version, actor=actor, reason=reason, request=req)


def gate_for(version: ModelVersion, *, target: str, target_kind: str) -> GateResult:
    """The checklist for a target, after validating its name (for views and the API)."""
    return evaluate_gate(
        version, _validate_target(target_kind, target.strip()), target_kind=target_kind
    )
