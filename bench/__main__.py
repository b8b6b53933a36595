"""Run the benchmarks: ``python -m bench [--scenario NAME]`` (``make bench``).

Seeds into a separate database — ``tarmac_bench`` on the PostgreSQL server that
``DATABASE_URL`` names (the figures that count), else ``var/bench.sqlite3`` — so the
demo and test databases are never touched. Seeding is idempotent: a second run
reuses the data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import import_module
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_MODULES = [
    "audit",
    "clusters",
    "catalog",
    "registry",
    "registry_http",
    "quotas",
    "registry_reference",
]


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/tarmac_bench"))
    return f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"


def use_database(url: str) -> None:
    """Point Django's default connection at ``url`` (creating and migrating it)."""
    from django.core.management import call_command
    from django.db import connections

    if url.startswith("postgres"):
        ensure_postgres_database(url)
    connections["default"].close()
    name = urlsplit(url).path.lstrip("/") if url.startswith("postgres") else url.split(":///")[1]
    connections["default"].settings_dict["NAME"] = name
    call_command("migrate", verbosity=0, interactive=False)


def ensure_postgres_database(url: str) -> None:
    """Create the bench database on the server if it does not exist yet."""
    import psycopg

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [parts.path.lstrip("/")]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", help="run only scenarios whose name starts with this")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args()

    url = bench_database_url()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench.harness import Context, Scenario, print_table, write_json

    settings.AXES_ENABLED = False
    scenarios: list[Scenario] = []
    for name in SCENARIO_MODULES:
        try:
            module = import_module(f"bench.scenarios.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.scenarios.{name}":
                continue
            raise
        scenarios.extend(module.SCENARIOS)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:<30} {scenario.description}")
        return 0
    selected = [s for s in scenarios if not args.scenario or s.name.startswith(args.scenario)]
    if not selected:
        print(f"no scenario matches {args.scenario!r}", file=sys.stderr)
        return 2

    small_url = url.replace("tarmac_bench", "tarmac_bench_small").replace(
        "bench.sqlite3", "bench-small.sqlite3"
    )
    print(f"bench databases: {url.split('@')[-1]} and {small_url.split('@')[-1]}")
    # Production settings serve hashed static files from a manifest; build it when a
    # static file is newer than it (compressing plotly.js takes a while).
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    newest = max(p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file())
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        call_command("collectstatic", verbosity=0, interactive=False)
    ctx = Context()
    for size, db_url in (("small", small_url), ("full", url)):
        use_database(db_url)
        ctx.size = size
        for scenario in selected:
            started = time.monotonic()
            print(f"== {scenario.name} ({size})", flush=True)
            scenario.run(ctx)
            print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
    ctx.results.sort(key=lambda r: (r.scenario, r.metric))
    print()
    print_table(ctx.results)
    # A partial run keeps its own file, so that it does not replace the whole run's.
    name = f"{args.scenario}.json" if args.scenario else "latest.json"
    write_json(ctx.results, ROOT / "bench" / "results" / name)
    print(f"\nwritten: bench/results/{name} ({len(ctx.results)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
