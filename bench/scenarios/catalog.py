"""Catalog list, entity page and ingest at 10,000 entities and 30,000+ relations.

The catalog is seeded the way teams fill it: ten catalog-info.yaml files of 1,000
entities each, ingested through ``ingest_file`` (so relations, tags and search text
are the real thing). The harness's small run holds the first file only (1,000 entities),
so its query counts show that they do not grow with the catalog.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection

from apps.accounts.models import Membership, Team
from apps.catalog import services
from apps.catalog.choices import SourceKind
from apps.catalog.models import Entity, Relation, Star
from bench.harness import Context, Scenario
from tests.factories import UserFactory, operator

FILES = 10
PER_FILE = 1_000
TEAMS = 40
SYSTEMS = 100
LIFECYCLES = ["production", "experimental", "deprecated"]
TYPES = ["service", "model-endpoint", "pipeline", "library", "website"]
WORDS = ["fraud", "ranking", "vision", "search", "speech", "forecast", "pricing", "ocr"]


def _doc(kind: str, name: str, spec: str, *, tags: str = "", description: str = "") -> str:
    return (
        f"apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n"
        f"  description: {description or name}\n"
        + (f"  tags: [{tags}]\n" if tags else "")
        + f"spec:\n{spec}"
    )


def bench_file(index: int, *, namespace: str = "default") -> str:
    """1,000 entities: 10% APIs, 10% resources, 80% components of five types.

    Every entity declares three relations (owner, system, and an API it consumes or a
    component it serves), so ten files hold 30,000 declared relations (60,000 rows).
    """
    docs = []
    base = index * PER_FILE
    for i in range(base, base + PER_FILE):
        team = f"cat-team-{i % TEAMS}"
        system = f"sys-{i % SYSTEMS}"
        word = WORDS[i % len(WORDS)]
        ns = f"  namespace: {namespace}\n" if namespace != "default" else ""
        if i % 10 == 0:
            spec = (
                f"  type: openapi\n  lifecycle: {LIFECYCLES[i % 3]}\n  owner: group:{team}\n"
                f"  system: {system}\n  definition: 'openapi: 3.0.0'\n"
            )
            kind = "API"
            name = f"api-{i}"
        elif i % 10 == 1:
            spec = (
                f"  type: database\n  owner: group:{team}\n  system: {system}\n"
                f"  dependencyOf: [component:svc-{i + 1}]\n"
            )
            kind = "Resource"
            name = f"db-{i}"
        else:
            spec = (
                f"  type: {TYPES[i % len(TYPES)]}\n  lifecycle: {LIFECYCLES[i % 3]}\n"
                f"  owner: group:{team}\n  system: {system}\n"
                f"  consumesApis: [api-{(i // 10) * 10}]\n"
            )
            kind = "Component"
            name = f"svc-{i}"
        doc = _doc(
            kind,
            name,
            spec,
            tags=f"{word}, t{i % 50}",
            description=f"{word} {kind.lower()} number {i}",
        )
        if ns:
            doc = doc.replace(f"  name: {name}\n", f"  name: {name}\n{ns}")
        docs.append(doc)
    return "---\n".join(docs)


def _systems() -> str:
    return "---\n".join(
        _doc("System", f"sys-{s}", f"  owner: group:cat-team-{s % TEAMS}\n") for s in range(SYSTEMS)
    )


def _ingest(actor: Any, name: str, text: str) -> services.IngestResult:
    source = services.get_source(kind=SourceKind.API, name=name, team=None, actor=actor)
    return services.ingest_file(text, actor=actor, source=source)


def _seed_files(actor: Any, upto: int) -> None:
    for index in range(upto):
        name = f"bench-file-{index}"
        if Entity.objects.filter(source__key__endswith=f":{name}").exists():
            continue
        _ingest(actor, name, bench_file(index))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE catalog_entity")
            cursor.execute("ANALYZE catalog_relation")
            cursor.execute("ANALYZE catalog_entitytag")


def _setup() -> tuple[Any, Any]:
    for t in range(TEAMS):
        Team.objects.get_or_create(slug=f"cat-team-{t}", defaults={"name": f"Catalog {t}"})
    op = operator(username="bench-catalog-operator")
    member = Team.objects.get(slug="cat-team-7")
    user: Any = UserFactory(username="bench-catalog-member")
    Membership.objects.get_or_create(user=user, team=member)
    if not Entity.objects.filter(ref="system:default/sys-0").exists():
        _ingest(op, "bench-systems", _systems())
    return op, user


LIST_URLS = {
    "catalog.list": "/catalog/",
    "catalog.list.htmx_page": "/catalog/?page=7",
    "catalog.list.q": "/catalog/?q=fraud",
    "catalog.list.kind+q": "/catalog/?kind=Component&q=fraud",
    "catalog.list.type+q": "/catalog/?type=model-endpoint&q=ranking",
    "catalog.list.owner+q": "/catalog/?owner=group:cat-team-7&q=vision",
    "catalog.list.lifecycle+q": "/catalog/?lifecycle=production&q=search",
    "catalog.list.tag+q": "/catalog/?tag=t17&q=number",
    "catalog.list.namespace+q": "/catalog/?namespace=default&q=pricing",
    "catalog.list.system+q": "/catalog/?system=sys-42&q=number",
    "catalog.list.orphaned+q": "/catalog/?orphaned=0&q=speech",
    "catalog.list.errors+q": "/catalog/?errors=0&q=forecast",
    "catalog.list.mine+q": "/catalog/?scope=mine&q=ocr",
    "catalog.list.starred+q": "/catalog/?scope=starred&q=fraud",
    "catalog.list.sort+q": "/catalog/?sort=-updated&q=ranking",
    "catalog.api.owner+q": "/api/v1/catalog/entities/?owner=group:cat-team-7&q=vision",
}
ENTITY_URLS = {
    "catalog.entity": "/catalog/entity/component/default/svc-502/",
    "catalog.entity.system": "/catalog/entity/system/default/sys-42/",
    "catalog.entity.api": "/catalog/entity/api/default/api-500/",
}


def _prepare(ctx: Context) -> tuple[Any, Any]:
    """Seed 10 files (1 in the harness's small run), star two entities, sign in."""
    op, member = _setup()
    _seed_files(op, ctx.pick(FILES, 1))
    for entity in Entity.objects.filter(name__in=["svc-502", "svc-503"]):
        Star.objects.get_or_create(user=member, entity=entity)
    return ctx.client_for(member), ctx.api_client_for(member)


def _scale() -> str:
    return f"{Entity.objects.count()} entities, {Relation.objects.count()} relation rows"


def run_list(ctx: Context) -> None:
    client, api = _prepare(ctx)
    scale = _scale()
    ctx.emit("catalog.seed", "entities", Entity.objects.count(), "rows", scale)
    ctx.emit("catalog.seed", "relation_rows", Relation.objects.count(), "rows", scale)
    for name, url in LIST_URLS.items():
        who = api if name.startswith("catalog.api") else client
        ctx.emit_timing(name, ctx.measure_get(who, url, n=100), scale)
    fragment = ctx.measure(
        lambda: client.get("/catalog/?owner=group:cat-team-7&q=vision", HTTP_HX_REQUEST="true")
    )
    ctx.emit_timing("catalog.list.htmx_fragment", fragment, scale)


def run_entity(ctx: Context) -> None:
    client, _ = _prepare(ctx)
    scale = _scale()
    for name, url in ENTITY_URLS.items():
        ctx.emit_timing(name, ctx.measure_get(client, url, n=100), scale)


def run_ingest(ctx: Context) -> None:
    """A new 1,000-entity file, the same file again (unchanged), then one changed."""
    op, _ = _setup()
    name = "bench-ingest-file"
    Entity.objects.filter(source__key__endswith=f":{name}").delete()
    text = bench_file(0, namespace="ingest-bench")
    started = time.perf_counter()
    created = _ingest(op, name, text)
    first = time.perf_counter() - started
    started = time.perf_counter()
    unchanged = _ingest(op, name, text)
    again = time.perf_counter() - started
    started = time.perf_counter()
    changed = _ingest(op, name, text.replace("number", "no."))
    update = time.perf_counter() - started
    scale = f"1 file of {PER_FILE} entities, {Entity.objects.count()} in the catalog"
    assert len(created.created) == PER_FILE, created.counts()
    assert len(unchanged.unchanged) == PER_FILE, unchanged.counts()
    assert len(changed.updated) == PER_FILE, changed.counts()
    ctx.emit("catalog.ingest.create", "seconds", first, "s", scale)
    ctx.emit("catalog.ingest.unchanged", "seconds", again, "s", scale)
    ctx.emit("catalog.ingest.update", "seconds", update, "s", scale)
    ctx.emit("catalog.ingest.create", "throughput_per_s", PER_FILE / first, "entities/s", scale)


SCENARIOS = [
    Scenario("catalog.list", run_list, "catalog list, each filter + search, at 10,000 entities"),
    Scenario("catalog.entity", run_entity, "entity pages at 10,000 entities"),
    Scenario("catalog.ingest", run_ingest, "ingest one 1,000-entity file"),
]
