"""Shared pieces of the registry services: permissions, input checks, small helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.urls import Resolver404, resolve
from django.utils import timezone

from apps.accounts.roles import can_maintain, is_member, is_operator
from apps.core.errors import DomainError, NotAllowed
from apps.registry.choices import (
    Stage,
    TargetKind,
)
from apps.registry.models import (
    ModelVersion,
    RegisteredModel,
)

MAX_EVAL_BATCH = 1000
MAX_TAGS = 50
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_RESERVED_ALIAS_RE = re.compile(r"^(latest|v\d+)$")
_METRIC_RE = re.compile(r"^[A-Za-z0-9_.:/@-]{1,100}$")
_CATALOG_REF_RE = re.compile(r"^[a-z][a-z0-9-]*:[a-z0-9][a-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_EVAL_FIELDS = {"metric", "value", "dataset", "split", "source", "recorded_at"}


# --- permissions ---------------------------------------------------------------------


def can_edit(user: Any, team_id: int) -> bool:
    """Members of the owning team (and operators) change its models."""
    return is_operator(user) or is_member(user, team_id)


def can_edit_policy(user: Any, team_id: int) -> bool:
    """Maintainers of the owning team (and operators) set its promotion policies."""
    return can_maintain(user, team_id)


def _require_member(user: Any, team_id: int, what: str) -> None:
    if not can_edit(user, team_id):
        raise NotAllowed(f"Only members of the owning team {what}.")


# --- validation helpers --------------------------------------------------------------


def normalise_tags(tags: Any, *, field: str = "tags") -> dict[str, str]:
    """Accept ``{key: value}`` or MLflow's ``[{"key": k, "value": v}]``; return a dict."""
    if tags is None:
        return {}
    pairs: list[tuple[Any, Any]]
    if isinstance(tags, Mapping):
        pairs = list(tags.items())
    elif isinstance(tags, list):
        pairs = []
        for item in tags:
            if not isinstance(item, Mapping) or "key" not in item:
                raise DomainError('Each tag must be {"key": ..., "value": ...}.', field=field)
            pairs.append((item["key"], item.get("value", "")))
    else:
        raise DomainError("Tags must be an object or a list of key/value pairs.", field=field)
    if len(pairs) > MAX_TAGS:
        raise DomainError(f"At most {MAX_TAGS} tags.", field=field)
    out: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise DomainError("Tag keys are non-empty text of at most 100 characters.", field=field)
        if value is None:
            value = ""
        if not isinstance(value, str | int | float | bool) or len(str(value)) > 500:
            raise DomainError(f"Tag {key!r}: the value must be text (500 characters).", field=field)
        if key in out:
            raise DomainError(f"Tag {key!r} is given twice.", field=field)
        out[key.strip()] = str(value)
    return out


def validate_alias_name(alias: str) -> str:
    alias = (alias or "").strip()
    if not _ALIAS_RE.match(alias):
        raise DomainError(
            f"{alias!r} is not a valid alias: use lower-case letters, digits, '-' and '_', "
            "starting with a letter (at most 64).",
            field="alias",
        )
    if _RESERVED_ALIAS_RE.match(alias):
        raise DomainError(
            f"{alias!r} is reserved (it reads like a version reference).", field="alias"
        )
    return alias


def _validate_target(target_kind: str, target: str) -> str:
    if target_kind == TargetKind.STAGE:
        if target not in Stage.values:
            raise DomainError(
                f"Unknown stage {target!r}; use one of {', '.join(Stage.values)}.", field="stage"
            )
        return target
    if target_kind != TargetKind.ALIAS:
        raise DomainError(f"Unknown target kind {target_kind!r}.", field="target_kind")
    return validate_alias_name(target)


def validate_catalog_ref(ref: str) -> str:
    ref = (ref or "").strip()
    if ref and not _CATALOG_REF_RE.match(ref):
        raise DomainError(
            "A catalog reference looks like kind:namespace/name, e.g. component:default/fraud-api.",
            field="catalog_entity_ref",
        )
    return ref


def catalog_url(ref: str) -> str | None:
    """The catalog page of an entity, if the catalog app serves one at that address."""
    if not ref:
        return None
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    for path in (f"/catalog/entity/{ref}/", f"/catalog/entity/{kind}/{namespace}/{name}/"):
        try:
            resolve(path)
        except Resolver404:
            continue
        return path
    return None


def _touch(model_id: int, now: Any = None) -> None:
    """Bump the model's last-update time (it also row-locks the model until commit)."""
    RegisteredModel.objects.filter(pk=model_id).update(updated_at=now or timezone.now())


# --- small helpers -------------------------------------------------------------------


def _user_or_none(actor: Any) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


def _number_of(version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return ModelVersion.objects.filter(pk=version_id).values_list("version", flat=True).first()
