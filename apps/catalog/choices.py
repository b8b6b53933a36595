"""Enums of the catalog: entity kinds, relation types, scorecard levels and rules."""

from __future__ import annotations

from django.db import models


class EntityKind(models.TextChoices):
    """The Backstage kinds Tarmac understands (spelled as descriptors spell them)."""

    COMPONENT = "Component", "Component"
    API = "API", "API"
    RESOURCE = "Resource", "Resource"
    SYSTEM = "System", "System"
    DOMAIN = "Domain", "Domain"
    GROUP = "Group", "Group"
    USER = "User", "User"
    LOCATION = "Location", "Location"


# Lower-cased kind (as written in entity references) → the descriptor spelling.
KIND_BY_LOWER: dict[str, str] = {value.lower(): value for value in EntityKind.values}

# Component types with a special meaning in Tarmac (any other type is accepted too).
MODEL_ENDPOINT = "model-endpoint"
PIPELINE = "pipeline"
WELL_KNOWN_COMPONENT_TYPES = ["service", "website", "library", MODEL_ENDPOINT, PIPELINE]
WELL_KNOWN_LIFECYCLES = ["experimental", "production", "deprecated"]


class RelationType(models.TextChoices):
    """Backstage's well-known relations; every one is stored in both directions."""

    OWNED_BY = "ownedBy", "owned by"
    OWNER_OF = "ownerOf", "owner of"
    PART_OF = "partOf", "part of"
    HAS_PART = "hasPart", "has part"
    DEPENDS_ON = "dependsOn", "depends on"
    DEPENDENCY_OF = "dependencyOf", "dependency of"
    PROVIDES_API = "providesApi", "provides API"
    API_PROVIDED_BY = "apiProvidedBy", "API provided by"
    CONSUMES_API = "consumesApi", "consumes API"
    API_CONSUMED_BY = "apiConsumedBy", "API consumed by"
    PARENT_OF = "parentOf", "parent of"
    CHILD_OF = "childOf", "child of"
    MEMBER_OF = "memberOf", "member of"
    HAS_MEMBER = "hasMember", "has member"


INVERSE_RELATION: dict[str, str] = {
    RelationType.OWNED_BY: RelationType.OWNER_OF,
    RelationType.PART_OF: RelationType.HAS_PART,
    RelationType.DEPENDS_ON: RelationType.DEPENDENCY_OF,
    RelationType.PROVIDES_API: RelationType.API_PROVIDED_BY,
    RelationType.CONSUMES_API: RelationType.API_CONSUMED_BY,
    RelationType.PARENT_OF: RelationType.CHILD_OF,
    RelationType.MEMBER_OF: RelationType.HAS_MEMBER,
}
INVERSE_RELATION.update({v: k for k, v in list(INVERSE_RELATION.items())})


class SourceKind(models.TextChoices):
    """How a set of entities reached the catalog."""

    UPLOAD = "upload", "Upload"
    PASTE = "paste", "Paste"
    API = "api", "API"
    LOCATION = "location", "Registered location"
    DEMO = "demo", "Demo data"


class ReadStatus(models.TextChoices):
    """Outcome of the last read of a location or a source file."""

    NEVER = "never", "Not read yet"
    OK = "ok", "OK"
    ERROR = "error", "Error"


class Level(models.TextChoices):
    """Scorecard levels: a level is reached when all checks of it and below pass."""

    BRONZE = "bronze", "Bronze"
    SILVER = "silver", "Silver"
    GOLD = "gold", "Gold"


LEVEL_ORDER = [Level.BRONZE, Level.SILVER, Level.GOLD]


class RuleKind(models.TextChoices):
    """The declarative rules a scorecard check can use (evaluated in Python, no eval)."""

    FIELD_PRESENT = "field_present", "Field is set"
    FIELD_IN = "field_in", "Field has one of the values"
    ANNOTATION_PRESENT = "annotation_present", "Annotation is set"
    ANNOTATION_IN = "annotation_in", "Annotation has one of the values"
    RELATION_EXISTS = "relation_exists", "Relation exists"
    OWNER_IS_TEAM = "owner_is_team", "Owner is a Tarmac team"
    LINK_PRESENT = "link_present", "Link is present"
    TAG_PRESENT = "tag_present", "Tag is present"
