"""Eval results: batches stored whole or not at all."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.services import record
from apps.core.errors import DomainError
from apps.registry.errors import EvalBatchError
from apps.registry.models import (
    EvalResult,
    ModelVersion,
)
from apps.registry.services.common import (
    _EVAL_FIELDS,
    _METRIC_RE,
    MAX_EVAL_BATCH,
    _require_member,
    _touch,
    _user_or_none,
)


def validate_eval_rows(rows: Any) -> list[dict[str, Any]]:
    """Check every row of a batch; raise EvalBatchError naming each bad row's index."""
    if not isinstance(rows, list):
        raise DomainError("Send the results as a list under 'rows'.", field="rows")
    if not rows:
        raise DomainError("The batch is empty.", field="rows")
    if len(rows) > MAX_EVAL_BATCH:
        raise DomainError(f"At most {MAX_EVAL_BATCH} results per batch.", field="rows")
    clean: list[dict[str, Any]] = []
    errors: dict[int, dict[str, list[str]]] = {}
    now = timezone.now()
    for index, row in enumerate(rows):
        row_errors: dict[str, list[str]] = {}
        if not isinstance(row, Mapping):
            errors[index] = {"non_field_errors": ["must be an object"]}
            continue
        for unknown in sorted(set(row) - _EVAL_FIELDS):
            row_errors.setdefault(unknown, []).append("unknown field")
        metric = row.get("metric")
        if not isinstance(metric, str) or not _METRIC_RE.match(metric):
            row_errors.setdefault("metric", []).append(
                "required: letters, digits and _ . : / @ - (at most 100)"
            )
        value = _finite(row.get("value"), row_errors)
        text: dict[str, str] = {}
        for key, limit in (("dataset", 200), ("split", 64), ("source", 200)):
            raw = row.get(key, "")
            if raw is None:
                raw = ""
            if not isinstance(raw, str) or len(raw) > limit:
                row_errors.setdefault(key, []).append(f"must be text of at most {limit}")
            else:
                text[key] = raw.strip()
        recorded_at = now
        if row.get("recorded_at") not in (None, ""):
            parsed = (
                parse_datetime(row["recorded_at"]) if isinstance(row["recorded_at"], str) else None
            )
            if parsed is None:
                row_errors.setdefault("recorded_at", []).append("must be an ISO 8601 date-time")
            else:
                recorded_at = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        if row_errors:
            errors[index] = row_errors
            continue
        clean.append({"metric": metric, "value": value, "recorded_at": recorded_at, **text})
    if errors:
        raise EvalBatchError(errors)
    return clean


def _finite(raw: Any, row_errors: dict[str, list[str]]) -> float | None:
    if raw is None:
        row_errors.setdefault("value", []).append("required")
        return None
    if isinstance(raw, bool):
        row_errors.setdefault("value", []).append("must be a number")
        return None
    if isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            row_errors.setdefault("value", []).append("must be a number")
            return None
        if math.isfinite(number):
            row_errors.setdefault("value", []).append("must be a number, not text")
            return None
    elif isinstance(raw, int | float):
        number = float(raw)
    else:
        row_errors.setdefault("value", []).append("must be a number")
        return None
    if not math.isfinite(number):
        row_errors.setdefault("value", []).append("must be a finite number")
        return None
    return number


def add_eval_results(version: ModelVersion, rows: Any, *, actor: Any) -> list[EvalResult]:
    """Store a batch of eval results for ``version``: all of them, or — when any row is
    bad — none, with the bad rows' indexes in the error."""
    model = version.model
    _require_member(actor, model.team_id, "post eval results for this model")
    clean = validate_eval_rows(rows)
    user = _user_or_none(actor)
    with transaction.atomic():
        results = EvalResult.objects.bulk_create(
            [EvalResult(version=version, created_by=user, **row) for row in clean]
        )
        _touch(model.pk)
        record(
            actor=actor,
            verb="registry.eval_results_posted",
            target=version,
            team=model.team,
            after={"count": len(results), "metrics": sorted({r["metric"] for r in clean})},
        )
    return results
