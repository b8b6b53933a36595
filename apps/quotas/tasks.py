"""Beat tasks of the quotas app: thin wrappers around services (see worker/celery.py)."""

from __future__ import annotations

from celery import shared_task

from apps.quotas import services


@shared_task(name="quotas.start_due_grants", ignore_result=True)
def start_due_grants() -> int:
    """Every 10 min: approved grants whose start date has come begin applying."""
    return len(services.start_due_grants())


@shared_task(name="quotas.expire_grants", ignore_result=True)
def expire_grants() -> int:
    """Every 10 min: grants past their end date expire and their quota is lowered."""
    return len(services.expire_due_grants())


@shared_task(name="quotas.reconcile", ignore_result=True)
def reconcile() -> int:
    """Every 5 min: flag (and restore, per cluster) quotas changed outside Tarmac."""
    return len(services.reconcile_quotas().drifted)
