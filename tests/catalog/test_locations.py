"""Registered locations read over HTTP from a local server: targets, orphans, failures."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from apps.audit.models import AuditEvent
from apps.catalog import services, tasks
from apps.catalog.choices import ReadStatus
from apps.catalog.locations import FetchError, fetch_text
from apps.catalog.models import Entity, Location, Relation
from apps.core.errors import DomainError

pytestmark = pytest.mark.django_db


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path, backstage_dir: Path) -> Iterator[tuple[str, Path]]:
    """A copy of Backstage's examples served by http.server on 127.0.0.1."""
    root = tmp_path / "site"
    shutil.copytree(backstage_dir, root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def register(url: str, member: Any, team: Any, capture: Any) -> Location:
    with capture(execute=True):
        return services.register_location(url, actor=member, team=team)


def test_location_targets_are_followed_relative_to_their_file(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, _ = site
    location = register(
        f"{base}/all-components.yaml", member, team, django_capture_on_commit_callbacks
    )
    location.refresh_from_db()
    assert location.last_status == ReadStatus.OK, location.last_error
    assert location.last_counts["files"] == 14
    components = set(Entity.objects.filter(kind="Component").values_list("name", flat=True))
    assert {"petstore", "wayback-archive", "playback-sdk", "www-artist"} <= components
    assert len(components) == 13
    marker = Entity.objects.get(ref="location:default/example-components")
    assert marker.source is not None and marker.source.location == location
    assert ("providesApi", "api:default/petstore", False) in {
        (r.type, r.target_ref, r.target_entity_id is not None)
        for r in Relation.objects.filter(source_ref="component:default/petstore")
    }


def test_missing_target_is_reported_and_other_files_still_ingest(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, _ = site
    location = register(f"{base}/all-apis.yaml", member, team, django_capture_on_commit_callbacks)
    location.refresh_from_db()
    # all-apis.yaml lists swapi-graphql.yaml, which Backstage's examples do not ship.
    assert location.last_status == ReadStatus.ERROR
    assert "swapi-graphql.yaml: HTTP 404" in location.last_error
    assert Entity.objects.filter(kind="API").count() == 10
    marker = Entity.objects.get(ref="location:default/example-apis")
    assert marker.has_errors and "target ./apis/swapi-graphql.yaml: HTTP 404" in marker.errors[0]


def test_unchanged_refresh_changes_nothing_and_writes_no_audit(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, _ = site
    location = register(
        f"{base}/all-systems.yaml", member, team, django_capture_on_commit_callbacks
    )
    before = {e.ref: e.updated_at for e in Entity.objects.all()}
    events = AuditEvent.objects.count()
    counts = tasks.refresh_location(location.pk)
    assert counts == {"files": 4, "created": 0, "updated": 0, "unchanged": 4, "orphaned": 0}
    assert {e.ref: e.updated_at for e in Entity.objects.all()} == before
    assert AuditEvent.objects.count() == events


def test_entity_removed_from_a_location_becomes_orphaned(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """GIVEN a registered location WHEN a target is dropped from its Location entity and a
    file loses a document THEN their entities are orphaned, the rest untouched."""
    base, root = site
    location = register(
        f"{base}/all-systems.yaml", member, team, django_capture_on_commit_callbacks
    )
    assert Entity.objects.active().count() == 4
    listing = root / "all-systems.yaml"
    listing.write_text(listing.read_text().replace("    - ./systems/podcast-system.yaml\n", ""))
    tasks.refresh_location(location.pk)
    podcast = Entity.objects.get(ref="system:default/podcast")
    assert podcast.orphaned_at is not None
    assert Entity.objects.active().count() == 3
    assert Entity.objects.get(ref="system:default/audio-playback").orphaned_at is None
    event = AuditEvent.objects.filter(verb="catalog.ingested").first()
    assert event is not None and event.after is not None
    assert event.after["orphaned_refs"] == ["system:default/podcast"]


def test_a_failing_file_keeps_its_entities(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, root = site
    location = register(
        f"{base}/all-systems.yaml", member, team, django_capture_on_commit_callbacks
    )
    (root / "systems/podcast-system.yaml").write_text("kind: [broken\n")
    tasks.refresh_location(location.pk)
    location.refresh_from_db()
    assert location.last_status == ReadStatus.ERROR
    assert "podcast-system.yaml: document 1, line" in location.last_error
    assert Entity.objects.get(ref="system:default/podcast").orphaned_at is None
    (root / "all-systems.yaml").unlink()
    tasks.refresh_location(location.pk)
    location.refresh_from_db()
    assert "HTTP 404" in location.last_error
    assert Entity.objects.active().count() == 4  # nothing orphaned by a failed read


def test_unregistering_a_location_orphans_its_entities(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, _ = site
    location = register(
        f"{base}/all-domains.yaml", member, team, django_capture_on_commit_callbacks
    )
    assert services.delete_location(location, actor=member) == 4
    assert Entity.objects.active().count() == 0
    assert AuditEvent.objects.filter(verb="catalog.location_deleted").exists()


def test_beat_task_refreshes_every_location_and_survives_an_unreachable_one(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, _ = site
    good = register(f"{base}/all-resources.yaml", member, team, django_capture_on_commit_callbacks)
    bad = register(
        "http://127.0.0.1:9/catalog-info.yaml", member, team, django_capture_on_commit_callbacks
    )
    assert tasks.refresh_locations() == 2
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_status == ReadStatus.OK
    assert bad.last_status == ReadStatus.ERROR and "could not connect" in bad.last_error


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x.yaml", "gopher://x", "/relative.yaml"]
)
def test_only_http_urls_are_registered_or_read(url: str, member: Any, team: Any) -> None:
    with pytest.raises(DomainError):
        services.register_location(url, actor=member, team=team)
    with pytest.raises(FetchError):
        fetch_text(url)


def test_file_target_inside_a_location_is_not_read(
    site: tuple[str, Path], member: Any, team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base, root = site
    (root / "sneaky.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: sneaky}\n"
        "spec:\n  targets: ['file:///etc/hostname', ./systems/podcast-system.yaml]\n"
    )
    location = register(f"{base}/sneaky.yaml", member, team, django_capture_on_commit_callbacks)
    location.refresh_from_db()
    assert "file:///etc/hostname is not an http(s) URL; not read" in location.last_error
    assert Entity.objects.filter(ref="system:default/podcast").exists()


def test_outsider_cannot_refresh_or_unregister(
    site: tuple[str, Path],
    member: Any,
    outsider: Any,
    team: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    base, _ = site
    location = register(
        f"{base}/all-resources.yaml", member, team, django_capture_on_commit_callbacks
    )
    with pytest.raises(DomainError):
        services.request_refresh(location, actor=outsider)
    with pytest.raises(DomainError):
        services.delete_location(location, actor=outsider)
