"""The Clusters page (GPU inventory of every cluster, refreshed by htmx) and a cluster's page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from apps.clusters import services
from apps.clusters.charts import capacity_history_chart
from apps.clusters.inventory import (
    NamespaceRef,
    cluster_cards,
    drifted_namespaces,
    granted_gpus,
)
from apps.clusters.models import Cluster, GpuNode, GpuUsageHour, NamespaceGpuUsage, TeamNamespace
from apps.core.errors import DomainError, NotAllowed
from apps.core.models import Operation


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


HISTORY_DAYS = 7
NODES_PER_PAGE = 50
RECENT_OPERATIONS = 10


@login_required
def cluster_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every active cluster: health, GPUs per product (allocatable, requested, under quota),
    nodes and team namespaces. An htmx request gets only the table fragment (polled)."""
    granted = granted_gpus()
    cards = cluster_cards(
        Cluster.objects.visible_to(request.user), granted=granted, drifted=drifted_namespaces()
    )
    context = {
        "cards": cards,
        "grants_known": granted is not None,
        "refreshed_at": timezone.now(),
    }
    if request.htmx:
        return render(request, "clusters/htmx/cluster_table.html", context)
    return render(request, "clusters/cluster_list.html", context)


@login_required
def cluster_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """One cluster: GPUs, hourly history (chart and table), namespaces, nodes, operations."""
    cluster = get_object_or_404(Cluster.objects.visible_to(request.user), name=name)
    granted = granted_gpus()
    card = cluster_cards(
        Cluster.objects.filter(pk=cluster.pk),
        granted=granted,
        drifted=drifted_namespaces(cluster.pk),
    )[0]
    products = [row.product for row in card.products]
    product = request.GET.get("product", "")
    if product not in products:
        product = ""

    nodes = GpuNode.objects.filter(cluster=cluster).order_by("name")
    if product:
        nodes = nodes.filter(gpu_product=product)
    page = Paginator(nodes, NODES_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)

    history = _history(cluster, product)
    title = f"{product or 'All GPUs'} on {cluster.name}, last {HISTORY_DAYS} days (hourly)"
    can_manage = services.can_manage_clusters(request.user)
    context = {
        "cluster": cluster,
        "card": card,
        "grants_known": granted is not None,
        "products": products,
        "product": product,
        "page": page,
        "query": params.urlencode(),
        "history": history,
        "chart": capacity_history_chart(history, title=title),
        "history_days": HISTORY_DAYS,
        "usage_rows": _usage_rows(cluster, card.namespaces),
        "operations": _operations(request.user, cluster, card.namespaces),
        "can_manage": can_manage,
    }
    return render(request, "clusters/cluster_detail.html", context)


def _history(cluster: Cluster, product: str) -> list[tuple[Any, int, int]]:
    """(hour, allocatable, requested) of the cluster's totals over the last days."""
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    rows = GpuUsageHour.objects.filter(cluster=cluster, namespace="", hour__gte=since)
    if product:
        rows = rows.filter(gpu_product=product)
    totals = (
        rows.values("hour")
        .annotate(total_allocatable=Sum("allocatable"), total_requested=Sum("requested"))
        .order_by("hour")
    )
    return [
        (row["hour"], int(row["total_allocatable"] or 0), int(row["total_requested"] or 0))
        for row in totals
    ]


def _usage_rows(cluster: Cluster, namespaces: list[NamespaceRef]) -> list[dict[str, Any]]:
    """Requested GPUs per namespace and product; team namespaces without pods show 0."""
    teams = {tns.name: tns for tns in namespaces}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for usage in NamespaceGpuUsage.objects.filter(cluster=cluster).order_by(
        "namespace", "gpu_product"
    ):
        seen.add(usage.namespace)
        rows.append(
            {
                "namespace": usage.namespace,
                "tns": teams.get(usage.namespace),
                "product": usage.gpu_product,
                "pods": usage.pods,
                "requested": usage.requested,
            }
        )
    rows.extend(
        {"namespace": name, "tns": tns, "product": "", "pods": 0, "requested": 0}
        for name, tns in teams.items()
        if name not in seen
    )
    rows.sort(key=lambda row: (row["namespace"], row["product"]))
    return rows


def _operations(user: Any, cluster: Cluster, namespaces: list[NamespaceRef]) -> Any:
    """The latest operations on the cluster and its team namespaces the user may see."""
    targets = Q(target_type="clusters.cluster", target_id=str(cluster.pk))
    if namespaces:
        targets |= Q(
            target_type="clusters.teamnamespace", target_id__in=[str(t.pk) for t in namespaces]
        )
    return (
        Operation.objects.visible_to(user)
        .filter(targets)
        .select_related("created_by")
        .order_by("-id")[:RECENT_OPERATIONS]
    )


def _queued(
    request: HtmxHttpRequest, name: str, act: Callable[[Any], Operation], what: str
) -> HttpResponse:
    """Run a request service; show the Operation's live status (htmx) or its page."""
    try:
        op = act(request.user)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        if request.htmx:  # htmx swaps only 2xx answers: the fragment is the answer
            return render(request, "clusters/htmx/action_error.html", {"message": exc.message})
        messages.error(request, exc.message)
        return redirect("clusters:detail", name=name)
    if request.htmx:
        return render(request, "core/htmx/operation_status.html", {"op": op, "can_retry": False})
    messages.success(request, f"{what} queued as operation #{op.pk}.")
    return redirect("operation-detail", pk=op.pk)


@login_required
@require_POST
def cluster_sync(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """ "Sync now" (operators and platform leads)."""
    cluster = get_object_or_404(Cluster.objects.visible_to(request.user), name=name)
    return _queued(
        request,
        name,
        lambda user: services.request_inventory_sync(cluster, actor=user),
        "Inventory sync",
    )


@login_required
@require_POST
def cluster_test_connection(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """ "Test connection" (operators and platform leads)."""
    cluster = get_object_or_404(Cluster.objects.visible_to(request.user), name=name)
    return _queued(
        request,
        name,
        lambda user: services.test_connection(cluster, actor=user),
        "Connection test",
    )


@login_required
@require_POST
def namespace_ensure(request: HtmxHttpRequest, name: str, pk: int) -> HttpResponse:
    """Create a team namespace on its cluster (operators and platform leads)."""
    tns = get_object_or_404(
        TeamNamespace.objects.visible_to(request.user).select_related("cluster", "team"),
        pk=pk,
        cluster__name=name,
    )
    return _queued(
        request,
        name,
        lambda user: services.ensure_team_namespace(tns, actor=user),
        f"Creating namespace {tns.name}",
    )
