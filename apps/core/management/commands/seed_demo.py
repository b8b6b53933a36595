"""``manage.py seed_demo``: demo data for ``make run``. Idempotent: run it as often as you like."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

# Each app with demo data has a ``demo.seed(out)``; accounts comes first (others need teams).
DEMO_MODULES = [
    "apps.accounts.demo",
    "apps.registry.demo",
    "apps.catalog.demo",
    "apps.clusters.demo",
    "apps.quotas.demo",
]


class Command(BaseCommand):
    help = "Create demo teams, users for each role, and demo data for every area."

    def handle(self, *args: Any, **options: Any) -> None:
        logins: list[tuple[str, str, str]] = []
        for module_name in DEMO_MODULES:
            self.stdout.write(f"Seeding {module_name.split('.')[1]}…")
            with transaction.atomic():
                result = import_module(module_name).seed(self.stdout)
            if module_name == "apps.accounts.demo":
                logins = result
        self.stdout.write(self.style.SUCCESS("\nDemo logins (username / password — role):"))
        for username, password, role in logins:
            self.stdout.write(f"  {username:<8} / {password} — {role}")
