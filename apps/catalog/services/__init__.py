"""Every state change of the catalog: ingest, orphan, delete, star, locations, adoption.

Split by area (``ingest``, ``entities``, ``locations``, ``adoption``); callers import
from here.
"""

from apps.catalog.services.adoption import (
    compute_adoption,
    record_adoption,
    relation_facts,
    scorecard_for,
)
from apps.catalog.services.endpoints import EndpointState, read_endpoint_state
from apps.catalog.services.entities import delete_entity, export_yaml, snapshot, toggle_star
from apps.catalog.services.ingest import (
    IngestResult,
    Resolver,
    can_edit_entity,
    can_use_team,
    get_source,
    ingest_file,
    ingest_text,
    source_key,
)
from apps.catalog.services.locations import (
    can_manage_location,
    delete_location,
    orphan_sources,
    record_location_read,
    register_location,
    request_refresh,
    validate_location_url,
)

__all__ = [
    "EndpointState",
    "IngestResult",
    "Resolver",
    "can_edit_entity",
    "can_manage_location",
    "can_use_team",
    "compute_adoption",
    "delete_entity",
    "delete_location",
    "export_yaml",
    "get_source",
    "ingest_file",
    "ingest_text",
    "orphan_sources",
    "read_endpoint_state",
    "record_adoption",
    "record_location_read",
    "register_location",
    "relation_facts",
    "request_refresh",
    "scorecard_for",
    "snapshot",
    "source_key",
    "toggle_star",
    "validate_location_url",
]
