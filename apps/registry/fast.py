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

Statements run as server-side prepared statements (parameters bound by the server, the
plan cached per connection): the text is the same whatever the model name or alias, so
PostgreSQL stops re-planning it — planning costs more than running these index
lookups. Django turns prepared statements off globally (for transaction-mode PgBouncer
before 1.21); ``REGISTRY_PREPARED_STATEMENTS = False`` in the settings turns them off
here too.

Other databases (SQLite in development) build the same shapes through payloads.py.
tests/registry/test_api.py runs on both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import QuerySet
from django.db.models.functions import Lower

from apps.accounts.models import Team
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


_ServerBindingCursor: Any = ServerBindingCursor


def _fetchall(sql: str, params: Any) -> list[Any]:
    """Run one read statement, prepared server-side unless the settings say otherwise.

    Django opens connections with ``prepare_threshold=None`` (no prepared statements)
    and client-side binding; this statement alone runs on a server-binding cursor with
    the threshold lowered to 0 for its duration, so it is prepared on first use and its
    plan reused afterwards. Django's other queries are unaffected (client-side cursors
    never prepare). The cursor goes through Django's wrapper, so query logging and
    counting (``CaptureQueriesContext``) see it like any other query.
    """
    if not getattr(settings, "REGISTRY_PREPARED_STATEMENTS", True):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    connection.ensure_connection()
    raw = connection.connection
    wrapper: Any = connection  # _prepare_cursor adds Django's logging wrapper
    previous = raw.prepare_threshold
    raw.prepare_threshold = 0
    try:
        with wrapper._prepare_cursor(_ServerBindingCursor(raw)) as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        raw.prepare_threshold = previous


def _postgres() -> bool:
    return connection.vendor == "postgresql"


# --- versions ------------------------------------------------------------------------


def version_json(ids: QuerySet[Any]) -> list[tuple[int, str]]:
    """(id, JSON text) of the versions ``ids`` selects (a ``values("id")`` queryset with
    its own filters and limit), newest first."""
    if not _postgres():
        rows = ModelVersion.objects.filter(pk__in=ids).order_by("-id").values(*VERSION_FIELDS)
        return [(p["id"], json.dumps(p)) for p in version_payloads(rows)]
    sql, params = ids.query.sql_with_params()
    return _fetchall(_VERSION_SQL.format(ids=sql), params)


def versions_of_json(name: str, *, before_id: int | None, limit: int) -> list[tuple[int, str]]:
    """A page of the named model's versions (ids below ``before_id``), newest first."""
    if not _postgres():
        qs = ModelVersion.objects.filter(model__name__iexact=name)
        if before_id is not None:
            qs = qs.filter(pk__lt=before_id)
        return version_json(qs.order_by("-id").values("id")[:limit])
    bound = before_id if before_id is not None else _NO_BOUND
    return _fetchall(_VERSION_SQL.format(ids=_BY_NAME_IDS), [name.lower(), bound, limit])


def versions(ids: QuerySet[Any]) -> list[dict[str, Any]]:
    """The version payloads ``ids`` selects, as dicts."""
    return [json.loads(text) for _, text in version_json(ids)]


def version_by_alias(name: str, alias: str) -> dict[str, Any] | None:
    """The version the alias of the named model points at, or None."""
    if not _postgres():
        named = (
            RegisteredModel.objects.annotate(name_lower=Lower("name"))
            .filter(name_lower=name.lower())
            .values("pk")
        )
        ids = ModelAlias.objects.filter(alias=alias, model_id__in=named).values("version_id")
        rows = version_json(ids[:1])
    else:
        rows = _fetchall(_VERSION_SQL.format(ids=_BY_ALIAS_IDS), [name.lower(), alias])
    return json.loads(rows[0][1]) if rows else None


# --- models --------------------------------------------------------------------------

_MODEL_BY_NAME_SQL = (
    "SELECT m.id, m.name, m.team_id, m.description, m.catalog_entity_ref, m.latest_version, "
    "m.created_by_id, m.created_at, m.updated_at, t.slug, t.name, t.cost_centre, "
    "t.description, t.created_at "
    "FROM registry_registeredmodel m JOIN accounts_team t ON t.id = m.team_id "
    "WHERE lower(m.name) = %s"
)


def model_by_name(name: str) -> RegisteredModel | None:
    """The model of that name (any case) with its team loaded, or None."""
    if not _postgres():
        return (
            RegisteredModel.objects.annotate(name_lower=Lower("name"))
            .select_related("team")
            .filter(name_lower=name.lower())
            .first()
        )
    rows = _fetchall(_MODEL_BY_NAME_SQL, [name.lower()])
    if not rows:
        return None
    r: tuple[Any, ...] = rows[0]
    model = RegisteredModel.from_db(
        "default",
        [
            "id",
            "name",
            "team_id",
            "description",
            "catalog_entity_ref",
            "latest_version",
            "created_by_id",
            "created_at",
            "updated_at",
        ],
        r[:9],
    )
    model.team = Team.from_db(
        "default",
        ["id", "slug", "name", "cost_centre", "description", "created_at"],
        (r[2], *r[9:14]),
    )
    return model


def model_json(ids: QuerySet[Any]) -> list[tuple[str, str]]:
    """(name, JSON text) of the models ``ids`` selects, ordered by name."""
    if not _postgres():
        rows = RegisteredModel.objects.filter(pk__in=ids).order_by("name").values(*MODEL_FIELDS)
        return [(p["name"], json.dumps(p)) for p in model_payloads(rows)]
    sql, params = ids.query.sql_with_params()
    return _fetchall(_MODEL_SQL.format(ids=sql), params)


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
    UPDATE registry_registeredmodel SET latest_version = latest_version + 1, updated_at = %s
    WHERE id = %s RETURNING latest_version
), v AS (
    INSERT INTO registry_modelversion (model_id, version, source_uri, run_id, run_link,
        framework, metadata, status, stage, description, created_by_id, created_at,
        updated_at)
    SELECT %s, n.latest_version, %s, %s, %s, %s, %s::jsonb, %s, '', %s, %s, %s, %s FROM n
    RETURNING id, version
), t AS (
    INSERT INTO registry_versiontag (version_id, key, value)
    SELECT v.id, x.k, x.val FROM v, unnest(%s::text[], %s::text[]) AS x(k, val)
)
SELECT id, version FROM v
"""


def insert_version(
    *, model_id: int, fields: dict[str, Any], tags: dict[str, str], now: Any
) -> tuple[int, int] | None:
    """Take the model's next version number and insert the version and its tags in one
    statement (PostgreSQL only; the caller holds the transaction). Returns (id, number),
    or None when the model is gone. The UPDATE row-locks the model until commit, so
    concurrent uploads get consecutive numbers."""
    rows = _fetchall(
        _INSERT_VERSION_SQL,
        [
            now,
            model_id,
            model_id,
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
        ],
    )
    return (rows[0][0], rows[0][1]) if rows else None
