"""Hand-written statements for the few hot paths that every API call crosses.

The ORM compiles a queryset to SQL on every call, which costs more than running a
primary-key or unique-index lookup. The paths CI hits on every request (token
authentication, the registry's reads and version uploads) therefore run fixed SQL
text as **server-side prepared statements** on PostgreSQL: parameters are bound by
the server and the plan is cached per connection, so neither Python nor PostgreSQL
re-plans them. Other databases (SQLite in development) take the ORM path in the
caller.

Django opens connections with ``prepare_threshold=None`` (no prepared statements, for
transaction-mode PgBouncer before 1.21); ``DB_PREPARED_STATEMENTS=false`` in the
environment turns them off here too. Statements still go through Django's cursor
wrapper, so query logging and counting (``CaptureQueriesContext``) see them like any
other query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.backends.postgresql.base import ServerBindingCursor

_ServerBindingCursor: Any = ServerBindingCursor  # typed loosely: django-stubs lack it


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def fetch(sql: str, params: Sequence[Any], *, prepare: bool = True) -> list[Any]:
    """Run one statement and return its rows, prepared server-side on PostgreSQL.

    The statement runs on a server-binding cursor with the connection's threshold
    lowered to 0 for its duration, so it is prepared on first use and its plan reused
    afterwards; Django's own queries are unaffected (client-side cursors never prepare).
    Connections use generic plans for prepared statements (settings.py), so prepare only
    fixed statements whose best plan does not depend on the values; ``prepare=False``
    for text that embeds a filter built per request.
    """
    if not (prepare and settings.DB_PREPARED_STATEMENTS and is_postgres()):
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


def columns(model: type[models.Model], alias: str) -> tuple[list[str], str]:
    """(attnames, ``"alias.col, …"``) of a model's concrete fields, for a SELECT list
    whose row slice :func:`instance` turns back into a model instance."""
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], ", ".join(f"{alias}.{f.column}" for f in fields)


def instance(model: type[models.Model], attnames: list[str], values: Sequence[Any]) -> Any:
    """A model instance from a row slice, as the ORM itself would build it."""
    return model.from_db(connection.alias, attnames, list(values))
