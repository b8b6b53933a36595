"""The Celery app: ``celery -A worker worker`` and ``celery -A worker beat``.

Configured from Django settings (``CELERY_*``). JSON only; tasks acknowledge late so
that a worker killed mid-task leaves the message to be redelivered, and the
Operation re-driver covers the cases redelivery does not.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("tarmac")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
)
app.conf.beat_schedule = {
    "redrive-stale-operations": {
        "task": "core.redrive_stale_operations",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Each app adds its periodic tasks below, one entry each.
    "quotas-reconcile": {
        "task": "quotas.reconcile",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    "quotas-expire-grants": {
        "task": "quotas.expire_grants",
        "schedule": 10 * 60.0,
        "options": {"expires": 9 * 60},
    },
    "quotas-start-due-grants": {
        "task": "quotas.start_due_grants",
        "schedule": 10 * 60.0,
        "options": {"expires": 9 * 60},
    },
    "clusters-sync-inventories": {
        "task": "clusters.sync_all_inventories",
        "schedule": 5 * 60.0,
        "options": {"expires": 4 * 60},
    },
    "catalog-refresh-locations": {
        "task": "catalog.refresh_locations",
        "schedule": 15 * 60.0,
        "options": {"expires": 14 * 60},
    },
    "catalog-record-adoption": {
        "task": "catalog.record_adoption",
        "schedule": 24 * 3600.0,
        "options": {"expires": 23 * 3600},
    },
}
app.autodiscover_tasks()
