"""Catalog pages: the faceted list, entity pages, ingest, locations, scorecards, export."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode, urlsplit

import plotly.graph_objects as go
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from apps.accounts.models import Team
from apps.accounts.roles import is_operator
from apps.catalog import services
from apps.catalog.choices import EntityKind
from apps.catalog.descriptors import InvalidDescriptorFile, find_placeholders
from apps.catalog.filters import SORT_CHOICES, EntityFilter
from apps.catalog.forms import IngestForm, LocationForm
from apps.catalog.graph import MAX_EXPANDED, build_graph
from apps.catalog.models import (
    AdoptionSnapshot,
    CatalogState,
    Entity,
    EntityTag,
    Location,
    Relation,
    ScorecardCheck,
    Star,
)
from apps.catalog.refs import canonical, from_canonical
from apps.core.errors import DomainError


class HtmxRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


def _user_id(request: HttpRequest) -> int:
    """The signed-in user's id (views here are all behind login_required)."""
    return int(request.user.pk or 0)


PAGE_SIZE = 25
FACET_LIMIT = 300
FACET_CACHE_SECONDS = 300
ENDPOINT_ANNOTATIONS = [
    ("tarmac.io/cluster", "Cluster"),
    ("tarmac.io/namespace", "Namespace"),
    ("serving.kserve.io/inferenceservice", "InferenceService"),
]


# --- List ---------------------------------------------------------------------------------


def facet_datalists() -> str:
    """The facet values as <datalist>s, rendered once per catalog version (one tiny query
    tells the version) rather than counted and rendered on every page view."""
    key = f"catalog-facets-v{CatalogState.current()}"
    html = cache.get(key)
    if html is None:
        html = render_to_string("catalog/facet_datalists.html", {"facets": _facet_counts()})
        cache.set(key, html, FACET_CACHE_SECONDS)
    return str(html)


def _facet_counts() -> dict[str, list[tuple[str, str, int]]]:
    """Values of each facet with their counts, as (value, label, count), for the datalists."""
    base = Entity.objects.order_by()

    def counts(field: str, *, ref: bool = False) -> list[tuple[str, str, int]]:
        rows = (
            base.exclude(**{field: ""})
            .values_list(field)
            .annotate(n=Count("id"))
            .order_by(field)[:FACET_LIMIT]
        )
        out = []
        for value, n in rows:
            label = from_canonical(value).short if ref else value
            out.append((label, label, n))
        return out

    tags = (
        EntityTag.objects.order_by()
        .values_list("tag")
        .annotate(n=Count("id"))
        .order_by("tag")[:FACET_LIMIT]
    )
    return {
        "type": counts("type"),
        "lifecycle": counts("lifecycle"),
        "owner": counts("owner_ref", ref=True),
        "system": counts("system_ref", ref=True),
        "namespace": counts("namespace"),
        "tag": [(t, t, n) for t, n in tags],
    }


def _filtered(request: HttpRequest) -> tuple[EntityFilter, QuerySet[Entity]]:
    base = Entity.objects.visible_to(request.user)
    filterset = EntityFilter(request.GET or None, queryset=base, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return filterset, base.none()
    return filterset, filterset.qs


@login_required
def entity_list(request: HtmxRequest) -> HttpResponse:
    """The catalog: facets, search, scope tabs, sorting and pages, all swapped by htmx."""
    filterset, entities = _filtered(request)
    entities = entities.select_related("owner_team").annotate(
        starred=Exists(Star.objects.filter(user_id=_user_id(request), entity=OuterRef("pk")))
    )
    page = Paginator(entities, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = params.copy()
    sort_params.pop("sort", None)
    current_sort = request.GET.get("sort") or "name"
    context: dict[str, Any] = {
        "filter": filterset,
        "page": page,
        "query": params.urlencode(),
        "export_query": params.urlencode(),
        "current_sort": current_sort,
        "sort_choices": SORT_CHOICES,
        "sort_links": {
            key.lstrip("-") + ("_desc" if key.startswith("-") else ""): "?"
            + urlencode([*sort_params.lists(), ("sort", [key])], doseq=True)
            for key, _ in SORT_CHOICES
        },
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "catalog/htmx/entity_results.html", context)
    context["facet_datalists"] = facet_datalists()
    context["kinds"] = EntityKind.choices
    return render(request, "catalog/entity_list.html", context)


@login_required
def export_list(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered set as one catalog-info.yaml (each document as it was ingested)."""
    _, entities = _filtered(request)
    rows = entities.only("raw_text", "descriptor").iterator(chunk_size=500)

    def documents() -> Any:
        first = True
        for entity in rows:
            text = services.export_yaml([entity])
            yield text if first else "---\n" + text
            first = False

    response = StreamingHttpResponse(documents(), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="catalog-info.yaml"'
    return response


# --- Entity -------------------------------------------------------------------------------


def _entity_or_404(request: HttpRequest, kind: str, namespace: str, name: str) -> Entity:
    ref = canonical(kind, namespace, name)
    return get_object_or_404(
        Entity.objects.visible_to(request.user).select_related(
            "owner_team", "source", "source__team", "source__location", "linked_user"
        ),
        ref=ref,
    )


SAFE_LINK_SCHEMES = ("http", "https", "mailto")


def _link(link: dict[str, Any]) -> dict[str, Any]:
    """A descriptor link for the page: only http(s) and mailto become clickable, so a
    ``javascript:`` URL in someone's descriptor never runs in a reader's browser."""
    url = str(link.get("url", ""))
    clickable = urlsplit(url).scheme.lower() in SAFE_LINK_SCHEMES
    return {**link, "url": url, "href": url if clickable else ""}


def _grouped(relations: list[Relation]) -> list[tuple[str, list[Relation]]]:
    groups: dict[str, list[Relation]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for rel in relations:
        if (rel.type, rel.target_ref) in seen:
            continue
        seen.add((rel.type, rel.target_ref))
        groups[rel.get_type_display()].append(rel)
    return sorted(groups.items())


def _graph_context(entity: Entity, graph: Any, expand: list[str]) -> dict[str, Any]:
    """The graph and, for each drawn neighbour, the query that toggles its expansion."""
    links = []
    for node in graph.neighbours:
        refs = [r for r in expand if r != node.ref] if node.expanded else [*expand, node.ref]
        if len(refs) <= MAX_EXPANDED:
            links.append((node, urlencode([("expand", r) for r in refs])))
    return {
        "graph": graph,
        "expand_links": links,
        "graph_url": reverse(
            "catalog:entity-graph",
            kwargs={
                "kind": entity.kind.lower(),
                "namespace": entity.namespace,
                "name": entity.name,
            },
        ),
    }


@login_required
def entity_detail(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    """Overview, links, annotations, relations (list and graph), scorecard, source, YAML."""
    entity = _entity_or_404(request, kind, namespace, name)
    relations = list(Relation.objects.of_ref(entity.ref).select_related("target_entity"))
    resolved = {(r.type, r.target_ref): r.target_entity for r in relations if r.target_entity}
    owner = resolved.get(("ownedBy", entity.owner_ref))
    definition = entity.spec.get("definition") if entity.kind == EntityKind.API else None
    context = {
        "entity": entity,
        "relation_groups": _grouped(relations),
        "unresolved": sum(1 for r in relations if r.target_entity_id is None),
        **_graph_context(entity, build_graph(entity, relations), []),
        "scorecard": services.scorecard_for(entity, relations),
        "starred": Star.objects.filter(user_id=_user_id(request), entity=entity).exists(),
        "can_edit": services.can_edit_entity(request.user, entity),
        "owner_entity": owner,
        "system_entity": resolved.get(("partOf", entity.system_ref)),
        "domain_entity": resolved.get(("partOf", entity.domain_ref)),
        "definition": definition if isinstance(definition, str) else None,
        "placeholders": [
            (".".join(str(p) for p in path), key, target)
            for path, key, target in find_placeholders(entity.descriptor.get("spec") or {})
        ],
        "endpoint": [
            (label, key, entity.annotations.get(key, "")) for key, label in ENDPOINT_ANNOTATIONS
        ]
        if entity.is_model_endpoint
        else None,
        "other_annotations": sorted(entity.annotations.items()),
        "links": [_link(link) for link in entity.links if isinstance(link, dict)],
        "export_url": reverse(
            "catalog:entity-export",
            kwargs={
                "kind": entity.kind.lower(),
                "namespace": entity.namespace,
                "name": entity.name,
            },
        ),
    }
    return render(request, "catalog/entity_detail.html", context)


@login_required
def entity_graph(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    """The graph fragment, with the neighbours of each ``expand`` ref drawn as well."""
    entity = _entity_or_404(request, kind, namespace, name)
    relations = list(Relation.objects.of_ref(entity.ref).select_related("target_entity"))
    expand = [ref.lower() for ref in request.GET.getlist("expand")][:MAX_EXPANDED]
    expanded: dict[str, list[Relation]] = {ref: [] for ref in expand}
    if expand:
        for rel in Relation.objects.filter(source_ref__in=expand).select_related("target_entity"):
            expanded[rel.source_ref].append(rel)
    graph = build_graph(entity, relations, expanded)
    context = {"entity": entity, **_graph_context(entity, graph, expand)}
    return render(request, "catalog/htmx/entity_graph.html", context)


@login_required
def entity_endpoint(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    """The live state of a model endpoint's InferenceService (loaded lazily by htmx)."""
    entity = _entity_or_404(request, kind, namespace, name)
    if not entity.is_model_endpoint:
        raise Http404("Only model-endpoint components point to an InferenceService.")
    return render(
        request,
        "catalog/htmx/endpoint_state.html",
        {"entity": entity, "live": services.read_endpoint_state(entity)},
    )


@login_required
def entity_export(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    entity = _entity_or_404(request, kind, namespace, name)
    response = HttpResponse(
        services.export_yaml([entity]), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="catalog-info.yaml"'
    return response


@login_required
@require_POST
def entity_star(request: HtmxRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    entity = _entity_or_404(request, kind, namespace, name)
    starred = services.toggle_star(entity, actor=request.user)
    if request.htmx:
        return render(
            request, "catalog/htmx/star_button.html", {"entity": entity, "starred": starred}
        )
    return redirect(entity)


@login_required
@require_POST
def entity_delete(request: HttpRequest, kind: str, namespace: str, name: str) -> HttpResponse:
    entity = _entity_or_404(request, kind, namespace, name)
    try:
        services.delete_entity(entity, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
        return redirect(entity)
    messages.success(request, f"Deleted {entity.display_ref}.")
    return redirect("catalog:entity-list")


# --- Ingest -------------------------------------------------------------------------------


def _teams_for(user: Any) -> QuerySet[Team]:
    return Team.objects.all() if is_operator(user) else Team.objects.of_user(user)


@login_required
def ingest(request: HttpRequest) -> HttpResponse:
    """Upload or paste descriptors; invalid files are listed by document, line and field."""
    teams = _teams_for(request.user)
    form = IngestForm(request.POST or None, request.FILES or None, teams=teams)
    result = None
    problems: list[Any] = []
    if request.method == "POST" and form.is_valid():
        try:
            result = services.ingest_text(
                form.cleaned_data["yaml"],
                actor=request.user,
                team=form.cleaned_data["team"],
                kind=form.cleaned_data["kind"],
                source_name=form.cleaned_data["source_name"],
            )
        except InvalidDescriptorFile as exc:
            problems = exc.problems
            form.add_error(None, exc.message)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(
        request,
        "catalog/ingest.html",
        {"form": form, "result": result, "problems": problems, "has_teams": teams.exists()},
    )


# --- Locations ----------------------------------------------------------------------------


@login_required
def location_list(request: HttpRequest) -> HttpResponse:
    """Registered locations with their last read; register a new one."""
    teams = _teams_for(request.user)
    form = LocationForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            location = services.register_location(
                form.cleaned_data["url"], actor=request.user, team=form.cleaned_data["team"]
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Registered {location.url}; it is being read now.")
            return redirect("catalog:location-list")
    rows = Location.objects.select_related("team", "created_by").annotate(
        entity_count=Count("sources__entities")
    )
    locations = [(loc, services.can_manage_location(request.user, loc)) for loc in rows]
    return render(
        request,
        "catalog/location_list.html",
        {"form": form, "locations": locations, "has_teams": teams.exists()},
    )


@login_required
@require_POST
def location_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    try:
        services.request_refresh(location, actor=request.user)
    except DomainError as exc:
        raise PermissionDenied(exc.message) from exc
    messages.success(request, f"Reading {location.url} now.")
    return redirect("catalog:location-list")


@login_required
@require_POST
def location_delete(request: HttpRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    try:
        orphaned = services.delete_location(location, actor=request.user)
    except DomainError as exc:
        raise PermissionDenied(exc.message) from exc
    messages.success(request, f"Unregistered {location.url}; {orphaned} entities are now orphaned.")
    return redirect("catalog:location-list")


# --- Scorecards ---------------------------------------------------------------------------


def _day_range(snapshots: list[AdoptionSnapshot]) -> dict[str, Any]:
    """A few days either side when there is a single day, so the axis reads as dates."""
    days = sorted({s.date for s in snapshots})
    if len(days) > 1:
        return {}
    pad = dt.timedelta(days=3)
    return {"range": [(days[0] - pad).isoformat(), (days[0] + pad).isoformat()], "dtick": 86400000}


def adoption_chart(snapshots: list[AdoptionSnapshot]) -> str:
    """Plotly lines of the bronze-or-better rate, overall and per team."""
    series: dict[str, list[AdoptionSnapshot]] = defaultdict(list)
    for snap in snapshots:
        series[snap.team.slug if snap.team else "overall"].append(snap)
    fig = go.Figure()
    for name in sorted(series, key=lambda s: (s != "overall", s)):
        points = series[name]
        fig.add_trace(
            go.Scatter(
                x=[p.date.isoformat() for p in points],
                y=[p.rate_bronze for p in points],
                mode="lines+markers",
                name=name,
                line={"width": 4 if name == "overall" else 2},
            )
        )
    fig.update_layout(
        height=360,
        margin={"l": 50, "r": 20, "t": 30, "b": 40},
        yaxis={"title": "% at bronze or better", "range": [0, 105]},
        xaxis={"title": "day", "type": "date", "tickformat": "%Y-%m-%d", **_day_range(snapshots)},
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


@login_required
def scorecards(request: HttpRequest) -> HttpResponse:
    """The checks, and the paved-road adoption trend per team and overall."""
    since = timezone.localdate() - dt.timedelta(days=90)
    snapshots = list(
        AdoptionSnapshot.objects.filter(date__gte=since)
        .select_related("team")
        .order_by("date", "team__slug")
    )
    latest = snapshots[-1].date if snapshots else None
    return render(
        request,
        "catalog/scorecards.html",
        {
            "checks": ScorecardCheck.objects.all(),
            "chart": adoption_chart(snapshots) if snapshots else "",
            "snapshots": sorted(
                snapshots, key=lambda s: (s.date, s.team_id is not None), reverse=True
            ),
            "latest": [s for s in snapshots if s.date == latest],
            "is_operator": is_operator(request.user),
        },
    )


@login_required
@require_POST
def adoption_record(request: HttpRequest) -> HttpResponse:
    """Operators: store today's adoption now instead of waiting for the daily task."""
    if not is_operator(request.user):
        raise PermissionDenied
    rows = services.record_adoption(actor=request.user)
    messages.success(request, f"Recorded today's adoption ({rows} rows).")
    return redirect("catalog:scorecards")
