"""The service catalog: entities, their relations, where they came from, and scorecards."""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from apps.catalog.choices import (
    LEVEL_ORDER,
    MODEL_ENDPOINT,
    EntityKind,
    Level,
    ReadStatus,
    RelationType,
    RuleKind,
    SourceKind,
)
from apps.catalog.querysets import EntityQuerySet, RelationQuerySet
from apps.catalog.refs import from_canonical


class CatalogState(models.Model):
    """A single row whose ``version`` every change to the catalog's entities bumps, so that
    what is derived from the whole catalog (the facet lists) is cached until it moves."""

    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"catalog version {self.version}"

    @classmethod
    def current(cls) -> str:
        """A key that changes with every change (version and time, never reused)."""
        row = cls.objects.filter(pk=1).values_list("version", "changed_at").first()
        return f"{row[0]}-{row[1].timestamp()}" if row else "0"

    @classmethod
    def bump(cls) -> None:
        """Call inside the transaction that changes entities."""
        moved = cls.objects.filter(pk=1).update(
            version=models.F("version") + 1, changed_at=timezone.now()
        )
        if not moved:
            cls.objects.get_or_create(pk=1, defaults={"version": 1})


class Location(models.Model):
    """A registered http(s) URL of a descriptor file, re-read by beat every 15 minutes.

    Location entities in the file are followed: their ``spec.targets`` are read relative
    to the file's own URL. Each file read is a ``Source``; an entity that disappears from
    a file that was read successfully becomes orphaned.
    """

    url = models.URLField(max_length=1000, unique=True)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(
        max_length=8, choices=ReadStatus.choices, default=ReadStatus.NEVER
    )
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["url"]

    def __str__(self) -> str:
        return self.url


class Source(models.Model):
    """Where a set of entities came from: one file read from a location, or a named upload.

    Re-ingesting a source replaces its set: entities it no longer holds become orphaned.
    """

    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    key = models.CharField(max_length=1200, unique=True)
    name = models.CharField(max_length=1000)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="sources"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(
        max_length=8, choices=ReadStatus.choices, default=ReadStatus.NEVER
    )
    last_error = models.TextField(blank=True)
    # The files this one pointed at when last read (Location targets), to know what a
    # failed read may hide: those files' entities are not orphaned while it fails.
    targets = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class Entity(models.Model):
    """One catalog entity of a Backstage kind, unique by (kind, namespace, name) ignoring case.

    ``descriptor`` is the document as written and ``raw_text`` its original YAML, so an
    export gives back exactly what was ingested. The other columns are indexed copies of
    descriptor fields for filtering. ``owner_team`` is the Tarmac team the owner reference
    resolves to (``group:<team-slug>``); for a Group entity it is the team it maps onto.
    ``orphaned_at`` is set when the entity's source no longer holds it.
    """

    Kind = EntityKind

    kind = models.CharField(max_length=16, choices=EntityKind.choices)
    namespace = models.CharField(max_length=63, default="default")
    name = models.CharField(max_length=63)
    ref = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=400, blank=True)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=100, blank=True)
    lifecycle = models.CharField(max_length=100, blank=True)
    owner_ref = models.CharField(max_length=200, blank=True)
    owner_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    system_ref = models.CharField(max_length=200, blank=True)
    domain_ref = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    spec = models.JSONField(default=dict, blank=True)
    descriptor = models.JSONField(default=dict)
    raw_text = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)
    search_text = models.TextField(blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="entities"
    )
    linked_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    orphaned_at = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    has_errors = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EntityQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "entities"
        indexes = [
            models.Index(fields=["kind", "name"], name="catalog_entity_kind_name"),
            models.Index(fields=["type", "name"], name="catalog_entity_type_name"),
            models.Index(fields=["lifecycle", "name"], name="catalog_entity_lifecycle"),
            models.Index(fields=["owner_ref", "name"], name="catalog_entity_owner"),
            models.Index(fields=["owner_team", "name"], name="catalog_entity_team"),
            models.Index(fields=["system_ref", "name"], name="catalog_entity_system"),
            models.Index(fields=["namespace", "name"], name="catalog_entity_namespace"),
            models.Index(fields=["name", "id"], name="catalog_entity_name_id"),
            models.Index(fields=["-updated_at"], name="catalog_entity_updated"),
            models.Index(
                fields=["orphaned_at"],
                name="catalog_entity_orphaned",
                condition=models.Q(orphaned_at__isnull=False),
            ),
            models.Index(
                fields=["has_errors"],
                name="catalog_entity_errors",
                condition=models.Q(has_errors=True),
            ),
        ]

    def __str__(self) -> str:
        return self.display_ref

    def get_absolute_url(self) -> str:
        return reverse(
            "catalog:entity-detail",
            kwargs={"kind": self.kind.lower(), "namespace": self.namespace, "name": self.name},
        )

    @property
    def display_ref(self) -> str:
        """``component:petstore`` (the namespace shown only when it is not ``default``)."""
        if self.namespace.lower() == "default":
            return f"{self.kind.lower()}:{self.name}"
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"

    @property
    def display_title(self) -> str:
        return self.title or self.name

    @property
    def is_orphaned(self) -> bool:
        return self.orphaned_at is not None

    @property
    def is_model_endpoint(self) -> bool:
        return self.kind == EntityKind.COMPONENT and self.type == MODEL_ENDPOINT

    @property
    def owner_display(self) -> str:
        return from_canonical(self.owner_ref).short if self.owner_ref else ""


class EntityTag(models.Model):
    """One tag of one entity: the indexable copy of ``metadata.tags`` for the tag facet."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=63)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "tag"], name="catalog_entitytag_unique")
        ]
        indexes = [models.Index(fields=["tag", "entity"], name="catalog_entitytag_tag")]

    def __str__(self) -> str:
        return self.tag


class Relation(models.Model):
    """One direction of a relation: ``source_ref`` ``type`` ``target_ref``.

    Both directions are stored, so any entity's relations are one indexed lookup by
    ``source_ref``. ``origin`` is the entity whose descriptor declared the relation (its
    rows go when it changes or is deleted). ``target_entity`` is empty while the target
    does not exist yet: such a relation is kept and shown as unresolved.
    """

    Type = RelationType

    origin = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="declared_relations")
    source_ref = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=RelationType.choices)
    target_ref = models.CharField(max_length=200)
    target_entity = models.ForeignKey(
        Entity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RelationQuerySet.as_manager()

    class Meta:
        ordering = ["type", "target_ref"]
        constraints = [
            models.UniqueConstraint(
                fields=["origin", "source_ref", "type", "target_ref"],
                name="catalog_relation_unique",
            )
        ]
        indexes = [
            models.Index(fields=["source_ref", "type"], name="catalog_relation_source"),
            models.Index(fields=["target_ref"], name="catalog_relation_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source_ref} {self.type} {self.target_ref}"

    @property
    def is_resolved(self) -> bool:
        return self.target_entity_id is not None

    @property
    def target_short(self) -> str:
        return from_canonical(self.target_ref).short


class Star(models.Model):
    """A user's bookmark of an entity (personal: only its user sees or changes it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="catalog_stars"
    )
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "entity"], name="catalog_star_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} ★ {self.entity}"


class ScorecardCheck(models.Model):
    """One paved-road check: a declarative rule over entity fields, annotations or relations.

    A check applies to entities of ``applies_to_kinds`` (and ``applies_to_type``), blank
    for all. An entity reaches a level when every applicable check of that level and of the
    levels below passes (bronze < silver < gold). Operators manage checks in the admin.
    """

    Level = Level
    Rule = RuleKind

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.BRONZE)
    rule = models.CharField(max_length=24, choices=RuleKind.choices)
    params = models.JSONField(default=dict, blank=True)
    applies_to_kinds = models.CharField(
        max_length=200,
        blank=True,
        help_text="Comma-separated kinds, e.g. 'Component, API'. Blank: every kind.",
    )
    applies_to_type = models.CharField(
        max_length=100, blank=True, help_text="e.g. model-endpoint. Blank: every type."
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.level})"

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True)

    @property
    def level_rank(self) -> int:
        return LEVEL_ORDER.index(Level(self.level))

    def clean(self) -> None:
        from apps.catalog.scorecards import parse_kinds, validate_params

        validate_params(self.rule, self.params)
        parse_kinds(self.applies_to_kinds)


class AdoptionSnapshot(models.Model):
    """Paved-road adoption on one day, for one team (or overall when ``team`` is empty).

    ``entities`` counts the scored entities (those with at least one applicable check);
    ``bronze``/``silver``/``gold`` count those that reached at least that level.
    """

    date = models.DateField()
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    entities = models.PositiveIntegerField(default=0)
    bronze = models.PositiveIntegerField(default=0)
    silver = models.PositiveIntegerField(default=0)
    gold = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "team"],
                name="catalog_adoption_unique_team",
                condition=models.Q(team__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["date"],
                name="catalog_adoption_unique_overall",
                condition=models.Q(team__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.team or 'overall'}: {self.rate_bronze}%"

    def _rate(self, count: int) -> float:
        return round(100 * count / self.entities, 1) if self.entities else 0.0

    @property
    def rate_bronze(self) -> float:
        """The paved-road adoption rate: share of scored entities at bronze or better."""
        return self._rate(self.bronze)

    @property
    def rate_silver(self) -> float:
        return self._rate(self.silver)

    @property
    def rate_gold(self) -> float:
        return self._rate(self.gold)
