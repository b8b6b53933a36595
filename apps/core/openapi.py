"""The OpenAPI schema: drf-spectacular's, plus the JSON error bodies each call can return.

drf-spectacular documents the success response only. Every Tarmac API call can also answer
with the error body of ``apps.core.api_base.exception_handler``. A client generated from
the schema must know those statuses and their shape, so each operation lists the ones
it can return:

- 401 and 403: every operation that needs a signed-in caller (all of /api/v1/).
- 404: every operation with an object in its path, and every list (an unknown page).
- 400: every operation that takes a body, and every list (its filters and page
  parameters are checked).
- 409: every operation that takes a body (another caller changed the object first,
  or it already exists).

An explicit ``@extend_schema(responses={...})`` entry for a status wins over these.
"""

from __future__ import annotations

from typing import Any

import uritemplate
from drf_spectacular import openapi
from rest_framework import permissions, serializers

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: see `errors` for the fields",
    "401": "No valid token or session",
    "403": "Signed in, but not allowed to do this",
    "404": "No such object, or not one you may see",
    "409": "The object changed first, or already exists",
}


class ErrorOut(serializers.Serializer):
    """The body of every 4xx answer (see ``apps.core.api_base.exception_handler``)."""

    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. not_found.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field named like the attribute
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages by input field, for invalid input.",
    )


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, with each operation's error responses added."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        bodies: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self.error_statuses():
            if code not in bodies:
                bodies[code] = self._get_response_for_code(ErrorOut, code, direction=direction)
                bodies[code]["description"] = ERROR_DESCRIPTIONS[code]
        return bodies

    def error_statuses(self) -> list[str]:
        codes = []
        is_list = self.method == "GET" and self._is_list_view()
        if self.method in BODY_METHODS or is_list:
            codes.append("400")
        if not self._allows_anyone():
            codes += ["401", "403"]
        if uritemplate.variables(self.path) or is_list:
            codes.append("404")
        if self.method in BODY_METHODS:
            codes.append("409")
        return codes

    def _allows_anyone(self) -> bool:
        return any(
            isinstance(permission, permissions.AllowAny)
            for permission in self.view.get_permissions()
        )
