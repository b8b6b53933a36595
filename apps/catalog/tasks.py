"""Celery tasks of the catalog: thin wrappers that re-fetch by id and call a service."""

from __future__ import annotations

from celery import shared_task

from apps.catalog import locations, services
from apps.catalog.models import Location


@shared_task(name="catalog.refresh_locations", ignore_result=True)
def refresh_locations() -> int:
    """Beat (every 15 minutes): queue a read of every registered location."""
    ids = list(Location.objects.order_by("pk").values_list("pk", flat=True))
    for location_id in ids:
        refresh_location.apply_async((location_id,), expires=14 * 60)
    return len(ids)


@shared_task(name="catalog.refresh_location", ignore_result=True)
def refresh_location(location_id: int) -> dict[str, int] | None:
    """Read one location now; gone locations are ignored, failures recorded on the row."""
    location = Location.objects.select_related("team").filter(pk=location_id).first()
    if location is None:
        return None
    return locations.refresh(location)


@shared_task(name="catalog.record_adoption", ignore_result=True)
def record_adoption() -> int:
    """Beat (daily): store the paved-road adoption per team and overall."""
    return services.record_adoption()
