"""Quota pages: the request form (with the team's position beside it), the approval
queue with inline decisions, a request's live status, and the team quota page.

Every view fetches through ``QuotaRequest.objects.visible_to`` (a request of another
team is a 404) and changes state only through services.py. An htmx request gets the
fragment that changed; a plain POST redirects with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import now as tz_now
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from apps.accounts.models import Team
from apps.accounts.roles import is_member, is_operator, is_platform_lead, team_ids_of
from apps.audit.models import AuditEvent
from apps.clusters.models import Cluster, TeamNamespace
from apps.core.errors import DomainError, NotAllowed
from apps.quotas import charts, selectors, services
from apps.quotas.choices import QuotaStatus
from apps.quotas.filters import AGES, SORTS, STATUS_CHOICES, QueueFilters
from apps.quotas.forms import ApproveForm, OptionalReasonForm, QuotaRequestForm, ReasonForm
from apps.quotas.models import QuotaRequest

PAGE_SIZE = 25
# What a queue row shows; the rest of these wide rows is not read for the queue. (A new
# field in request_row.html belongs here too: the query-count tests catch a miss.)
ROW_FIELDS = (
    "id",
    "team_id",
    "cluster_id",
    "namespace_id",
    "gpu_product",
    "gpus",
    "granted_gpus",
    "starts_on",
    "ends_on",
    "status",
    "requested_by_id",
    "auto_approved",
    "failure_message",
    "created_at",
    "team__slug",
    "team__name",
    "cluster__name",
    "namespace__name",
    "namespace__quota_state__drifted_at",
    "requested_by__username",
)


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


def _requests(user: Any) -> Any:
    """The requests ``user`` may see, with what a queue row shows.

    Four joins at most: PostgreSQL's planner spends tens of milliseconds on a nine-way
    join, more than the query itself; the people and the operation of a request page
    come in separate small queries instead (``_with_details``).
    """
    return QuotaRequest.objects.visible_to(user).select_related(
        "team", "cluster", "namespace__quota_state", "requested_by"
    )


def _with_details(qs: Any) -> Any:
    return qs.prefetch_related("decided_by", "ended_by", "apply_operation")


def _get(request: HttpRequest, pk: int) -> QuotaRequest:
    return get_object_or_404(_with_details(_requests(request.user)), pk=pk)


def _decorate(user: Any, rows: list[QuotaRequest], *, free: dict[Any, int]) -> None:
    """Attach what the templates ask of each row (no queries).

    A row's URLs are built from the list's own prefix (one ``reverse`` per page, not
    four per row) following this app's urls.py.
    """
    manage = services.can_manage_grants(user)
    prefix = reverse("quotas:request-list")
    now = tz_now()
    for r in rows:
        r.url = f"{prefix}{r.pk}/"  # type: ignore[attr-defined]
        r.age = _age(now - r.created_at)  # type: ignore[attr-defined]
        r.can_decide = services.can_decide(user, r)  # type: ignore[attr-defined]
        r.can_cancel = services.can_cancel(user, r)  # type: ignore[attr-defined]
        r.can_retry = r.status == QuotaStatus.FAILED and manage  # type: ignore[attr-defined]
        r.can_revoke = manage and QuotaStatus.REVOKED in _next(r)  # type: ignore[attr-defined]
        r.free_gpus = free.get((r.cluster_id, r.gpu_product))  # type: ignore[attr-defined]
        r.drifted = _drifted(r)  # type: ignore[attr-defined]


def _age(delta: Any) -> str:
    """A short, plain age: "3 d", "5 h", "12 min"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400} d"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _options(pairs: Any, *, selected: str) -> SafeString:
    """``<option>`` elements for (value, label) pairs, escaped."""
    return mark_safe(  # every value is escaped here
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
            f"{escape(label)}</option>"
            for value, label in pairs
        )
    )


def _next(req: QuotaRequest) -> frozenset[str]:
    from apps.quotas.choices import QUOTA_TRANSITIONS

    return QUOTA_TRANSITIONS[req.status]


def _drifted(req: QuotaRequest) -> bool:
    if req.status != QuotaStatus.ACTIVE:
        return False
    state = getattr(req.namespace, "quota_state", None)
    return bool(state is not None and state.drifted_at is not None)


# --- the queue -------------------------------------------------------------------------


@login_required
@require_GET
def request_list(request: HtmxHttpRequest) -> HttpResponse:
    """The approval queue for leads (submitted first, oldest first) and every team's
    requests for its members: filter, sort, paginate; leads decide inline."""
    user = request.user
    lead = is_platform_lead(user)
    filters = QueueFilters.from_query(request.GET, default_status="submitted" if lead else "any")
    qs = filters.apply(_requests(user), user=user).only(*ROW_FIELDS)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    free = selectors.free_by_cluster_product(
        {(r.cluster_id, r.gpu_product) for r in rows if r.status == QuotaStatus.SUBMITTED}
    )
    _decorate(user, rows, free=free)
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "query": params.urlencode(),
        "is_lead": lead,
        "list_url": request.get_full_path(),
    }
    if request.htmx and request.htmx.target == "request-table":
        return render(request, "quotas/htmx/request_table.html", context)
    everyone = lead or is_operator(user)
    teams = Team.objects.all() if everyone else Team.objects.filter(pk__in=team_ids_of(user))
    context.update(
        {
            # Built here, not in the template: 200 teams cost the template ~2,000 lookups.
            "team_options": _options(
                teams.order_by("slug").values_list("slug", "name"), selected=filters.team
            ),
            "clusters": list(Cluster.objects.order_by("name").values_list("name", flat=True)),
            "products": selectors.all_products(),
            "statuses": STATUS_CHOICES,
            "ages": AGES,
            "sorts": SORTS,
            "my_teams": list(
                Team.objects.filter(pk__in=team_ids_of(user))
                .order_by("slug")
                .values_list("slug", "name")
            ),
        }
    )
    return render(request, "quotas/request_list.html", context)


@login_required
@require_GET
def request_row(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One queue row (it polls itself while the grant is being applied)."""
    return _row(request, _get(request, pk))


def _row(
    request: HttpRequest, req: QuotaRequest, *, error: str = "", notice: str = ""
) -> HttpResponse:
    free = selectors.free_by_cluster_product([(req.cluster_id, req.gpu_product)])
    _decorate(request.user, [req], free=free)
    return render(
        request,
        "quotas/htmx/request_row.html",
        {
            "r": req,
            "error": error,
            "notice": notice,
            "is_lead": is_platform_lead(request.user),
            "list_url": reverse("quotas:request-list"),
        },
    )


# --- one request -----------------------------------------------------------------------


@login_required
@require_GET
def request_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A request: what was asked, decided and applied, its live status and its history."""
    req = _get(request, pk)
    if request.htmx:
        return _status(request, req)
    _decorate(request.user, [req], free={})
    events = AuditEvent.objects.filter(
        target_type="quotas.quotarequest", target_id=str(req.pk)
    ).order_by("id")[:50]
    cap = selectors.capacity(req.cluster, req.gpu_product)
    return render(
        request,
        "quotas/request_detail.html",
        {
            "req": req,
            "events": events,
            "capacity": cap,
            **_status_context(request, req),
        },
    )


@login_required
@require_GET
def request_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The live status panel of a request page. The page polls it with the state it
    shows (``seen``); while nothing changed the answer is 204 and htmx swaps nothing,
    so a half-typed reason in the panel's forms is never wiped."""
    req = _get(request, pk)
    if request.GET.get("seen") == _fingerprint(req):
        return HttpResponse(status=204)
    return _status(request, req)


def _fingerprint(req: QuotaRequest) -> str:
    """What the status panel shows that can change without the viewer acting."""
    op = req.apply_operation
    op_part = f"{op.pk}.{op.status}.{op.attempts}" if op is not None else "-"
    return f"{req.status}:{op_part}:{int(_drifted(req))}"


def _poll_every(req: QuotaRequest) -> str:
    """How often the panel asks for news: every second while applying, every few
    seconds while a decision or a start date is awaited, never once settled."""
    if req.status == QuotaStatus.APPLYING:
        return "1s"
    if req.status in (QuotaStatus.SUBMITTED, QuotaStatus.APPROVED, QuotaStatus.FAILED):
        return "3s"
    return ""


def _status_context(
    request: HttpRequest, req: QuotaRequest, *, error: str = "", notice: str = ""
) -> dict[str, Any]:
    _decorate(request.user, [req], free={})
    return {
        "req": req,
        "op": req.apply_operation,
        "error": error,
        "notice": notice,
        "poll_every": _poll_every(req),
        "fingerprint": _fingerprint(req),
        "approve_form": ApproveForm(initial={"granted_gpus": req.gpus}),
    }


def _status(
    request: HttpRequest, req: QuotaRequest, *, error: str = "", notice: str = ""
) -> HttpResponse:
    return render(
        request,
        "quotas/htmx/request_status.html",
        _status_context(request, req, error=error, notice=notice),
    )


# --- actions ---------------------------------------------------------------------------


def _act(
    request: HtmxHttpRequest,
    pk: int,
    form_class: type,
    action: Callable[[QuotaRequest, dict[str, Any]], QuotaRequest],
    done: str,
) -> HttpResponse:
    """Run one decision; answer with the fragment the htmx form targets, or redirect."""
    req = _get(request, pk)
    form = form_class(request.POST)
    error = ""
    forbidden = False
    if form.is_valid():
        try:
            req = action(req, form.cleaned_data)
        except NotAllowed as exc:
            error, forbidden = exc.message, True
        except DomainError as exc:
            error = exc.message
    else:
        error = " ".join(str(m) for messages_ in form.errors.values() for m in messages_)
    req = _get(request, pk)  # fresh, with its operation
    notice = "" if error else done.format(req=req)
    if request.htmx:
        target = request.htmx.target or ""
        if target.startswith("request-row-"):
            return _row(request, req, error=error, notice=notice)
        return _status(request, req, error=error, notice=notice)
    if forbidden:
        raise PermissionDenied(error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(_next_url(request, req))


def _next_url(request: HttpRequest, req: QuotaRequest) -> str:
    """The page the form came from (a path on this site), else the request's page.

    Only a path that starts with "/" is taken: ``redirect`` would look up any other word
    as a URL name.
    """
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return reverse("quotas:request-detail", args=[req.pk])


@login_required
@require_POST
def request_approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        ApproveForm,
        lambda req, data: services.approve_request(
            req, actor=request.user, granted_gpus=data["granted_gpus"], reason=data["reason"]
        ),
        "Approved #{req.pk}: {req.granted_gpus} x {req.gpu_product} for {req.team.slug}.",
    )


@login_required
@require_POST
def request_reject(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        ReasonForm,
        lambda req, data: services.reject_request(req, actor=request.user, reason=data["reason"]),
        "Rejected #{req.pk}.",
    )


@login_required
@require_POST
def request_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        OptionalReasonForm,
        lambda req, data: services.cancel_request(req, actor=request.user, reason=data["reason"]),
        "Cancelled #{req.pk}.",
    )


@login_required
@require_POST
def request_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        ReasonForm,
        lambda req, data: services.revoke_request(req, actor=request.user, reason=data["reason"]),
        "Revoked #{req.pk}; the namespace's quota is being lowered.",
    )


@login_required
@require_POST
def request_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        OptionalReasonForm,
        lambda req, data: services.retry_request(req, actor=request.user, reason=data["reason"]),
        "Applying #{req.pk} again.",
    )


# --- the request form ------------------------------------------------------------------


@login_required
def request_new(request: HtmxHttpRequest) -> HttpResponse:
    """Ask for GPUs; beside the form, the team's position and the cluster's free GPUs."""
    user = request.user
    if request.method == "POST":
        form = QuotaRequestForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                req = services.submit_request(
                    actor=user,
                    team=data["team"],
                    cluster=data["cluster"],
                    namespace=data["namespace"],
                    gpu_product=data["gpu_product"],
                    gpus=data["gpus"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    justification=data["justification"],
                    submit_key=data["submit_key"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if req.auto_approved:
                    messages.success(
                        request, f"Request #{req.pk} was approved automatically and is applying."
                    )
                else:
                    messages.success(
                        request, f"Request #{req.pk} submitted; platform leads have been told."
                    )
                return redirect("quotas:request-detail", pk=req.pk)
        values = request.POST
    else:
        initial = {
            key: request.GET[key]
            for key in ("team", "cluster", "namespace", "gpu_product")
            if request.GET.get(key)
        }
        form = QuotaRequestForm(user=user, initial=initial)
        values = request.GET
    return render(
        request,
        "quotas/request_form.html",
        {"form": form, **_panel_context(user, values)},
    )


@login_required
@require_GET
def request_context(request: HtmxHttpRequest) -> HttpResponse:
    """The panel beside the form, for the chosen team, cluster and product."""
    return render(
        request, "quotas/htmx/capacity_panel.html", _panel_context(request.user, request.GET)
    )


def _panel_context(user: Any, values: Any) -> dict[str, Any]:
    team = _pick(Team.objects.all(), values.get("team"))
    if team is not None and not (is_operator(user) or is_member(user, team.pk)):
        team = None
    cluster = _pick(Cluster.objects.active(), values.get("cluster"))
    product = (values.get("gpu_product") or "").strip()
    context: dict[str, Any] = {"panel_team": team, "panel_cluster": cluster, "product": product}
    if cluster is not None:
        context["cluster_products"] = selectors.cluster_products(cluster)
        if team is not None:
            context["team_namespaces"] = list(
                TeamNamespace.objects.filter(team=team, cluster=cluster).values_list(
                    "name", flat=True
                )
            )
            context["rule"] = selectors.auto_approve_rule(team.pk, cluster.pk)
        if product and product in context["cluster_products"]:
            context["capacity"] = selectors.capacity(cluster, product)
            if team is not None:
                context["position"] = selectors.team_position(team.pk, cluster, product)
    return context


def _pick(queryset: Any, raw: Any) -> Any:
    try:
        return queryset.filter(pk=int(raw)).first() if raw else None
    except (TypeError, ValueError):
        return None


# --- team quota ------------------------------------------------------------------------


@login_required
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    """Teams with their GPUs granted and pending (one query)."""
    user = request.user
    teams = Team.objects.all()
    if not (is_platform_lead(user) or is_operator(user)):
        teams = teams.filter(pk__in=team_ids_of(user))
    teams = teams.annotate(
        granted=Sum("quota_requests__granted_gpus", filter=Q(quota_requests__status="active")),
        pending=Count(
            "quota_requests",
            filter=Q(quota_requests__status__in=["submitted", "approved", "applying"]),
        ),
    ).order_by("slug")
    page = Paginator(teams, 50).get_page(request.GET.get("page"))
    return render(request, "quotas/team_list.html", {"page": page, "query": ""})


@login_required
@require_GET
def team_quota(request: HttpRequest, slug: str) -> HttpResponse:
    """Per cluster and product: granted, in use, pending; the history as a chart and table."""
    user = request.user
    team = get_object_or_404(Team, slug=slug)
    if not (is_platform_lead(user) or is_operator(user) or is_member(user, team.pk)):
        raise Http404("No such team quota.")
    rows = selectors.team_quota_rows(team.pk)
    history = selectors.team_history(team.pk)
    grants = list(
        _requests(user)
        .filter(team=team, status__in=["active", "applying", "approved", "failed"])
        .order_by("ends_on", "id")[:100]
    )
    _decorate(user, grants, free={})
    return render(
        request,
        "quotas/team_quota.html",
        {
            "team": team,
            "rows": rows,
            "history": history,
            "chart": charts.history_chart(history),
            "grants": grants,
            "can_request": services.can_request(user, team.pk),
        },
    )
