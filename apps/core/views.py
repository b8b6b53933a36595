"""Home page, operations (with live status), health check, and the error pages."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_POST

from apps.accounts.models import Team
from apps.accounts.roles import is_operator, is_platform_lead
from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.choices import OperationStatus
from apps.core.errors import DomainError
from apps.core.http import AuthedHttpRequest
from apps.core.middleware import NulCharacter
from apps.core.models import Operation
from apps.core.nav import APPROVAL_SOURCES, OPEN_REQUEST_SOURCES

log = logging.getLogger(__name__)


@login_required
def home(request: AuthedHttpRequest) -> HttpResponse:
    """The user's teams, their open requests and — for leads — what awaits approval."""
    user = request.user
    teams = Team.objects.of_user(user).prefetch_related("memberships__user")
    my_open_ops = Operation.objects.filter(created_by=user).active().select_related("team")[:10]
    open_requests = [row for source in OPEN_REQUEST_SOURCES if (row := source(user))]
    awaiting = (
        [row for source in APPROVAL_SOURCES if (row := source(user))]
        if is_platform_lead(user)
        else []
    )
    recent = AuditEvent.objects.visible_to(user).select_related("team")[:10]
    return render(
        request,
        "core/home.html",
        {
            "teams": teams,
            "open_operations": my_open_ops,
            "open_requests": open_requests,
            "awaiting": awaiting,
            "is_lead": is_platform_lead(user),
            "recent_events": recent,
        },
    )


@login_required
def operation_list(request: AuthedHttpRequest) -> HttpResponse:
    """Operations the user may see, newest first, filterable by status and kind."""
    ops = Operation.objects.visible_to(request.user).select_related("team", "created_by")
    status = request.GET.get("status", "")
    if status in OperationStatus.values:
        ops = ops.filter(status=status)
    kind = request.GET.get("kind", "")
    if kind:
        ops = ops.filter(kind=kind)
    page = Paginator(ops, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "query": params.urlencode(),
        "page": page,
        "statuses": OperationStatus.choices,
        "status": status,
        "kind": kind,
        "can_check_health": request.user.is_authenticated,
    }
    if request.htmx:
        return render(request, "core/htmx/operation_table.html", context)
    return render(request, "core/operation_list.html", context)


@login_required
def operation_detail(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    op = get_object_or_404(
        Operation.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk
    )
    context = {"op": op, "can_retry": _can_retry(request.user, op)}
    if request.htmx:
        return render(request, "core/htmx/operation_status.html", context)
    return render(request, "core/operation_detail.html", context)


@login_required
@require_POST
def operation_retry(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    op = get_object_or_404(Operation.objects.visible_to(request.user), pk=pk)
    try:
        op = services.retry_operation(op, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    if request.htmx:
        return render(
            request,
            "core/htmx/operation_status.html",
            {"op": op, "can_retry": _can_retry(request.user, op)},
        )
    return redirect("operation-detail", pk=op.pk)


@login_required
@require_POST
def run_health_check(request: AuthedHttpRequest) -> HttpResponse:
    """Queue a health-check operation: web → broker → worker → database and back."""
    op = services.create_operation(kind="core.health_check", actor=request.user)
    return redirect("operation-detail", pk=op.pk)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness/readiness for Kubernetes probes: the process answers and the DB does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        log.error("healthz: database unreachable: %s", exc)
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers (and the admin pages) ask for /favicon.ico; send them to the static icon.

    Resolved per request: the hashed static name exists only once collectstatic has run.
    """
    return redirect(static("img/favicon.svg"), permanent=True)


def _can_retry(user: Any, op: Operation) -> bool:
    return op.can_retry and (is_operator(user) or is_platform_lead(user))


# --- Error pages: JSON under /api/, the portal's look elsewhere -----------------------


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        code = {400: "bad_request", 403: "permission_denied", 404: "not_found"}
        return JsonResponse(
            {"detail": message, "code": code.get(status, "server_error")}, status=status
        )
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "message": message},
        status=status,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, NulCharacter):
        return _error(request, 400, "Bad request", str(exception))
    return _error(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Not allowed", "You do not have permission to see this page.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Page not found", "There is nothing at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    # No context processors: the error may have come from the database or a template.
    from django.template import loader

    template = loader.get_template("errors/500.html")
    return HttpResponse(template.render({}), status=500)
