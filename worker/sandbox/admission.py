"""Admission of an object about to be stored: body checks, schema, pruning, quota rules.

``check_body`` does what every write does (apiVersion/kind, name and namespace consistent
with the URL, server-owned metadata dropped); ``admit`` validates the result for its type.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from worker.kube.quantity import API_SERVER_PATTERN, parse_quantity
from worker.sandbox import errors, resources, schemas
from worker.sandbox.errors import FieldCause
from worker.sandbox.resources import ResourceType

_DNS_SUBDOMAIN = re.compile(schemas.DNS_SUBDOMAIN)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
)


def check_body(
    rt: ResourceType, namespace: str | None, name: str | None, body: Any
) -> dict[str, Any]:
    """Type, name and namespace checks common to every write; returns a fresh copy."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"the body of a {rt.kind} request must be a JSON object")
    obj = copy.deepcopy(body)
    api_version = obj.setdefault("apiVersion", rt.api_version)
    if api_version != rt.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})"
        )
    kind = obj.setdefault("kind", rt.kind)
    if kind != rt.kind:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    if name is not None and metadata.setdefault("name", name) != name:
        raise errors.bad_request(
            f"the name of the object ({metadata['name']}) does not match the name on "
            f"the URL ({name})"
        )
    if not metadata.get("name"):
        cause = FieldCause(
            "metadata.name",
            "Required value: name or generateName is required",
            "FieldValueRequired",
        )
        raise errors.invalid(rt, "", [cause])
    if rt.namespaced:
        if metadata.setdefault("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
    else:
        metadata.pop("namespace", None)
    for server_field in SERVER_METADATA:
        metadata.pop(server_field, None)
    return obj


def admit(
    rt: ResourceType,
    obj: dict[str, Any],
    *,
    field_validation: str | None,
    apply: bool,
    strict_fields: bool,
) -> list[str]:
    """Validate (and prune/default) an object about to be stored; return warnings."""
    name = obj["metadata"]["name"]
    pattern = _DNS_LABEL if rt == resources.NAMESPACES else _DNS_SUBDOMAIN
    if len(name) > 253 or not pattern.match(name):
        what = "RFC 1123 label" if rt == resources.NAMESPACES else "RFC 1123 subdomain"
        raise errors.invalid(
            rt,
            name,
            [
                FieldCause(
                    "metadata.name",
                    f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                    "alphanumeric characters, '-' or '.', and must start and end with an "
                    "alphanumeric character",
                )
            ],
        )
    warnings: list[str] = []
    schema = schemas.schema_for(rt)
    if schema is not None:
        unknown = schemas.unknown_fields(obj, schema)
        strict = (
            apply or field_validation == "Strict" or (field_validation is None and strict_fields)
        )
        if unknown and strict:
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise errors.cannot_decode(rt, f"strict decoding error: {listed}")
        if unknown:
            if field_validation == "Warn" or field_validation is None:
                warnings.extend(f'unknown field "{path}"' for path in unknown)
            schemas.prune(obj, schema)
        schemas.apply_defaults(obj, schema)
        causes = schemas.validate(rt, obj)
        if causes:
            raise errors.invalid(rt, name, causes)
    if rt == resources.RESOURCE_QUOTAS:
        validate_quota(obj)
    return warnings


def validate_quota(quota: dict[str, Any]) -> None:
    """422 for a negative hard quantity, 400 for one that does not parse (as decoding fails)."""
    rt = resources.RESOURCE_QUOTAS
    hard = (quota.get("spec") or {}).get("hard") or {}
    if not isinstance(hard, dict):
        raise errors.cannot_decode(rt, "spec.hard must be a map of quantities")
    causes: list[FieldCause] = []
    for resource, value in hard.items():
        try:
            amount = parse_quantity(value)
        except ValueError as exc:
            raise errors.cannot_decode(
                rt, f"quantities must match the regular expression '{API_SERVER_PATTERN}'"
            ) from exc
        if isinstance(value, int | float):
            hard[resource] = str(value)
        if amount < 0:
            causes.append(
                FieldCause(
                    f"spec.hard[{resource}]",
                    f'Invalid value: "{hard[resource]}": must be greater than or equal to 0',
                )
            )
    if causes:
        raise errors.invalid(rt, quota["metadata"]["name"], causes)
