"""Scorecard rules: a small declarative rule set evaluated in Python (no eval).

Each ``ScorecardCheck`` names a rule and its parameters, for example::

    rule=annotation_in  params={"annotation": "tarmac.io/serving-runtime",
                                "values": ["vllm", "kserve-huggingfaceserver"]}

``score`` runs every applicable check on one entity and tells, for each, whether it
passed and why; the entity's level is the highest level whose checks, and those of
every lower level, all pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from jsonschema import Draft7Validator

from apps.catalog.choices import LEVEL_ORDER, EntityKind, Level, RelationType, RuleKind
from apps.catalog.refs import from_canonical

_TEXT = {"type": "string", "minLength": 1}
_FIELD = {"type": "string", "pattern": r"^(metadata|spec)(\.[A-Za-z0-9_$-]+)+$"}
_VALUES = {"type": "array", "minItems": 1, "items": {"type": "string"}}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    RuleKind.FIELD_PRESENT: _obj(["field"], field=_FIELD),
    RuleKind.FIELD_IN: _obj(["field", "values"], field=_FIELD, values=_VALUES),
    RuleKind.ANNOTATION_PRESENT: _obj(["annotation"], annotation=_TEXT),
    RuleKind.ANNOTATION_IN: _obj(["annotation", "values"], annotation=_TEXT, values=_VALUES),
    RuleKind.RELATION_EXISTS: _obj(
        ["type"],
        type={"enum": list(RelationType.values)},
        target_kind={"enum": [k.lower() for k in EntityKind.values]},
        resolved={"type": "boolean"},
    ),
    RuleKind.OWNER_IS_TEAM: _obj([]),
    RuleKind.LINK_PRESENT: _obj([], match=_TEXT),
    RuleKind.TAG_PRESENT: _obj(["tag"], tag=_TEXT),
}
PARAM_EXAMPLES: dict[str, str] = {
    RuleKind.FIELD_PRESENT: '{"field": "spec.system"}',
    RuleKind.FIELD_IN: '{"field": "spec.lifecycle", "values": ["production"]}',
    RuleKind.ANNOTATION_PRESENT: '{"annotation": "tarmac.io/drift-monitor"}',
    RuleKind.ANNOTATION_IN: '{"annotation": "tarmac.io/serving-runtime", "values": ["vllm"]}',
    RuleKind.RELATION_EXISTS: '{"type": "ownedBy", "target_kind": "group", "resolved": true}',
    RuleKind.OWNER_IS_TEAM: "{}",
    RuleKind.LINK_PRESENT: '{"match": "docs"}',
    RuleKind.TAG_PRESENT: '{"tag": "gpu"}',
}


def validate_params(rule: str, params: Any) -> None:
    """Raise a form-ready ValidationError when ``params`` do not fit ``rule``."""
    schema = PARAM_SCHEMAS.get(rule)
    if schema is None:
        raise ValidationError({"rule": f"Unknown rule {rule!r}."})
    errors = sorted(Draft7Validator(schema).iter_errors(params), key=lambda e: list(e.path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path)
        message = f"{where + ': ' if where else ''}{errors[0].message}"
        raise ValidationError(
            {"params": f"{message}. Example for this rule: {PARAM_EXAMPLES[rule]}"}
        )


def parse_kinds(text: str) -> list[str]:
    """``"Component, API"`` → ``["Component", "API"]``; raises ValidationError on a typo."""
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [k for k in kinds if k not in EntityKind.values]
    if unknown:
        raise ValidationError(
            {
                "applies_to_kinds": f"Unknown kind(s) {', '.join(unknown)}; "
                f"use {', '.join(EntityKind.values)}."
            }
        )
    return kinds


@dataclass(frozen=True)
class RelationFact:
    """What a rule needs to know of one relation of the entity."""

    type: str
    target_ref: str
    resolved: bool


@dataclass(frozen=True)
class CheckResult:
    check: Any
    passed: bool
    reason: str


@dataclass(frozen=True)
class Scorecard:
    """The checks that apply to one entity, their results, and the level reached."""

    results: list[CheckResult]
    level: str  # "" when even bronze is not reached
    scored: bool

    @property
    def level_label(self) -> str:
        if not self.scored:
            return "not scored"
        return Level(self.level).label if self.level else "none"

    def at_or_above(self, level: str) -> bool:
        return bool(self.level) and LEVEL_ORDER.index(Level(self.level)) >= LEVEL_ORDER.index(
            Level(level)
        )


def _lookup(descriptor: dict[str, Any], dotted: str) -> Any:
    value: Any = descriptor
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _is_set(value: Any) -> bool:
    return value not in (None, "", [], {})


def evaluate(check: Any, entity: Any, relations: Iterable[RelationFact]) -> CheckResult:
    """Run one check on one entity; the reason says what was found."""
    rule, params = check.rule, check.params or {}
    passed, reason = False, ""
    if rule == RuleKind.FIELD_PRESENT:
        value = _lookup(entity.descriptor, params["field"])
        passed = _is_set(value)
        reason = f"{params['field']} is {value!r}" if passed else f"{params['field']} is not set"
    elif rule == RuleKind.FIELD_IN:
        value = _lookup(entity.descriptor, params["field"])
        passed = value in params["values"]
        allowed = ", ".join(params["values"])
        reason = (
            f"{params['field']} is {value!r}"
            if passed
            else f"{params['field']} is {value!r}, not one of: {allowed}"
        )
    elif rule == RuleKind.ANNOTATION_PRESENT:
        value = (entity.annotations or {}).get(params["annotation"])
        passed = _is_set(value)
        reason = (
            f"annotation {params['annotation']} is {value!r}"
            if passed
            else f"annotation {params['annotation']} is not set"
        )
    elif rule == RuleKind.ANNOTATION_IN:
        value = (entity.annotations or {}).get(params["annotation"])
        passed = value in params["values"]
        allowed = ", ".join(params["values"])
        if value is None:
            reason = f"annotation {params['annotation']} is not set (expected one of: {allowed})"
        elif passed:
            reason = f"annotation {params['annotation']} is {value!r}"
        else:
            reason = f"annotation {params['annotation']} is {value!r}, not one of: {allowed}"
    elif rule == RuleKind.RELATION_EXISTS:
        matches = [
            r
            for r in relations
            if r.type == params["type"]
            and (
                "target_kind" not in params
                or from_canonical(r.target_ref).kind == params["target_kind"]
            )
            and (not params.get("resolved") or r.resolved)
        ]
        passed = bool(matches)
        what = params["type"] + (f" {params['target_kind']}" if "target_kind" in params else "")
        if passed:
            reason = f"{what} {from_canonical(matches[0].target_ref).short}"
        else:
            unresolved = params.get("resolved") and any(
                r.type == params["type"] and not r.resolved for r in relations
            )
            reason = (
                f"the {params['type']} relation points to an entity that is not in the catalog"
                if unresolved
                else f"no {what} relation"
            )
    elif rule == RuleKind.OWNER_IS_TEAM:
        passed = entity.owner_team_id is not None
        owner = from_canonical(entity.owner_ref).short if entity.owner_ref else "no owner"
        reason = (
            f"owned by Tarmac team {owner}"
            if passed
            else f"{owner} is not a Tarmac team"
            if entity.owner_ref
            else "the entity has no owner"
        )
    elif rule == RuleKind.LINK_PRESENT:
        needle = str(params.get("match", "")).lower()
        found = [
            link
            for link in entity.links or []
            if isinstance(link, dict)
            and (
                not needle
                or any(needle in str(link.get(k, "")).lower() for k in ("type", "icon", "title"))
            )
        ]
        passed = bool(found)
        label = f"link matching {needle!r}" if needle else "link"
        reason = f"link {found[0].get('title') or found[0].get('url')}" if passed else f"no {label}"
    elif rule == RuleKind.TAG_PRESENT:
        passed = params["tag"] in (entity.tags or [])
        reason = f"tagged {params['tag']}" if passed else f"not tagged {params['tag']}"
    return CheckResult(check=check, passed=passed, reason=reason)


def applies(check: Any, entity: Any) -> bool:
    kinds = parse_kinds(check.applies_to_kinds) if check.applies_to_kinds else []
    if kinds and entity.kind not in kinds:
        return False
    return not (check.applies_to_type and entity.type != check.applies_to_type)


def score(entity: Any, checks: Iterable[Any], relations: Iterable[RelationFact]) -> Scorecard:
    """Every applicable enabled check on ``entity``, and the level it reaches."""
    facts = list(relations)
    results = [evaluate(c, entity, facts) for c in checks if c.enabled and applies(c, entity)]
    if not results:
        return Scorecard(results=[], level="", scored=False)
    reached = ""
    for level in LEVEL_ORDER:
        failing = [
            r
            for r in results
            if LEVEL_ORDER.index(Level(r.check.level)) <= LEVEL_ORDER.index(level) and not r.passed
        ]
        if failing:
            break
        reached = level.value
    return Scorecard(results=results, level=reached, scored=True)


# The default paved-road checks (seeded with the demo; operators edit them in the admin).
DEFAULT_CHECKS: list[dict[str, Any]] = [
    {
        "name": "Has an owner team",
        "level": Level.BRONZE,
        "rule": RuleKind.OWNER_IS_TEAM,
        "params": {},
        "applies_to_kinds": "Component, API, Resource, System",
        "description": "spec.owner names a Tarmac team (group:<team-slug>).",
    },
    {
        "name": "Lifecycle set",
        "level": Level.BRONZE,
        "rule": RuleKind.FIELD_IN,
        "params": {
            "field": "spec.lifecycle",
            "values": ["experimental", "production", "deprecated"],
        },
        "applies_to_kinds": "Component, API",
        "description": "spec.lifecycle is one of the well-known values.",
    },
    {
        "name": "Belongs to a system",
        "level": Level.SILVER,
        "rule": RuleKind.RELATION_EXISTS,
        "params": {"type": "partOf", "target_kind": "system", "resolved": True},
        "applies_to_kinds": "Component, API, Resource",
        "description": "spec.system names a System that is in the catalog.",
    },
    {
        "name": "Has a docs link",
        "level": Level.SILVER,
        "rule": RuleKind.LINK_PRESENT,
        "params": {"match": "doc"},
        "applies_to_kinds": "Component, API, System",
        "description": "metadata.links has a link whose title, type or icon mentions docs.",
    },
    {
        "name": "Serving endpoint uses a blessed runtime",
        "level": Level.SILVER,
        "rule": RuleKind.ANNOTATION_IN,
        "params": {
            "annotation": "tarmac.io/serving-runtime",
            "values": ["kserve-huggingfaceserver", "vllm", "triton"],
        },
        "applies_to_kinds": "Component",
        "applies_to_type": "model-endpoint",
        "description": "Model endpoints run on a runtime the platform team supports.",
    },
    {
        "name": "Has a registered model",
        "level": Level.GOLD,
        "rule": RuleKind.ANNOTATION_PRESENT,
        "params": {"annotation": "tarmac.io/registered-model"},
        "applies_to_kinds": "Component",
        "applies_to_type": "model-endpoint",
        "description": "The endpoint names the registry model it serves.",
    },
    {
        "name": "Has a drift monitor",
        "level": Level.GOLD,
        "rule": RuleKind.ANNOTATION_PRESENT,
        "params": {"annotation": "tarmac.io/drift-monitor"},
        "applies_to_kinds": "Component",
        "applies_to_type": "model-endpoint",
        "description": "Predictions of the endpoint are watched for drift.",
    },
]
