"""Registry pages: model list, model, version (with gate checklists), compare, trend,
and the promotion requests that platform leads decide."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from apps.accounts.models import Team
from apps.accounts.roles import is_platform_lead
from apps.core.errors import DomainError
from apps.registry import charts, services
from apps.registry.choices import PromotionStatus, Stage, TargetKind, VersionStatus
from apps.registry.filters import SORTS, ModelFilters
from apps.registry.forms import (
    AliasForm,
    DecisionForm,
    PolicyForm,
    PromotionForm,
    RejectForm,
    StageForm,
)
from apps.registry.gate import GateResult, evaluate_gate
from apps.registry.models import (
    EvalResult,
    ModelAlias,
    ModelTag,
    ModelVersion,
    PromotionPolicy,
    PromotionRequest,
    RegisteredModel,
)

MODEL_PAGE_SIZE = 25


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


VERSION_PAGE_SIZE = 25
COMPARE_MIN, COMPARE_MAX = 2, 5


def _model(request: HttpRequest, name: str) -> RegisteredModel:
    return get_object_or_404(
        RegisteredModel.objects.visible_to(request.user)
        .annotate(name_lower=Lower("name"))
        .select_related("team"),
        name_lower=name.lower(),
    )


def _version(model: RegisteredModel, number: int) -> ModelVersion:
    version = get_object_or_404(
        ModelVersion.objects.select_related("created_by"), model=model, version=number
    )
    version.model = model
    return version


def _policies(model: RegisteredModel) -> list[PromotionPolicy]:
    """The policies in force for the model: its own, plus team defaults it does not override."""
    rows = list(
        PromotionPolicy.objects.filter(
            Q(model=model) | Q(team_id=model.team_id, model__isnull=True)
        ).prefetch_related("rules")
    )
    own = {(p.target_kind, p.target) for p in rows if p.model_id is not None}
    return [p for p in rows if p.model_id is not None or (p.target_kind, p.target) not in own]


# --- model list -----------------------------------------------------------------------


@login_required
def model_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every registered model: search, filter by team, tag, production alias, stage and
    framework, sorted by last update. Five queries whatever the number of models."""
    filters = ModelFilters.from_query(request.GET)
    models_qs = filters.apply(RegisteredModel.objects.visible_to(request.user)).values(
        "id", "name", "description", "latest_version", "updated_at", "team__slug"
    )
    page = Paginator(models_qs, MODEL_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _with_aliases_and_tags(list(page.object_list))
    params = request.GET.copy()
    params.pop("page", None)
    context: dict[str, Any] = {
        "filters": filters,
        "page": page,
        "query": params.urlencode(),
        "base": reverse("registry:model-list"),
    }
    if request.htmx:
        return render(request, "registry/htmx/model_table.html", context)
    context.update(
        {
            "teams": Team.objects.order_by("slug").values_list("slug", "name"),
            "stages": Stage.choices,
            "sorts": SORTS,
        }
    )
    return render(request, "registry/model_list.html", context)


def _with_aliases_and_tags(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach each model's aliases and tags: two flat queries, no model instances."""
    by_id = {row["id"]: row for row in rows}
    for row in rows:
        row["aliases"], row["tags"] = [], []
    if by_id:
        for model_id, alias, number in (
            ModelAlias.objects.filter(model_id__in=by_id)
            .order_by("alias")
            .values_list("model_id", "alias", "version__version")
        ):
            by_id[model_id]["aliases"].append((alias, number))
        for model_id, key, value in (
            ModelTag.objects.filter(model_id__in=by_id)
            .order_by("key")
            .values_list("model_id", "key", "value")
        ):
            by_id[model_id]["tags"].append((key, value))
    return rows


# --- model page -----------------------------------------------------------------------


@login_required
def model_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """A model: aliases (and which are protected), policies, versions, history."""
    model = _model(request, name)
    page = _version_page(model, request.GET.get("page"))
    if request.htmx:
        return render(
            request,
            "registry/htmx/version_table.html",
            {"model": model, "page": page, "model_url": _model_url(model)},
        )
    return render(request, "registry/model_detail.html", _model_context(request, model, page))


def _version_page(model: RegisteredModel, number: Any) -> Any:
    """A page of the model's versions as plain rows (values + one alias query): the table
    is the heaviest part of the model page, and model instances would triple its cost."""
    rows = ModelVersion.objects.filter(model=model).order_by("-version")
    page = Paginator(
        rows.values(
            "id",
            "version",
            "status",
            "stage",
            "framework",
            "run_id",
            "run_link",
            "created_at",
            "created_by__username",
        ),
        VERSION_PAGE_SIZE,
    ).get_page(number)
    by_id: dict[int, dict[str, Any]] = {row["id"]: dict(row) for row in page.object_list}
    for row in by_id.values():
        row["aliases"] = []
        row["status_label"] = VersionStatus(row["status"]).label
        row["stage_label"] = Stage(row["stage"]).label if row["stage"] else ""
    for version_id, alias in (
        ModelAlias.objects.filter(version_id__in=by_id)
        .order_by("alias")
        .values_list("version_id", "alias")
    ):
        by_id[version_id]["aliases"].append(alias)
    page.object_list = list(by_id.values())  # type: ignore[arg-type]
    return page


def _model_context(
    request: HttpRequest, model: RegisteredModel, page: Any, **forms: Any
) -> dict[str, Any]:
    policies = _policies(model)
    protected = {(p.target_kind, p.target) for p in policies}
    aliases = list(model.aliases.select_related("version", "updated_by"))
    for alias in aliases:
        alias.protected = (TargetKind.ALIAS, alias.alias) in protected  # type: ignore[attr-defined]
    user = request.user
    can_edit = services.can_edit(user, model.team_id)
    return {
        "model": model,
        "model_url": _model_url(model),
        "page": page,
        "tags": list(model.tags.all()),
        "aliases": aliases,
        "policies": policies,
        "history": model.alias_history.select_related("from_version", "to_version", "actor")[:10],
        "open_requests": model.promotion_requests.open().select_related("version", "requested_by"),
        "metrics": _metrics_of(model),
        "catalog_url": services.catalog_url(model.catalog_entity_ref),
        "can_edit": can_edit,
        "can_edit_policy": services.can_edit_policy(user, model.team_id),
        "is_lead": is_platform_lead(user),
        "alias_form": forms.get("alias_form") or AliasForm(),
        "policy_form": forms.get("policy_form") or PolicyForm(),
    }


def _model_url(model: RegisteredModel) -> str:
    return reverse("registry:model-detail", kwargs={"name": model.name})


def _metrics_of(model: RegisteredModel) -> list[str]:
    return list(
        EvalResult.objects.filter(version__model=model)
        .order_by("metric")
        .values_list("metric", flat=True)
        .distinct()
    )


@login_required
@require_POST
def alias_set(request: HttpRequest, name: str) -> HttpResponse:
    """Point an unprotected alias at a version (owning team)."""
    model = _model(request, name)
    form = AliasForm(request.POST)
    if form.is_valid():
        version = ModelVersion.objects.filter(
            model=model, version=form.cleaned_data["version"]
        ).first()
        try:
            if version is None:
                raise DomainError(
                    f"{model.name} has no version {form.cleaned_data['version']}.",
                    field="version",
                )
            services.set_alias(
                model,
                form.cleaned_data["alias"],
                version,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request, f"Alias {form.cleaned_data['alias']} now points at v{version.version}."
            )
            return redirect("registry:model-detail", name=model.name)
    page = _version_page(model, 1)
    return render(
        request,
        "registry/model_detail.html",
        _model_context(request, model, page, alias_form=form),
        status=400,
    )


@login_required
@require_POST
def alias_delete(request: HttpRequest, name: str, alias: str) -> HttpResponse:
    model = _model(request, name)
    try:
        services.delete_alias(
            model, alias, actor=request.user, reason=request.POST.get("reason", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed the alias {alias}.")
    return redirect("registry:model-detail", name=model.name)


@login_required
@require_POST
def policy_save(request: HttpRequest, name: str) -> HttpResponse:
    """Create or replace the model's policy for one target (team maintainers)."""
    model = _model(request, name)
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            services.save_policy(
                actor=request.user,
                model=model,
                target_kind=form.cleaned_data["target_kind"],
                target=form.cleaned_data["target"],
                requires_approval=form.cleaned_data["requires_approval"],
                rules=form.cleaned_data["rules"],
            )
        except DomainError as exc:
            field = {"alias": "target", "stage": "target"}.get(exc.field or "", exc.field)
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Saved the policy for {form.cleaned_data['target']}.")
            return redirect("registry:model-detail", name=model.name)
    page = _version_page(model, 1)
    return render(
        request,
        "registry/model_detail.html",
        _model_context(request, model, page, policy_form=form),
        status=400,
    )


@login_required
@require_POST
def policy_delete(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    model = _model(request, name)
    policy = get_object_or_404(PromotionPolicy, pk=pk, model=model)
    try:
        services.delete_policy(policy, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Removed the policy.")
    return redirect("registry:model-detail", name=model.name)


# --- version page ---------------------------------------------------------------------


@login_required
def version_detail(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """A version: lineage, tags, eval results (table and chart), and the gate checklist of
    every protected alias or stage of the model."""
    model = _model(request, name)
    version = _version(model, number)
    results = list(version.eval_results.order_by("metric", "dataset", "-recorded_at", "-id"))
    latest: dict[tuple[str, str], EvalResult] = {}
    for result in results:
        latest.setdefault((result.metric, result.dataset), result)
    gates = [
        _gate_row(version, evaluate_gate(version, p.target, target_kind=p.target_kind))
        for p in _policies(model)
    ]
    user = request.user
    context = {
        "model": model,
        "version": version,
        "tags": list(version.tags.all()),
        "aliases": list(version.aliases.order_by("alias").values_list("alias", flat=True)),
        "results": results,
        "latest": list(latest.values()),
        "chart": charts.eval_bar_chart([(r.metric, r.dataset, r.value) for r in latest.values()]),
        "gates": gates,
        "open_requests": version.promotion_requests.open().select_related("requested_by"),
        "can_edit": services.can_edit(user, model.team_id),
        "stage_form": StageForm(initial={"stage": version.stage}),
        "stages": Stage.choices,
    }
    return render(request, "registry/version_detail.html", context)


def _gate_row(version: ModelVersion, gate: GateResult) -> dict[str, Any]:
    holds = (
        version.stage == gate.target
        if gate.target_kind == TargetKind.STAGE
        else gate.holder_version == version.version
    )
    return {
        "gate": gate,
        "holds": holds,
        "form": PromotionForm(initial={"target_kind": gate.target_kind, "target": gate.target}),
        "dom_id": f"gate-{gate.target_kind}-{gate.target}",
    }


@login_required
@require_POST
def version_promote(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Request a promotion from the version page (the gate must pass)."""
    model = _model(request, name)
    version = _version(model, number)
    form = PromotionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the alias or stage to promote to.")
        return redirect("registry:version-detail", name=model.name, number=number)
    try:
        req = services.request_promotion(
            version,
            target=form.cleaned_data["target"],
            target_kind=form.cleaned_data["target_kind"],
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("registry:version-detail", name=model.name, number=number)
    if req.status == PromotionStatus.APPLIED:
        messages.success(request, f"v{number} now holds {req.target_label}.")
    else:
        messages.success(
            request, f"Promotion to {req.target_label} requested: a platform lead must approve."
        )
    return redirect("registry:promotion-detail", pk=req.pk)


@login_required
@require_POST
def version_stage(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Move a version to an unprotected stage (owning team)."""
    model = _model(request, name)
    version = _version(model, number)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            services.set_stage(
                version,
                form.cleaned_data["stage"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"v{number} is now in stage {version.stage or 'none'}.")
    else:
        messages.error(request, "Choose a valid stage.")
    return redirect("registry:version-detail", name=model.name, number=number)


# --- compare and trend ----------------------------------------------------------------


@login_required
def compare(request: HttpRequest, name: str) -> HttpResponse:
    """2-5 versions side by side: a metrics table and grouped bar charts."""
    model = _model(request, name)
    raw = request.GET.getlist("v")
    numbers: list[int] = []
    error = ""
    for item in raw:
        if not item.isdigit():
            error = f"{item!r} is not a version number."
            break
        if int(item) not in numbers:
            numbers.append(int(item))
    if not error and not COMPARE_MIN <= len(numbers) <= COMPARE_MAX:
        error = f"Choose between {COMPARE_MIN} and {COMPARE_MAX} versions to compare."
    versions: list[ModelVersion] = []
    if not error:
        versions = list(
            ModelVersion.objects.filter(model=model, version__in=numbers).order_by("version")
        )
        missing = sorted(set(numbers) - {v.version for v in versions})
        if missing:
            error = f"{model.name} has no version {', '.join(str(n) for n in missing)}."
    context: dict[str, Any] = {"model": model, "error": error, "versions": versions}
    if error:
        return render(request, "registry/compare.html", context, status=400)
    by_id = {v.pk: v.version for v in versions}
    values: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for version_id, metric, dataset, value in (
        EvalResult.objects.filter(version_id__in=by_id)
        .order_by("recorded_at", "id")
        .values_list("version_id", "metric", "dataset", "value")
    ):
        values[(metric, dataset)][by_id[version_id]] = value  # the latest wins
    keys = sorted(values)
    version_numbers = [v.version for v in versions]
    rows = [
        {
            "metric": metric,
            "dataset": dataset,
            "cells": [values[(metric, dataset)].get(n) for n in version_numbers],
        }
        for metric, dataset in keys
    ]
    labels = [f"{m} · {d}" if d else m for m, d in keys]
    chart_values = {
        (label, n): values[key].get(n)
        for label, key in zip(labels, keys, strict=True)
        for n in version_numbers
    }
    context.update(
        {
            "rows": rows,
            "chart": charts.compare_chart(labels, version_numbers, chart_values),
        }
    )
    return render(request, "registry/compare.html", context)


@login_required
def trend(request: HttpRequest, name: str) -> HttpResponse:
    """One metric across every version of the model (latest value of each version)."""
    model = _model(request, name)
    metrics = _metrics_of(model)
    metric = request.GET.get("metric") or (metrics[0] if metrics else "")
    dataset = request.GET.get("dataset", "").strip()
    if metric and metric not in metrics:
        raise Http404("No version of this model has that metric.")
    query = EvalResult.objects.filter(version__model=model, metric=metric)
    if dataset:
        query = query.filter(dataset=dataset)
    latest: dict[int, float] = {}
    for number, value in query.order_by("version__version", "recorded_at", "id").values_list(
        "version__version", "value"
    ):
        latest[number] = value
    points = sorted(latest.items())
    datasets = sorted(
        set(
            EvalResult.objects.filter(version__model=model, metric=metric)
            .order_by()
            .values_list("dataset", flat=True)
            .distinct()
        )
    )
    context = {
        "model": model,
        "metrics": metrics,
        "metric": metric,
        "dataset": dataset,
        "datasets": [d for d in datasets if d],
        "points": points,
        "chart": charts.trend_chart(points, metric=metric) if metric else "",
    }
    return render(request, "registry/trend.html", context)


# --- promotion requests ---------------------------------------------------------------


@login_required
def promotion_list(request: HttpRequest) -> HttpResponse:
    """Promotion requests; platform leads decide the open ones."""
    status = request.GET.get("status", "submitted")
    qs = PromotionRequest.objects.visible_to(request.user).select_related(
        "model__team", "version", "requested_by", "decided_by"
    )
    if status in PromotionStatus.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    mine = request.GET.get("mine") == "1"
    if mine:
        qs = qs.filter(requested_by=request.user)
    page = Paginator(qs.order_by("-id"), 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "registry/promotion_list.html",
        {
            "page": page,
            "query": params.urlencode(),
            "status": status,
            "statuses": PromotionStatus.choices,
            "mine": mine,
            "is_lead": is_platform_lead(request.user),
        },
    )


@login_required
def promotion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(
        PromotionRequest.objects.visible_to(request.user).select_related(
            "model__team", "version", "requested_by", "decided_by"
        ),
        pk=pk,
    )
    user = request.user
    can_decide = req.is_open and is_platform_lead(user) and req.requested_by_id != user.pk
    can_cancel = req.is_open and (
        req.requested_by_id == user.pk or services.can_edit(user, req.model.team_id)
    )
    return render(
        request,
        "registry/promotion_detail.html",
        {
            "req": req,
            "checks": (req.gate or {}).get("checks", []),
            "can_decide": can_decide,
            "can_cancel": can_cancel,
            "is_requester": req.requested_by_id == user.pk,
            "approve_form": DecisionForm(),
            "reject_form": RejectForm(),
        },
    )


def _decide(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    req = get_object_or_404(
        PromotionRequest.objects.visible_to(request.user).select_related(
            "model__team", "version", "requested_by"
        ),
        pk=pk,
    )
    form = (RejectForm if verb == "reject" else DecisionForm)(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the promotion is rejected.")
        return redirect("registry:promotion-detail", pk=pk)
    actions: dict[str, Callable[..., PromotionRequest]] = {
        "approve": services.approve_promotion,
        "reject": services.reject_promotion,
        "cancel": services.cancel_promotion,
    }
    action = actions[verb]
    try:
        req = action(req, actor=request.user, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        done = {"approve": "Approved", "reject": "Rejected", "cancel": "Cancelled"}[verb]
        messages.success(
            request,
            f"{done}: {req.model.name} v{req.version.version} → {req.target_label}"
            + (" (moved)." if req.status == PromotionStatus.APPLIED else "."),
        )
    return redirect("registry:promotion-detail", pk=pk)


@login_required
@require_POST
def promotion_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@login_required
@require_POST
def promotion_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@login_required
@require_POST
def promotion_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "cancel")


def version_url(model_name: str, number: int) -> str:
    return reverse("registry:version-detail", kwargs={"name": model_name, "number": number})
