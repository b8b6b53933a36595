"""Aliases and stages: free moves of unprotected targets, and the moves promotions make."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import is_platform_lead
from apps.audit.services import record
from apps.core.errors import DomainError, NotAllowed
from apps.registry.choices import (
    Stage,
    TargetKind,
    VersionStatus,
)
from apps.registry.errors import RegistryNotFound
from apps.registry.gate import policy_for
from apps.registry.models import (
    AliasHistory,
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
)
from apps.registry.services.common import (
    _number_of,
    _require_member,
    _touch,
    _user_or_none,
    validate_alias_name,
)


def is_protected(model: RegisteredModel, *, target_kind: str, target: str) -> bool:
    return policy_for(model, target_kind=target_kind, target=target) is not None


def set_alias(
    model: RegisteredModel,
    alias: str,
    version: ModelVersion,
    *,
    actor: Any,
    reason: str = "",
) -> ModelAlias:
    """Point an unprotected alias at a version of the same model (owning team)."""
    alias = validate_alias_name(alias)
    if version.model_id != model.pk:
        raise DomainError(
            f"Version {version.version} belongs to another model, not {model.name}.",
            field="version",
        )
    _require_member(actor, model.team_id, "move this model's aliases")
    if version.status == VersionStatus.FAILED_REGISTRATION:
        raise DomainError("A version whose registration failed cannot carry an alias.")
    if is_protected(model, target_kind=TargetKind.ALIAS, target=alias):
        raise NotAllowed(
            f"The alias {alias!r} is protected by a promotion policy: request a promotion "
            "instead (the gate must pass, and a platform lead may have to approve)."
        )
    with transaction.atomic():
        return _move_alias(model, alias, version, actor=actor, reason=reason)


def delete_alias(model: RegisteredModel, alias: str, *, actor: Any, reason: str = "") -> None:
    """Remove an alias. Protected aliases are removed only by platform leads, with a reason."""
    protected = is_protected(model, target_kind=TargetKind.ALIAS, target=alias)
    if protected:
        if not is_platform_lead(actor):
            raise NotAllowed(
                f"The alias {alias!r} is protected: only a platform lead may remove it."
            )
        if not reason.strip():
            raise DomainError("Say why the protected alias is removed.", field="reason")
    else:
        _require_member(actor, model.team_id, "remove this model's aliases")
    with transaction.atomic():
        _touch(model.pk)
        existing = ModelAlias.objects.filter(model=model, alias=alias).first()
        if existing is None:
            raise RegistryNotFound(f"Model {model.name} has no alias {alias!r}.", field="alias")
        AliasHistory.objects.create(
            model=model,
            kind=TargetKind.ALIAS,
            target=alias,
            from_version_id=existing.version_id,
            to_version=None,
            actor=_user_or_none(actor),
            reason=reason,
        )
        record(
            actor=actor,
            verb="registry.alias_deleted",
            target=model,
            team=model.team,
            before={"alias": alias, "version": _number_of(existing.version_id)},
            reason=reason,
        )
        existing.delete()


def set_stage(version: ModelVersion, stage: str, *, actor: Any, reason: str = "") -> ModelVersion:
    """Put a version in an unprotected stage (or clear it with ``""``)."""
    model = version.model
    if stage and stage not in Stage.values:
        raise DomainError(
            f"Unknown stage {stage!r}; use one of {', '.join(Stage.values)}.", field="stage"
        )
    _require_member(actor, model.team_id, "change the stage of this model's versions")
    if stage and is_protected(model, target_kind=TargetKind.STAGE, target=stage):
        raise NotAllowed(
            f"The stage {stage!r} is protected by a promotion policy: request a promotion."
        )
    with transaction.atomic():
        _touch(model.pk)
        if version.stage == stage:
            return version
        before = version.stage
        ModelVersion.objects.filter(pk=version.pk).update(stage=stage, updated_at=timezone.now())
        version.stage = stage
        AliasHistory.objects.create(
            model=model,
            kind=TargetKind.STAGE,
            target=stage or before,
            from_version=version if not stage else None,
            to_version=version if stage else None,
            actor=_user_or_none(actor),
            reason=reason,
        )
        record(
            actor=actor,
            verb="registry.stage_changed",
            target=version,
            team=model.team,
            before={"stage": before},
            after={"stage": stage},
            reason=reason,
        )
    return version


def _move_alias(
    model: RegisteredModel,
    alias: str,
    version: ModelVersion,
    *,
    actor: Any,
    reason: str,
    request: PromotionRequest | None = None,
) -> ModelAlias:
    """Move (or create) the alias inside the caller's transaction, with history and audit."""
    now = timezone.now()
    _touch(model.pk, now)  # row-locks the model: alias moves of one model are serialised
    existing = ModelAlias.objects.filter(model=model, alias=alias).first()
    if existing is not None and existing.version_id == version.pk:
        return existing
    from_id = existing.version_id if existing is not None else None
    if existing is None:
        existing = ModelAlias.objects.create(
            model=model, alias=alias, version=version, updated_by=_user_or_none(actor)
        )
    else:
        existing.version = version
        existing.updated_by = _user_or_none(actor)
        existing.updated_at = now
        existing.save(update_fields=["version", "updated_by", "updated_at"])
    AliasHistory.objects.create(
        model=model,
        kind=TargetKind.ALIAS,
        target=alias,
        from_version_id=from_id,
        to_version=version,
        actor=_user_or_none(actor),
        reason=reason,
        request=request,
    )
    record(
        actor=actor,
        verb="registry.alias_moved",
        target=model,
        team=model.team,
        before={"alias": alias, "version": _number_of(from_id)},
        after={"alias": alias, "version": version.version},
        reason=reason,
    )
    return existing


def _move_stage(
    version: ModelVersion,
    stage: str,
    *,
    actor: Any,
    reason: str,
    request: PromotionRequest | None = None,
) -> None:
    """Promote into a protected stage: the version enters it, the previous holders leave
    it for ``archived`` (a stage, like an alias, has one current holder after promotion)."""
    model = version.model
    now = timezone.now()
    _touch(model.pk, now)
    previous = list(
        ModelVersion.objects.filter(model=model, stage=stage)
        .exclude(pk=version.pk)
        .order_by("-version")
        .values_list("pk", "version")
    )
    if previous:
        ModelVersion.objects.filter(pk__in=[pk for pk, _ in previous]).update(
            stage=Stage.ARCHIVED, updated_at=now
        )
    before_stage = version.stage
    ModelVersion.objects.filter(pk=version.pk).update(stage=stage, updated_at=now)
    version.stage = stage
    AliasHistory.objects.create(
        model=model,
        kind=TargetKind.STAGE,
        target=stage,
        from_version_id=previous[0][0] if previous else None,
        to_version=version,
        actor=_user_or_none(actor),
        reason=reason,
        request=request,
    )
    record(
        actor=actor,
        verb="registry.stage_changed",
        target=version,
        team=model.team,
        before={"stage": before_stage, "holders": [n for _, n in previous]},
        after={"stage": stage, "archived": [n for _, n in previous]},
        reason=reason,
    )
