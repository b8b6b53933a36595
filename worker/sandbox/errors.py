"""API errors as the API server reports them: a ``Status`` object with reason and details.

The messages follow the real API server's wording so that code which shows
"the API's message" to a user shows the same text against the sandbox and a cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from worker.sandbox.resources import ResourceType


@dataclass
class FieldCause:
    """One field-level problem of a 422 Invalid response."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_dict(self) -> dict[str, str]:
        """The cause as it appears in ``Status.details.causes``."""
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class ApiError(Exception):
    """An error response: HTTP code, Status reason, message and details."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        """The ``Status`` body sent to the client."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


def _details(rt: ResourceType, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": rt.plural}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    """404: ``resourcequotas "x" not found``."""
    return ApiError(404, "NotFound", f'{rt.qualified_name} "{name}" not found', _details(rt, name))


def namespace_not_found(namespace: str) -> ApiError:
    """404 for a namespaced create in a namespace that does not exist."""
    return ApiError(
        404,
        "NotFound",
        f'namespaces "{namespace}" not found',
        {"name": namespace, "kind": "namespaces"},
    )


def already_exists(rt: ResourceType, name: str) -> ApiError:
    """409: ``resourcequotas "x" already exists``."""
    return ApiError(
        409, "AlreadyExists", f'{rt.qualified_name} "{name}" already exists', _details(rt, name)
    )


def conflict(rt: ResourceType, name: str) -> ApiError:
    """409: the optimistic-concurrency failure on a stale ``resourceVersion``."""
    message = (
        f'Operation cannot be fulfilled on {rt.qualified_name} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(rt, name))


def apply_conflict(rt: ResourceType, name: str, conflicts: list[tuple[str, str]]) -> ApiError:
    """409 from server-side apply without ``force`` when another manager owns a field."""
    lines = [f'conflict with "{manager}": {path}' for manager, path in conflicts]
    count = len(conflicts)
    plural = "conflict" if count == 1 else "conflicts"
    message = f"Apply failed with {count} {plural}: " + "\n".join(lines)
    causes = [
        {"reason": "FieldManagerConflict", "message": line, "field": path}
        for line, (_, path) in zip(lines, conflicts, strict=True)
    ]
    return ApiError(409, "Conflict", message, {**_details(rt, name), "causes": causes})


def invalid(rt: ResourceType, name: str, causes: list[FieldCause]) -> ApiError:
    """422: ``ResourceQuota "x" is invalid: spec.hard[...]: Invalid value: ...``."""
    if len(causes) == 1:
        summary = str(causes[0])
    else:
        summary = "[" + ", ".join(str(cause) for cause in causes) + "]"
    details: dict[str, Any] = {"name": name, "kind": rt.kind, "causes": []}
    if rt.group:
        details["group"] = rt.group
    details["causes"] = [cause.to_dict() for cause in causes]
    return ApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    """400 BadRequest with a free-form message."""
    return ApiError(400, "BadRequest", message)


def cannot_decode(rt: ResourceType, reason: str) -> ApiError:
    """400 for a body the server cannot decode into the type (bad quantity, unknown field)."""
    return bad_request(
        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {reason}'
    )


def forbidden(
    rt_name: str,
    group: str,
    verb: str,
    name: str | None,
    namespace: str | None,
    user: str,
) -> ApiError:
    """403 with the RBAC authorizer's wording."""
    qualified = f"{rt_name}.{group}" if group else rt_name
    subject = f'{qualified} "{name}"' if name else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{rt_name}" '
        f'in API group "{group}" {scope}'
    )
    details: dict[str, Any] = {"kind": rt_name}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return ApiError(403, "Forbidden", message, details)


def unauthorized() -> ApiError:
    """401 for a missing or wrong bearer token."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def path_not_found() -> ApiError:
    """404 for a URL the server does not serve."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(method: str, rt: ResourceType) -> ApiError:
    """405 for a verb the resource does not support in the sandbox."""
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} {rt.plural})",
        {"kind": rt.plural, **({"group": rt.group} if rt.group else {})},
    )


def unsupported_media_type(content_type: str) -> ApiError:
    """415 for a PATCH whose content type is not a patch type the server knows."""
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml; got {content_type!r}"
    )
    return ApiError(415, "UnsupportedMediaType", message)


def status_body(error: ApiError) -> bytes:
    """The JSON bytes of an error's Status object."""
    return json.dumps(error.to_status()).encode()
