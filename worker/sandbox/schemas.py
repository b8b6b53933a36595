"""OpenAPI v3 schemas of the custom resources, and the structural-schema rules applied to them.

ClusterQueue uses the real Kueue CRD (``crds/kueue.x-k8s.io_clusterqueues.yaml``, copied
byte-for-byte). LocalQueue, ResourceFlavor and InferenceService use the small hand-written
schemas below: the real KServe CRD is about 1 MB because it embeds PodSpec, so the
predictor keeps unknown fields (``x-kubernetes-preserve-unknown-fields``) below the fields
Tarmac reads and writes.

What the API server does with a structural schema, and what this module does:

- unknown fields are pruned, or rejected with 400 BadRequest ("strict decoding error")
  when the request asks for ``fieldValidation=Strict`` (see ``unknown_fields``/``prune``);
- ``default`` values are filled in (``apply_defaults``);
- the schema is validated (here with ``jsonschema``) and failures are 422 Invalid;
- CEL rules (``x-kubernetes-validations``) are not evaluated generically: the three rules of
  the ClusterQueue CRD are translated by hand in ``_cluster_queue_rules``.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from worker.sandbox import resources
from worker.sandbox.errors import FieldCause
from worker.sandbox.resources import ResourceType

CRD_DIR = Path(__file__).parent / "crds"

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_OPEN_OBJECT: dict[str, Any] = {"type": "object", _PRESERVE: True}
_STATUS: dict[str, Any] = {"type": "object", _PRESERVE: True}
_TYPE_META: dict[str, Any] = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}

LOCAL_QUEUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_TYPE_META,
        "spec": {
            "type": "object",
            "properties": {
                "clusterQueue": {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN},
                "stopPolicy": {
                    "type": "string",
                    "default": "None",
                    "enum": ["None", "Hold", "HoldAndDrain"],
                },
            },
            "required": ["clusterQueue"],
        },
        "status": _STATUS,
    },
}

RESOURCE_FLAVOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_TYPE_META,
        "spec": {
            "type": "object",
            "properties": {
                "nodeLabels": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "maxProperties": 8,
                },
                "nodeTaints": {"type": "array", "items": _OPEN_OBJECT, "maxItems": 8},
                "tolerations": {"type": "array", "items": _OPEN_OBJECT, "maxItems": 8},
                "topologyName": {"type": "string"},
            },
        },
    },
}

_COMPONENT: dict[str, Any] = {"type": "object", _PRESERVE: True}
_MODEL_SPEC: dict[str, Any] = {
    "type": "object",
    _PRESERVE: True,
    "properties": {
        "storageUri": {"type": "string"},
        "runtime": {"type": "string"},
        "protocolVersion": {"type": "string"},
        "modelFormat": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
            "required": ["name"],
        },
    },
}

INFERENCE_SERVICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_TYPE_META,
        "spec": {
            "type": "object",
            "properties": {
                "predictor": {
                    "type": "object",
                    _PRESERVE: True,
                    "properties": {
                        "canaryTrafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 0},
                        "model": _MODEL_SPEC,
                    },
                },
                "transformer": _COMPONENT,
                "explainer": _COMPONENT,
            },
            "required": ["predictor"],
        },
        "status": _STATUS,
    },
    "required": ["spec"],
}


@cache
def crd_schema(filename: str, version: str) -> dict[str, Any]:
    """The openAPIV3Schema of one served version of a CRD file in ``crds/``."""
    crd = yaml.safe_load((CRD_DIR / filename).read_text())
    for served in crd["spec"]["versions"]:
        if served["name"] == version:
            schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(f"{filename} does not serve {version}")


def schema_for(rt: ResourceType) -> dict[str, Any] | None:
    """The schema custom objects of this type are checked against (None for core types)."""
    if rt == resources.CLUSTER_QUEUES:
        return crd_schema("kueue.x-k8s.io_clusterqueues.yaml", rt.version)
    if rt == resources.LOCAL_QUEUES:
        return LOCAL_QUEUE_SCHEMA
    if rt == resources.RESOURCE_FLAVORS:
        return RESOURCE_FLAVOR_SCHEMA
    if rt == resources.INFERENCE_SERVICES:
        return INFERENCE_SERVICE_SCHEMA
    return None


def _child_schema(schema: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The schema of ``key`` inside an object schema; None if the key is unknown."""
    properties = schema.get("properties")
    if properties is not None and key in properties:
        child: dict[str, Any] = properties[key]
        return child
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return additional
    if schema.get(_PRESERVE) or additional is True:
        return {_PRESERVE: True}
    return None


def _walk_unknown(value: Any, schema: dict[str, Any], path: str, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            if not path and key == "metadata":
                continue  # ObjectMeta is not described by the CRD schema
            child_schema = _child_schema(schema, key)
            if child_schema is None:
                found.append(child_path)
            else:
                _walk_unknown(child, child_schema, child_path, found)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _walk_unknown(item, schema["items"], f"{path}[{index}]", found)


def unknown_fields(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Paths of fields the schema does not declare ("spec.foo", "spec.groups[0].bar")."""
    found: list[str] = []
    _walk_unknown(obj, schema, "", found)
    return found


def _prune(value: Any, schema: dict[str, Any], top: bool) -> None:
    if isinstance(value, dict):
        for key in list(value):
            if top and key == "metadata":
                continue
            child_schema = _child_schema(schema, key)
            if child_schema is None:
                del value[key]
            else:
                _prune(value[key], child_schema, top=False)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _prune(item, schema["items"], top=False)


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    """Drop fields the schema does not declare, in place."""
    _prune(obj, schema, top=True)


def apply_defaults(value: Any, schema: dict[str, Any]) -> None:
    """Fill in ``default`` values of absent properties, in place (as the API server does)."""
    if isinstance(value, dict):
        for key, child_schema in (schema.get("properties") or {}).items():
            if key not in value and "default" in child_schema:
                value[key] = copy.deepcopy(child_schema["default"])
            if key in value:
                apply_defaults(value[key], child_schema)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


def _field_path(parts: Any) -> str:
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _cause(error: jsonschema.ValidationError) -> FieldCause:
    """Render a jsonschema error the way the API server renders the same OpenAPI failure."""
    path = _field_path(error.absolute_path)
    value = error.instance
    shown = json.dumps(value) if not isinstance(value, dict | list) else f'"{type(value).__name__}"'
    rule = error.validator
    expected = error.validator_value
    if rule == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        field = f"{path}.{missing[0]}" if path and missing else (missing[0] if missing else path)
        return FieldCause(field, "Required value", "FieldValueRequired")
    if rule == "enum":
        supported = ", ".join(json.dumps(option) for option in expected)
        return FieldCause(
            path,
            f"Unsupported value: {shown}: supported values: {supported}",
            "FieldValueNotSupported",
        )
    if rule == "type":
        message = f"{path} in body must be of type {expected}: {shown}"
    elif rule == "maximum":
        message = f"{path} in body should be less than or equal to {expected}"
    elif rule == "minimum":
        message = f"{path} in body should be greater than or equal to {expected}"
    elif rule == "pattern":
        message = f"{path} in body should match '{expected}'"
    elif rule == "maxItems":
        return FieldCause(
            path,
            f"Too many: {len(value)}: must have at most {expected} items",
            "FieldValueTooMany",
        )
    elif rule == "minItems":
        message = f"{path} in body should have at least {expected} items"
    elif rule == "maxLength":
        return FieldCause(
            path, f"Too long: may not be more than {expected} bytes", "FieldValueTooLong"
        )
    else:
        message = error.message
    return FieldCause(path, f"Invalid value: {shown}: {message}")


def _cluster_queue_rules(obj: dict[str, Any]) -> list[FieldCause]:
    """The ClusterQueue CRD's CEL rules (x-kubernetes-validations), translated by hand."""
    causes: list[FieldCause] = []
    spec = obj.get("spec") or {}
    preemption = spec.get("preemption") or {}
    borrow = preemption.get("borrowWithinCohort")
    if (
        preemption.get("reclaimWithinCohort") == "Never"
        and borrow is not None
        and borrow.get("policy") != "Never"
    ):
        causes.append(
            FieldCause(
                "spec.preemption",
                'Invalid value: "object": reclaimWithinCohort=Never and '
                "borrowWithinCohort.Policy!=Never",
            )
        )
    groups = spec.get("resourceGroups") or []
    for index, group in enumerate(groups):
        covered = len(group.get("coveredResources") or [])
        if any(
            len(flavor.get("resources") or []) != covered for flavor in group.get("flavors", [])
        ):
            causes.append(
                FieldCause(
                    f"spec.resourceGroups[{index}]",
                    'Invalid value: "object": flavors must have the same number of resources '
                    "as the coveredResources",
                )
            )
    if "cohort" not in spec:
        for group in groups:
            for flavor in group.get("flavors") or []:
                if any("borrowingLimit" in res for res in flavor.get("resources") or []):
                    causes.append(
                        FieldCause(
                            "spec",
                            'Invalid value: "object": borrowingLimit must be nil when cohort '
                            "is empty",
                        )
                    )
                    return causes
    return causes


def validate(rt: ResourceType, obj: dict[str, Any]) -> list[FieldCause]:
    """Schema (and CEL-equivalent) failures of a custom object; empty when it is valid."""
    schema = schema_for(rt)
    if schema is None:
        return []
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda err: _field_path(err.absolute_path))
    causes = [_cause(error) for error in errors]
    if rt == resources.CLUSTER_QUEUES:
        causes.extend(_cluster_queue_rules(obj))
    return causes
