"""A trigram index for the catalog's text search, on PostgreSQL only.

``icontains``-style search (``search_text LIKE '%word%'``) reads every row without it.
Creating the ``pg_trgm`` extension needs the right privilege; where it is refused the
migration carries on without the index (search still works, by a sequential scan).
"""

import logging

from django.db import migrations, transaction

log = logging.getLogger(__name__)

INDEX = "catalog_entity_search_trgm"


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_entity "
                "USING gin (search_text gin_trgm_ops)"
            )
    except Exception as exc:  # no privilege for the extension: search works without it
        log.warning("catalog: no trigram index for search (%s)", exc)


def drop_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_catalog_state")]

    operations = [migrations.RunPython(create_index, drop_index)]
