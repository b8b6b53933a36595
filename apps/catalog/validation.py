"""Backstage's validation rules for descriptors: field formats and the kind schemas.

Field formats are those of Backstage's ``FieldFormatEntityPolicy`` (names, namespaces,
label and annotation keys, tags, links); the spec of each built-in kind is checked
against a JSON schema written after Backstage's ``kinds/*.schema.json``. Problems come
back as ``(path, message)`` pairs for ``descriptors`` to place on their line.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError as SchemaError

from apps.catalog.choices import EntityKind

Path = tuple[str | int, ...]
Issue = tuple[Path, str]


# --- Field formats (Backstage's FieldFormatEntityPolicy) ------------------------------

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")

NAME_RULE = (
    "1 to 63 characters: letters, digits and [-_.], starting and ending with a letter or digit"
)
NAMESPACE_RULE = "1 to 63 characters: lower-case letters and digits, separated by single hyphens"
TAG_RULE = "1 to 63 characters: sequences of [a-z0-9:+#] separated by single hyphens"
KEY_RULE = "an optional DNS-subdomain prefix and '/', then a valid name"


def is_valid_name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_NAME_RE.match(value))


def is_valid_namespace(value: Any) -> bool:
    """A DNS label, as Backstage's validator has it (its docs say any case; its code does not)."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_DNS_LABEL_RE.match(value))


def is_valid_tag(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_TAG_RE.match(value))


def _is_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(
        len(label) <= 63 and _DNS_LABEL_RE.match(label) for label in value.split(".")
    )


def is_valid_key(value: Any) -> bool:
    """Label and annotation keys: ``[prefix/]name`` as Kubernetes has them."""
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return is_valid_name(parts[0])
    if len(parts) == 2:
        return _is_dns_subdomain(parts[0]) and is_valid_name(parts[1])
    return False


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def check_metadata(metadata: Any) -> list[Issue]:
    """Problems of the ``metadata`` block: name, namespace, labels, annotations, tags, links."""
    issues: list[Issue] = []
    base: Path = ("metadata",)
    if not isinstance(metadata, dict):
        return [(base, f"must be a mapping, not {type_name(metadata)}")]
    name = metadata.get("name")
    if name is None:
        issues.append(((*base, "name"), "is required"))
    elif not is_valid_name(name):
        shown = name if isinstance(name, str) else type_name(name)
        issues.append(((*base, "name"), f'"{shown}" is not a valid name (expected {NAME_RULE})'))
    if "namespace" in metadata and not is_valid_namespace(metadata["namespace"]):
        issues.append(
            (
                (*base, "namespace"),
                f'"{metadata["namespace"]}" is not a valid namespace (expected {NAMESPACE_RULE})',
            )
        )
    for text_field in ("title", "description"):
        if text_field in metadata and not isinstance(metadata[text_field], str):
            issues.append(
                (
                    (*base, text_field),
                    f"must be a string, not {type_name(metadata[text_field])}",
                )
            )
    for map_field, value_is_name in (("labels", True), ("annotations", False)):
        mapping = metadata.get(map_field)
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            issues.append(((*base, map_field), f"must be a mapping, not {type_name(mapping)}"))
            continue
        for key, value in mapping.items():
            path = (*base, map_field, str(key))
            if not is_valid_key(key):
                issues.append((path, f'"{key}" is not a valid key (expected {KEY_RULE})'))
            if not isinstance(value, str):
                issues.append((path, f"must be a string, not {type_name(value)}"))
            elif value_is_name and value != "" and not is_valid_name(value):
                issues.append(
                    (path, f'"{value}" is not a valid label value (expected {NAME_RULE})')
                )
    tags = metadata.get("tags")
    if tags is not None:
        if not isinstance(tags, list):
            issues.append(((*base, "tags"), f"must be a list, not {type_name(tags)}"))
        else:
            for i, tag in enumerate(tags):
                if not is_valid_tag(tag):
                    shown = tag if isinstance(tag, str) else type_name(tag)
                    issues.append(
                        ((*base, "tags", i), f'"{shown}" is not a valid tag (expected {TAG_RULE})')
                    )
    links = metadata.get("links")
    if links is not None:
        if not isinstance(links, list):
            issues.append(((*base, "links"), f"must be a list, not {type_name(links)}"))
        else:
            for i, link in enumerate(links):
                path = (*base, "links", i)
                if not isinstance(link, dict):
                    issues.append((path, f"must be a mapping with a url, not {type_name(link)}"))
                    continue
                url = link.get("url")
                if not isinstance(url, str) or not _URL_RE.match(url):
                    issues.append(((*path, "url"), "is required and must be an absolute URL"))
                for key in ("title", "icon", "type"):
                    if key in link and not isinstance(link[key], str):
                        issues.append(
                            ((*path, key), f"must be a string, not {type_name(link[key])}")
                        )
    return issues


# --- Kind schemas (Backstage's kinds/*.schema.json, spec part) -------------------------

_STR: dict[str, Any] = {"type": "string", "minLength": 1}
_STR_LIST: dict[str, Any] = {"type": "array", "items": _STR}
_PLACEHOLDER: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "patternProperties": {r"^\$(text|json|yaml)$": _STR},
    "additionalProperties": False,
}
_PROFILE: dict[str, Any] = {
    "type": "object",
    "properties": {"displayName": _STR, "email": _STR, "picture": _STR},
}
_REMOTES: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["type", "url"],
        "properties": {"type": _STR, "url": _STR},
    },
}

SPEC_SCHEMAS: dict[str, dict[str, Any]] = {
    EntityKind.COMPONENT: {
        "type": "object",
        "required": ["type", "lifecycle", "owner"],
        "properties": {
            "type": _STR,
            "lifecycle": _STR,
            "owner": _STR,
            "system": _STR,
            "subcomponentOf": _STR,
            "providesApis": _STR_LIST,
            "consumesApis": _STR_LIST,
            "dependsOn": _STR_LIST,
            "dependencyOf": _STR_LIST,
        },
    },
    EntityKind.API: {
        "type": "object",
        "required": ["type", "lifecycle", "owner"],
        "properties": {
            "type": _STR,
            "lifecycle": _STR,
            "owner": _STR,
            "system": _STR,
            "definition": {"anyOf": [_STR, _PLACEHOLDER]},
            "remotes": _REMOTES,
        },
        # MCP and AI model servers describe remotes instead of a definition.
        "if": {
            "properties": {"type": {"enum": ["mcp-server", "ai-model-server"]}},
            "required": ["type"],
        },
        "then": {"required": ["remotes"]},
        "else": {"required": ["definition"]},
    },
    EntityKind.RESOURCE: {
        "type": "object",
        "required": ["type", "owner"],
        "properties": {
            "type": _STR,
            "owner": _STR,
            "system": _STR,
            "dependsOn": _STR_LIST,
            "dependencyOf": _STR_LIST,
        },
    },
    EntityKind.SYSTEM: {
        "type": "object",
        "required": ["owner"],
        "properties": {"owner": _STR, "domain": _STR, "type": _STR},
    },
    EntityKind.DOMAIN: {
        "type": "object",
        "required": ["owner"],
        "properties": {"owner": _STR, "subdomainOf": _STR, "type": _STR},
    },
    EntityKind.GROUP: {
        "type": "object",
        "required": ["type", "children"],
        "properties": {
            "type": _STR,
            "profile": _PROFILE,
            "parent": _STR,
            "children": _STR_LIST,
            "members": _STR_LIST,
        },
    },
    EntityKind.USER: {
        "type": "object",
        "required": ["memberOf"],
        "properties": {"profile": _PROFILE, "memberOf": _STR_LIST},
    },
    EntityKind.LOCATION: {
        "type": "object",
        "properties": {
            "type": _STR,
            "target": _STR,
            "targets": _STR_LIST,
            "presence": {"enum": ["required", "optional"]},
        },
    },
}
_VALIDATORS = {kind: Draft7Validator(schema) for kind, schema in SPEC_SCHEMAS.items()}


def spec_issues(kind: str, spec: dict[str, Any]) -> list[Issue]:
    """What is wrong with ``spec`` for ``kind``, by path under ``spec``."""
    issues: list[Issue] = []
    for error in _VALIDATORS[kind].iter_errors(spec):
        issues.extend(_schema_issues(error, ("spec",)))
    return issues


def _schema_issues(error: SchemaError, base: Path) -> list[Issue]:
    path: Path = (*base, *error.absolute_path)
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [
            ((*path, name), "is required") for name in error.validator_value if name not in instance
        ]
    if error.validator == "type":
        expected = {"string": "a string", "array": "a list", "object": "a mapping"}.get(
            str(error.validator_value), str(error.validator_value)
        )
        return [(path, f"must be {expected}, not {type_name(error.instance)}")]
    if error.validator == "minLength":
        return [(path, "must not be empty")]
    if error.validator == "minItems":
        return [(path, f"must list at least {error.validator_value}")]
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return [(path, f'"{error.instance}" is not one of: {allowed}')]
    if error.validator == "anyOf" and path[-1:] == ("definition",):
        return [(path, "must be a string, or a $text/$json/$yaml placeholder")]
    return [(path, error.message)]
