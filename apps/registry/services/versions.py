"""Registered models and their versions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import is_operator, team_ids_of
from apps.audit.services import build_event, record
from apps.core.errors import Conflict, DomainError
from apps.registry import fast
from apps.registry.choices import (
    VERSION_STATUS_TRANSITIONS,
    VersionStatus,
)
from apps.registry.errors import RegistryNotFound
from apps.registry.models import (
    ModelTag,
    ModelVersion,
    RegisteredModel,
    VersionTag,
)
from apps.registry.services.common import (
    _NAME_RE,
    _require_member,
    _touch,
    _user_or_none,
    normalise_tags,
    validate_catalog_ref,
)


def create_model(
    *,
    actor: Any,
    name: str,
    team: Team,
    description: str = "",
    tags: Any = None,
    catalog_entity_ref: str = "",
) -> RegisteredModel:
    """Register a new model for ``team``. Names are unique whatever their case (409)."""
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise DomainError(
            "Model names use letters, digits, '.', '-' and '_' (no spaces or slashes), "
            "start with a letter or digit, and have at most 200 characters.",
            field="name",
        )
    _require_member(actor, team.pk, "register models for it")
    tag_map = normalise_tags(tags)
    ref = validate_catalog_ref(catalog_entity_ref)
    if RegisteredModel.objects.by_name(name).exists():
        raise Conflict(f"A model called {name!r} already exists.", field="name")
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=name,
                team=team,
                description=description or "",
                catalog_entity_ref=ref,
                created_by=_user_or_none(actor),
            )
            ModelTag.objects.bulk_create(
                [ModelTag(model=model, key=k, value=v) for k, v in tag_map.items()]
            )
            record(
                actor=actor,
                verb="registry.model_created",
                target=model,
                team=team,
                after={"name": name, "tags": tag_map, "catalog_entity_ref": ref},
            )
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise Conflict(f"A model called {name!r} already exists.", field="name") from exc
    return model


def update_model(
    model: RegisteredModel,
    *,
    actor: Any,
    description: str | None = None,
    tags: Any = None,
    catalog_entity_ref: str | None = None,
) -> RegisteredModel:
    """Change a model's description, catalog link or tags (tags are replaced as a set)."""
    _require_member(actor, model.team_id, "edit this model")
    tag_map = normalise_tags(tags) if tags is not None else None
    ref = validate_catalog_ref(catalog_entity_ref) if catalog_entity_ref is not None else None
    with transaction.atomic():
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        fields = ["updated_at"]
        if description is not None and description != model.description:
            before["description"], after["description"] = model.description, description
            model.description = description
            fields.append("description")
        if ref is not None and ref != model.catalog_entity_ref:
            before["catalog_entity_ref"], after["catalog_entity_ref"] = (
                model.catalog_entity_ref,
                ref,
            )
            model.catalog_entity_ref = ref
            fields.append("catalog_entity_ref")
        if tag_map is not None:
            _replace_tags(model, ModelTag, "model", tag_map, before, after)
        if not after:
            return model
        model.updated_at = timezone.now()
        model.save(update_fields=fields)
        record(
            actor=actor,
            verb="registry.model_updated",
            target=model,
            team=model.team,
            before=before,
            after=after,
        )
    return model


# --- versions ------------------------------------------------------------------------


def create_version(
    model: RegisteredModel | str,
    *,
    actor: Any,
    source_uri: str,
    run_id: str = "",
    run_link: str = "",
    framework: str = "",
    metadata: Any = None,
    description: str = "",
    tags: Any = None,
    status: str = VersionStatus.READY,
) -> ModelVersion:
    """Register the next version of ``model`` (or of the model with that name, any case).

    The number comes from ``UPDATE … SET latest_version = latest_version + 1 RETURNING``,
    which row-locks the model: concurrent uploads get consecutive numbers, never the same.
    On PostgreSQL, given a name (the API's upload), finding the model, checking that the
    actor may write to it, numbering, inserting and auditing are one statement; only when
    it writes nothing does a second query tell a missing model from a forbidden one.
    """
    known = model if isinstance(model, RegisteredModel) else None
    if known is None and connection.vendor != "postgresql":
        known = model_named(str(model))
    if known is not None:
        _require_member(actor, known.team_id, WHAT)
    source_uri = (source_uri or "").strip()
    if not source_uri:
        raise DomainError("Give the artefact's source URI (e.g. s3://…/model).", field="source")
    if len(source_uri) > 1000:
        raise DomainError("The source URI has at most 1000 characters.", field="source")
    run_id = (run_id or "").strip()
    if len(run_id) > 64:
        raise DomainError("A run id has at most 64 characters.", field="run_id")
    run_link = (run_link or "").strip()
    if run_link:
        try:
            URLValidator(schemes=["http", "https"])(run_link)
        except ValidationError as exc:
            raise DomainError("The run link must be an http(s) URL.", field="run_link") from exc
    if len(framework or "") > 64:
        raise DomainError("The framework name has at most 64 characters.", field="framework")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise DomainError("Metadata must be a JSON object.", field="metadata")
    if status not in (VersionStatus.READY, VersionStatus.PENDING_REGISTRATION):
        raise DomainError("A new version is 'ready' or 'pending_registration'.", field="status")
    tag_map = normalise_tags(tags)
    now = timezone.now()
    user = _user_or_none(actor)
    fields: dict[str, Any] = {
        "source_uri": source_uri,
        "run_id": run_id,
        "run_link": run_link,
        "framework": (framework or "").strip(),
        "metadata": metadata,
        "status": status,
        "description": description or "",
        "created_by_id": user.pk if user is not None else None,
    }
    audit = build_event(
        actor=actor,
        verb="registry.version_created",
        target_type=ModelVersion._meta.label_lower,
        after={"source": source_uri, "run_id": run_id, "status": status},
    )
    if connection.vendor == "postgresql":
        # One statement: number, version row, tags and audit event (fast.insert_version).
        if known is not None:
            inserted = fast.insert_version(
                model_id=known.pk, fields=fields, tags=tag_map, now=now, audit=audit
            )
        else:
            inserted = fast.insert_version(
                name=str(model),
                team_ids=None if is_operator(actor) else sorted(team_ids_of(actor)),
                fields=fields,
                tags=tag_map,
                now=now,
                audit=audit,
            )
            if inserted is None:
                _require_member(actor, model_named(str(model)).team_id, WHAT)
        if inserted is None:
            raise RegistryNotFound("The model no longer exists.")
        pk, number, target = inserted
        version = ModelVersion(
            id=pk, model=target, version=number, created_at=now, updated_at=now, **fields
        )
        version._state.adding = False  # the row exists: it was inserted above
        version._state.db = connection.alias
    else:
        target = known or model_named(str(model))
        with transaction.atomic():
            version = ModelVersion.objects.create(
                model=target,
                version=_next_version_number(target.pk, now),
                created_at=now,
                updated_at=now,
                **fields,
            )
            if tag_map:
                VersionTag.objects.bulk_create(
                    [VersionTag(version=version, key=k, value=v) for k, v in tag_map.items()]
                )
            audit.team_id = target.team_id
            audit.target_id, audit.target_repr = str(version.pk), str(version)[:200]
            audit.after = {"version": version.version, **(audit.after or {})}
            audit.save()
    target.latest_version = version.version
    target.updated_at = now
    version.model = target
    version.created_by = user
    version._prefetched_tags = tag_map  # type: ignore[attr-defined]
    return version


def _replace_tags(
    owner: Any,
    tag_model: Any,
    owner_field: str,
    tag_map: dict[str, str],
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Replace ``owner.tags`` with ``tag_map`` when they differ, noting both in the diff."""
    old = dict(owner.tags.values_list("key", "value"))
    if old == tag_map:
        return
    before["tags"], after["tags"] = old, tag_map
    owner.tags.all().delete()
    tag_model.objects.bulk_create(
        [tag_model(**{owner_field: owner}, key=k, value=v) for k, v in tag_map.items()]
    )


WHAT = "register versions of this model"


def model_named(name: str) -> RegisteredModel:
    """The model called ``name`` (any case), with its team; RegistryNotFound otherwise."""
    model = fast.model_by_name(name)
    if model is None:
        raise RegistryNotFound(f"No registered model is called {name!r}.", field="name")
    return model


def _next_version_number(model_id: int, now: Any) -> int:
    table = RegisteredModel._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET latest_version = latest_version + 1, updated_at = %s "
            "WHERE id = %s RETURNING latest_version",
            [now, model_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise RegistryNotFound("The model no longer exists.")
    return int(row[0])


def update_version(
    version: ModelVersion,
    *,
    actor: Any,
    description: str | None = None,
    tags: Any = None,
    status: str | None = None,
) -> ModelVersion:
    """Change a version's description or tags, or finish its registration
    (``pending_registration → ready | failed_registration``)."""
    model = version.model
    _require_member(actor, model.team_id, "edit versions of this model")
    tag_map = normalise_tags(tags) if tags is not None else None
    with transaction.atomic():
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        fields = ["updated_at"]
        if status is not None and status != version.status:
            allowed = VERSION_STATUS_TRANSITIONS.get(version.status, frozenset())
            if status not in allowed:
                raise DomainError(
                    f"A version cannot go from {version.status} to {status}.", field="status"
                )
            moved = ModelVersion.objects.filter(pk=version.pk, status=version.status).update(
                status=status
            )
            if moved != 1:
                raise Conflict("The version's status changed meanwhile; reload and retry.")
            before["status"], after["status"] = version.status, status
            version.status = status
        if description is not None and description != version.description:
            before["description"], after["description"] = version.description, description
            version.description = description
            fields.append("description")
        if tag_map is not None:
            _replace_tags(version, VersionTag, "version", tag_map, before, after)
        if not after:
            return version
        version.updated_at = timezone.now()
        version.save(update_fields=fields)
        _touch(model.pk, version.updated_at)
        record(
            actor=actor,
            verb="registry.version_updated",
            target=version,
            team=model.team,
            before=before,
            after=after,
        )
    return version
