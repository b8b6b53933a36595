"""One-statement read paths for the registry API's hot endpoints on PostgreSQL.

CI pipelines call version search, get-by-alias and model search constantly, and the
issue sets strict latency targets for them over real HTTP. On PostgreSQL each answers
with a single statement that returns every row already as JSON text, tags and aliases
aggregated in correlated subqueries (index lookups per row) and timestamps in MLflow's
milliseconds; the view joins the rows into the response body without decoding and
re-encoding them in Python. The ORM still decides *which* rows for the general filters
(its query is compiled and embedded as ``id IN (…)``), so that logic lives in one
place; the two calls CI makes most (versions of a model by name, version by alias)
have hand-written selections that skip the ORM's compilation as well.

The hand-written statements (and the version insert below) run as server-side prepared
statements with generic plans (apps/core/db.py): their text is the same whatever the
model name or alias, so PostgreSQL plans them once per connection — planning costs more
than running these index lookups. Statements that embed an ORM filter are planned per
call, for the values at hand.

Other databases (SQLite in development) build the same shapes through payloads.py.
tests/registry/test_api.py runs on both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Lower

from apps.accounts.models import Team
from apps.audit.models import AuditEvent
from apps.audit.services import insert_select
from apps.core.db import columns, fetch, instance, is_postgres
from apps.registry.models import ModelAlias, ModelVersion, RegisteredModel
from apps.registry.payloads import MODEL_FIELDS, VERSION_FIELDS, model_payloads, version_payloads

_VERSION_SQL = """
SELECT v.id, json_build_object(
    'id', v.id, 'name', m.name, 'version', v.version, 'source', v.source_uri,
    'run_id', v.run_id, 'run_link', v.run_link, 'framework', v.framework,
    'metadata', v.metadata, 'status', v.status, 'stage', NULLIF(v.stage, ''),
    'description', v.description,
    'tags', COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value)
                                      ORDER BY t.key)
                      FROM registry_versiontag t WHERE t.version_id = v.id), '[]'::json),
    'aliases', COALESCE((SELECT json_agg(a.alias ORDER BY a.alias)
                         FROM registry_modelalias a WHERE a.version_id = v.id), '[]'::json),
    'created_by', u.username,
    'creation_timestamp', floor(extract(epoch FROM v.created_at) * 1000)::bigint,
    'last_updated_timestamp', floor(extract(epoch FROM v.updated_at) * 1000)::bigint
)::text
FROM registry_modelversion v
JOIN registry_registeredmodel m ON m.id = v.model_id
LEFT JOIN auth_user u ON u.id = v.created_by_id
WHERE v.id IN ({ids})
ORDER BY v.id DESC
"""

_MODEL_SQL = """
SELECT m.name, json_build_object(
    'name', m.name, 'team', t.slug, 'description', m.description,
    'catalog_entity_ref', m.catalog_entity_ref,
    'latest_version', NULLIF(m.latest_version, 0),
    'tags', COALESCE((SELECT json_agg(json_build_object('key', g.key, 'value', g.value)
                                      ORDER BY g.key)
                      FROM registry_modeltag g WHERE g.model_id = m.id), '[]'::json),
    'aliases', COALESCE((SELECT json_agg(json_build_object('alias', a.alias,
                                                           'version', mv.version)
                                         ORDER BY a.alias)
                         FROM registry_modelalias a
                         JOIN registry_modelversion mv ON mv.id = a.version_id
                         WHERE a.model_id = m.id), '[]'::json),
    'creation_timestamp', floor(extract(epoch FROM m.created_at) * 1000)::bigint,
    'last_updated_timestamp', floor(extract(epoch FROM m.updated_at) * 1000)::bigint
)::text
FROM registry_registeredmodel m
JOIN accounts_team t ON t.id = m.team_id
WHERE m.id IN ({ids})
ORDER BY m.name
"""

# Hand-written selections for the two calls CI makes most.
_BY_ALIAS_IDS = (
    "SELECT a.version_id FROM registry_modelalias a "
    "JOIN registry_registeredmodel m ON m.id = a.model_id "
    "WHERE lower(m.name) = %s AND a.alias = %s"
)
_BY_NAME_IDS = (
    "SELECT id FROM registry_modelversion WHERE model_id = "
    "(SELECT id FROM registry_registeredmodel WHERE lower(name) = %s) "
    "AND id < %s ORDER BY id DESC LIMIT %s"
)
_NO_BOUND = 2**62


# --- versions ------------------------------------------------------------------------


def version_json(ids: QuerySet[Any]) -> list[tuple[int, str]]:
    """(id, JSON text) of the versions ``ids`` selects (a ``values("id")`` queryset with
    its own filters and limit), newest first."""
    if not is_postgres():
        rows = ModelVersion.objects.filter(pk__in=ids).order_by("-id").values(*VERSION_FIELDS)
        return [(p["id"], json.dumps(p)) for p in version_payloads(rows)]
    sql, params = ids.query.sql_with_params()
    return fetch(_VERSION_SQL.format(ids=sql), params, prepare=False)


def versions_of_json(name: str, *, before_id: int | None, limit: int) -> list[tuple[int, str]]:
    """A page of the named model's versions (ids below ``before_id``), newest first."""
    if not is_postgres():
        qs = ModelVersion.objects.filter(model__name__iexact=name)
        if before_id is not None:
            qs = qs.filter(pk__lt=before_id)
        return version_json(qs.order_by("-id").values("id")[:limit])
    bound = before_id if before_id is not None else _NO_BOUND
    return fetch(_VERSION_SQL.format(ids=_BY_NAME_IDS), [name.lower(), bound, limit])


def versions(ids: QuerySet[Any]) -> list[dict[str, Any]]:
    """The version payloads ``ids`` selects, as dicts."""
    return [json.loads(text) for _, text in version_json(ids)]


def version_by_alias(name: str, alias: str) -> str | None:
    """The version the alias of the named model points at, as JSON text, or None."""
    if not is_postgres():
        named = (
            RegisteredModel.objects.annotate(name_lower=Lower("name"))
            .filter(name_lower=name.lower())
            .values("pk")
        )
        ids = ModelAlias.objects.filter(alias=alias, model_id__in=named).values("version_id")
        rows = version_json(ids[:1])
    else:
        rows = fetch(_VERSION_SQL.format(ids=_BY_ALIAS_IDS), [name.lower(), alias])
    return rows[0][1] if rows else None


# --- models --------------------------------------------------------------------------

_MODEL_FIELDS, _MODEL_COLUMNS = columns(RegisteredModel, "m")
_TEAM_FIELDS, _TEAM_COLUMNS = columns(Team, "t")
_MODEL_BY_NAME_SQL = (
    f"SELECT {_MODEL_COLUMNS}, {_TEAM_COLUMNS} "
    "FROM registry_registeredmodel m JOIN accounts_team t ON t.id = m.team_id "
    "WHERE lower(m.name) = %s"
)


def model_by_name(name: str) -> RegisteredModel | None:
    """The model of that name (any case) with its team loaded, or None."""
    if not is_postgres():
        return (
            RegisteredModel.objects.annotate(name_lower=Lower("name"))
            .select_related("team")
            .filter(name_lower=name.lower())
            .first()
        )
    rows = fetch(_MODEL_BY_NAME_SQL, [name.lower()])
    if not rows:
        return None
    split = len(_MODEL_FIELDS)
    model = instance(RegisteredModel, _MODEL_FIELDS, rows[0][:split])
    model.team = instance(Team, _TEAM_FIELDS, rows[0][split:])
    return model


def model_json(ids: QuerySet[Any]) -> list[tuple[str, str]]:
    """(name, JSON text) of the models ``ids`` selects, ordered by name."""
    if not is_postgres():
        rows = RegisteredModel.objects.filter(pk__in=ids).order_by("name").values(*MODEL_FIELDS)
        return [(p["name"], json.dumps(p)) for p in model_payloads(rows)]
    sql, params = ids.query.sql_with_params()
    return fetch(_MODEL_SQL.format(ids=sql), params, prepare=False)


def models(ids: QuerySet[Any]) -> list[dict[str, Any]]:
    """The model payloads ``ids`` selects, as dicts."""
    return [json.loads(text) for _, text in model_json(ids)]


def page_body(key: str, rows: Sequence[tuple[Any, str]], next_token: str | None) -> bytes:
    """``{"<key>": [rows…], "next_page_token": …}`` joined from the rows' JSON text."""
    return (
        f'{{"{key}":[{",".join(text for _, text in rows)}],'
        f'"next_page_token":{json.dumps(next_token)}}}'
    ).encode()


# --- writes --------------------------------------------------------------------------

_INSERT_VERSION_SQL = """
WITH n AS (
    UPDATE registry_registeredmodel m
    SET latest_version = latest_version + 1, updated_at = %s
    WHERE {which} RETURNING {model_columns}
), v AS (
    INSERT INTO registry_modelversion (model_id, version, source_uri, run_id, run_link,
        framework, metadata, status, stage, description, created_by_id, created_at,
        updated_at)
    SELECT n.id, n.latest_version, %s, %s, %s, %s, %s::jsonb, %s, '', %s, %s, %s, %s FROM n
    RETURNING id, version
), t AS (
    INSERT INTO registry_versiontag (version_id, key, value)
    SELECT v.id, x.k, x.val FROM v, unnest(%s::text[], %s::text[]) AS x(k, val)
), a AS (
    {audit} FROM v, n
)
SELECT v.id, v.version, n.* FROM v, n
"""
# The model by id, or by name (any case) among the teams the actor may write to (None:
# any team, for operators).
_BY_ID = "m.id = %s"
_BY_NAME = "lower(m.name) = %s AND (%s::bigint[] IS NULL OR m.team_id = ANY(%s::bigint[]))"
# The audit event's columns that only the statement knows: the new row's id and number,
# and the model's team.
_AUDIT_COMPUTED = {
    "target_id": ("v.id::text", []),
    "target_repr": ("left(n.name || ' v' || v.version, 200)", []),
    "team_id": ("n.team_id", []),
}


def insert_version(
    *,
    model_id: int | None = None,
    name: str | None = None,
    team_ids: list[int] | None = None,
    fields: dict[str, Any],
    tags: dict[str, str],
    now: Any,
    audit: AuditEvent,
) -> tuple[int, int, RegisteredModel] | None:
    """Take the model's next version number and insert the version, its tags and its
    audit event in one statement (PostgreSQL only). The model is ``model_id``, or the
    one called ``name`` if it belongs to one of ``team_ids``. Returns (id, number, the
    updated model), or None when there is no such model.

    The UPDATE row-locks the model, so concurrent uploads get consecutive numbers. As one
    statement it needs no BEGIN/COMMIT round trips, and outside a transaction the lock is
    held only while the statement runs and commits — uploads to one model queue behind
    each other for that long, not for several round trips."""
    which_params: list[Any]
    if model_id is not None:
        which, which_params = _BY_ID, [model_id]
    else:
        which, which_params = _BY_NAME, [(name or "").lower(), team_ids, team_ids]
    audit_sql, audit_params = insert_select(
        audit,
        {
            **_AUDIT_COMPUTED,
            "after": (
                "%s::jsonb || jsonb_build_object('version', v.version)",
                [json.dumps(audit.after or {})],
            ),
        },
    )
    sql = _INSERT_VERSION_SQL.format(which=which, model_columns=_MODEL_COLUMNS, audit=audit_sql)
    rows = fetch(
        sql,
        [
            now,
            *which_params,
            fields["source_uri"],
            fields["run_id"],
            fields["run_link"],
            fields["framework"],
            json.dumps(fields["metadata"]),
            fields["status"],
            fields["description"],
            fields["created_by_id"],
            now,
            now,
            list(tags),
            list(tags.values()),
            *audit_params,
        ],
    )
    if not rows:
        return None
    row = rows[0]
    return row[0], row[1], instance(RegisteredModel, _MODEL_FIELDS, row[2:])
