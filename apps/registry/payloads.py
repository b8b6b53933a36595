"""JSON shapes of the registry API, built from ``.values()`` rows.

The hot endpoints (search, get by alias, create) build plain dicts instead of nested
ModelSerializers: a page of 100 models is three queries (models, their tags, their
aliases) and no per-row Python object graph. The serializers in api.py describe the
same shapes for the OpenAPI document; tests/registry/test_api.py checks they agree.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from apps.registry.models import (
    EvalResult,
    ModelAlias,
    ModelTag,
    ModelVersion,
    PromotionRequest,
    VersionTag,
)

MODEL_FIELDS = (
    "id",
    "name",
    "team__slug",
    "description",
    "catalog_entity_ref",
    "latest_version",
    "created_at",
    "updated_at",
)
VERSION_FIELDS = (
    "id",
    "model_id",
    "model__name",
    "version",
    "source_uri",
    "run_id",
    "run_link",
    "framework",
    "metadata",
    "status",
    "stage",
    "description",
    "created_by__username",
    "created_at",
    "updated_at",
)


def millis(value: datetime | None) -> int | None:
    """MLflow's timestamps: whole milliseconds since the epoch (exact integer arithmetic,
    the same figure PostgreSQL's ``floor(extract(epoch …) * 1000)`` gives)."""
    if value is None:
        return None
    return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def model_payloads(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registered models with their tags and aliases: two queries for the whole page."""
    rows = list(rows)
    ids = [row["id"] for row in rows]
    tags: dict[int, list[dict[str, str]]] = defaultdict(list)
    aliases: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for model_id, key, value in (
            ModelTag.objects.filter(model_id__in=ids)
            .order_by("model_id", "key")
            .values_list("model_id", "key", "value")
        ):
            tags[model_id].append({"key": key, "value": value})
        for model_id, alias, number in (
            ModelAlias.objects.filter(model_id__in=ids)
            .order_by("model_id", "alias")
            .values_list("model_id", "alias", "version__version")
        ):
            aliases[model_id].append({"alias": alias, "version": number})
    return [
        {
            "name": row["name"],
            "team": row["team__slug"],
            "description": row["description"],
            "catalog_entity_ref": row["catalog_entity_ref"],
            "latest_version": row["latest_version"] or None,
            "tags": tags.get(row["id"], []),
            "aliases": aliases.get(row["id"], []),
            "creation_timestamp": millis(row["created_at"]),
            "last_updated_timestamp": millis(row["updated_at"]),
        }
        for row in rows
    ]


def version_payloads(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Model versions with their tags and aliases: two queries for the whole page."""
    rows = list(rows)
    ids = [row["id"] for row in rows]
    tags: dict[int, list[dict[str, str]]] = defaultdict(list)
    aliases: dict[int, list[str]] = defaultdict(list)
    if ids:
        for version_id, key, value in (
            VersionTag.objects.filter(version_id__in=ids)
            .order_by("version_id", "key")
            .values_list("version_id", "key", "value")
        ):
            tags[version_id].append({"key": key, "value": value})
        for version_id, alias in (
            ModelAlias.objects.filter(version_id__in=ids)
            .order_by("version_id", "alias")
            .values_list("version_id", "alias")
        ):
            aliases[version_id].append(alias)
    return [
        version_payload(row, tags.get(row["id"], []), aliases.get(row["id"], [])) for row in rows
    ]


def version_payload(
    row: dict[str, Any], tags: list[dict[str, str]], aliases: list[str]
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["model__name"],
        "version": row["version"],
        "source": row["source_uri"],
        "run_id": row["run_id"],
        "run_link": row["run_link"],
        "framework": row["framework"],
        "metadata": row["metadata"],
        "status": row["status"],
        "stage": row["stage"] or None,
        "description": row["description"],
        "tags": tags,
        "aliases": aliases,
        "created_by": row["created_by__username"],
        "creation_timestamp": millis(row["created_at"]),
        "last_updated_timestamp": millis(row["updated_at"]),
    }


def new_version_payload(version: ModelVersion, tags: dict[str, str]) -> dict[str, Any]:
    """The payload of a version just created (no query: everything is in hand)."""
    return version_payload(
        {
            "id": version.pk,
            "model__name": version.model.name,
            "version": version.version,
            "source_uri": version.source_uri,
            "run_id": version.run_id,
            "run_link": version.run_link,
            "framework": version.framework,
            "metadata": version.metadata,
            "status": version.status,
            "stage": version.stage,
            "description": version.description,
            "created_by__username": version.created_by.get_username()
            if version.created_by
            else None,
            "created_at": version.created_at,
            "updated_at": version.updated_at,
        },
        [{"key": k, "value": v} for k, v in sorted(tags.items())],
        [],
    )


def eval_payload(result: EvalResult) -> dict[str, Any]:
    return {
        "id": result.pk,
        "metric": result.metric,
        "value": result.value,
        "dataset": result.dataset,
        "split": result.split,
        "source": result.source,
        "recorded_at": result.recorded_at.isoformat(),
    }


def promotion_payload(req: PromotionRequest) -> dict[str, Any]:
    """A promotion request (expects model, version, requested_by, decided_by loaded)."""
    return {
        "id": req.pk,
        "name": req.model.name,
        "version": req.version.version,
        "version_id": req.version_id,
        "target_kind": req.target_kind,
        "target": req.target,
        "status": req.status,
        "requested_by": req.requested_by.get_username(),
        "reason": req.reason,
        "decided_by": req.decided_by.get_username() if req.decided_by else None,
        "decided_at": req.decided_at.isoformat() if req.decided_at else None,
        "decision_reason": req.decision_reason,
        "created_at": req.created_at.isoformat(),
        "applied_at": req.applied_at.isoformat() if req.applied_at else None,
        "gate": req.gate,
    }
