"""The audit log page: filterable, keyset-paginated, read-only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent
from apps.audit.pagination import keyset_page
from apps.core.http import AuthedHttpRequest

PAGE_SIZE = 50


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
def event_list(request: AuthedHttpRequest) -> HttpResponse:
    base = AuditEvent.objects.visible_to(request.user).select_related("team")
    filterset = AuditEventFilter(request.GET or None, queryset=base)
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    if filterset.is_bound and not filterset.is_valid():
        queryset = base.none()
    page = keyset_page(
        queryset,
        before=_int_or_none(request.GET.get("before")),
        after=_int_or_none(request.GET.get("after")),
        size=PAGE_SIZE,
    )
    params = request.GET.copy()
    for key in ("before", "after"):
        params.pop(key, None)
    context = {"filter": filterset, "page": page, "query": params.urlencode()}
    template = "audit/htmx/event_table.html" if request.htmx else "audit/event_list.html"
    return render(request, template, context)


@login_required
def event_detail(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(
        AuditEvent.objects.visible_to(request.user).select_related("team", "actor"), pk=pk
    )
    return render(request, "audit/event_detail.html", {"event": event})
