"""Celery app and the adapters only workers use (kube, prometheus, drift, sandbox)."""

from worker.celery import app

__all__ = ["app"]
