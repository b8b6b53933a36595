"""Fixtures of the catalog tests: Backstage's example descriptors and ingest helpers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from apps.catalog import services
from apps.catalog.choices import SourceKind

REPO = Path(__file__).resolve().parents[2]


def fixtures_root() -> Path:
    return Path(os.environ.get("TARMAC_FIXTURES", REPO.parent / "shared" / "fixtures"))


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Cached facet lists must not leak from one test's catalog into another's."""
    cache.clear()


@pytest.fixture
def backstage_dir() -> Path:
    """``../shared/fixtures/backstage`` (or ``$TARMAC_FIXTURES/backstage``)."""
    path = fixtures_root() / "backstage"
    if not path.is_dir():
        pytest.skip(f"Backstage example descriptors absent: {path} does not exist")
    return path


@pytest.fixture
def ingest(member: Any, team: Any) -> Callable[..., services.IngestResult]:
    """Ingest text as ``member`` of ``team`` (override actor/team/source by keyword)."""

    def run(
        text: str, *, actor: Any = None, team_: Any = None, source: str = "test-source"
    ) -> services.IngestResult:
        return services.ingest_text(
            text,
            actor=actor or member,
            team=team_ or team,
            kind=SourceKind.UPLOAD,
            source_name=source,
        )

    return run
