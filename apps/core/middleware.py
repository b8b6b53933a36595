"""Portal middleware: the request id, NUL-free input, and the admin console for operators."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

from apps.core.request_context import reset_request_id, set_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Tags the request, its log lines, its audit events and its response with one id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class NulCharacter(BadRequest):
    """The request carries a NUL character; its message is shown to the sender."""


NUL_MESSAGE = (
    "The request contains a NUL character (\\0), which Tarmac cannot store. "
    "Remove it and send the request again."
)


class RejectNulCharactersMiddleware:
    """A NUL character in the path, the query or the body is a 400 with a clear message.

    PostgreSQL text cannot hold NUL, so such a value would fail in the database (a 500)
    wherever a view filters or saves it. No Tarmac input has a use for one, so it is
    refused once, here, before any view sees it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            "\x00" in request.path
            or "%00" in request.META.get("QUERY_STRING", "")
            or (request.method in {"POST", "PUT", "PATCH"} and _body_has_nul(request))
        ):
            from apps.core.views import bad_request  # the portal's 400, also under DEBUG

            return bad_request(request, NulCharacter(NUL_MESSAGE))
        return self.get_response(request)


def _body_has_nul(request: HttpRequest) -> bool:
    if request.content_type == "multipart/form-data":  # files may be large: parsed fields only
        return any("\x00" in value for value in request.POST.values())
    body = request.body
    if request.content_type == "application/x-www-form-urlencoded":
        return b"%00" in body
    return b"\x00" in body or b"\\u0000" in body  # JSON writes NUL as \u0000


class AdminOperatorsOnlyMiddleware:
    """A signed-in user who is not an operator gets 403 on the admin console, rather than
    the admin's login form (which would suggest they merely need another password)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.path.startswith("/admin/")
            and user is not None
            and user.is_authenticated
            and not (user.is_active and user.is_staff)
        ):
            from apps.core.views import permission_denied

            return permission_denied(request)
        return self.get_response(request)
