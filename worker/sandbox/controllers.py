"""What the cluster's controllers would write: quota usage, InferenceService rollout status.

These are pure functions over plain dicts; ``ClusterState`` calls them when it stores or
serves an object. They reproduce the observable shape of the real controllers (the quota
controller of kube-controller-manager, the KServe controller on top of Knative), not
their internals: every revision becomes ready at once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from worker.kube.quantity import format_quantity, parse_quantity

GPU = "nvidia.com/gpu"
GPU_REQUESTS_QUOTA_KEY = "requests.nvidia.com/gpu"
TERMINATED_PHASES = ("Succeeded", "Failed")
TAG_ROUTING_ANNOTATION = "serving.kserve.io/enable-tag-routing"


def default_pod_requests(pod: dict[str, Any]) -> None:
    """Copy limits to absent requests, as the API server defaults a container's resources."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            resources = container.get("resources") or {}
            limits = resources.get("limits") or {}
            if limits:
                requests = resources.setdefault("requests", {})
                for name, value in limits.items():
                    requests.setdefault(name, value)
                container["resources"] = resources


def _container_gpus(container: dict[str, Any]) -> Decimal:
    requests = (container.get("resources") or {}).get("requests") or {}
    try:
        return parse_quantity(requests.get(GPU, 0))
    except ValueError:
        return Decimal(0)


def pod_gpu_request(pod: dict[str, Any]) -> Decimal:
    """A pod's effective GPU request: max(sum of containers, largest init container)."""
    spec = pod.get("spec") or {}
    regular = sum((_container_gpus(c) for c in spec.get("containers") or []), Decimal(0))
    init = max((_container_gpus(c) for c in spec.get("initContainers") or []), default=Decimal(0))
    return max(regular, init)


def is_terminated(pod: dict[str, Any]) -> bool:
    """Whether a pod has finished (its requests no longer count against quota)."""
    return (pod.get("status") or {}).get("phase") in TERMINATED_PHASES


def gpu_requests_by_namespace(pods: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    """Sum of effective GPU requests of non-terminated pods, per namespace."""
    totals: dict[str, Decimal] = {}
    for pod in pods:
        if is_terminated(pod):
            continue
        gpus = pod_gpu_request(pod)
        if gpus:
            namespace = pod["metadata"].get("namespace", "")
            totals[namespace] = totals.get(namespace, Decimal(0)) + gpus
    return totals


def resource_quota_with_status(quota: dict[str, Any], used_gpus: Decimal) -> dict[str, Any]:
    """A copy of a ResourceQuota with ``status`` as the quota controller reports it.

    ``status.hard`` mirrors ``spec.hard``; ``status.used`` has an entry per hard resource,
    computed for ``requests.nvidia.com/gpu`` and ``0`` for resources the sandbox does not track.
    """
    result = dict(quota)
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    used = {name: "0" for name in hard}
    if GPU_REQUESTS_QUOTA_KEY in hard:
        used[GPU_REQUESTS_QUOTA_KEY] = format_quantity(used_gpus)
    result["status"] = {"hard": hard, "used": used}
    return result


def _revision_number(revision: str | None) -> int:
    if not revision:
        return 0
    try:
        return int(revision.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _revision_template(isvc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of the predictor that makes a new revision (everything but the traffic split)."""
    if isvc is None:
        return None
    predictor = dict((isvc.get("spec") or {}).get("predictor") or {})
    predictor.pop("canaryTrafficPercent", None)
    return predictor


def _condition(kind: str, now: str) -> dict[str, str]:
    return {"type": kind, "status": "True", "lastTransitionTime": now}


def reconcile_inference_service(
    old: dict[str, Any] | None, new: dict[str, Any], *, now: str
) -> None:
    """Set ``new["status"]`` as the KServe controller reports a canary rollout.

    A change of the predictor (other than ``canaryTrafficPercent``) creates a revision
    ``{name}-predictor-{00001..}``. With ``canaryTrafficPercent`` below 100 the latest revision
    gets that share (tag ``latest``) and the last rolled-out revision the rest (tag ``prev``);
    without it (or at 100) the latest revision takes 100% and becomes ``latestRolledoutRevision``.
    """
    name = new["metadata"]["name"]
    namespace = new["metadata"].get("namespace", "default")
    old_status = copy.deepcopy((old or {}).get("status") or {})
    predictor_status = (old_status.get("components") or {}).get("predictor") or {}
    latest = predictor_status.get("latestCreatedRevision")
    rolled_out = predictor_status.get("latestRolledoutRevision")
    previous = predictor_status.get("previousRolledoutRevision")

    if latest is None or _revision_template(old) != _revision_template(new):
        latest = f"{name}-predictor-{_revision_number(latest) + 1:05d}"
    if rolled_out is None:
        rolled_out = latest  # the first revision is rolled out at once

    canary = ((new.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
    tag_routing = (new["metadata"].get("annotations") or {}).get(TAG_ROUTING_ANNOTATION) == "true"
    component_host = f"{name}-predictor.{namespace}"

    if latest == rolled_out or canary is None or canary >= 100:
        if latest != rolled_out:
            previous = rolled_out
            rolled_out = latest
        traffic = [{"latestRevision": True, "percent": 100, "revisionName": latest}]
    else:
        previous = rolled_out
        traffic = [
            {"latestRevision": True, "percent": canary, "revisionName": latest, "tag": "latest"},
            {
                "latestRevision": False,
                "percent": 100 - canary,
                "revisionName": rolled_out,
                "tag": "prev",
            },
        ]
        if tag_routing:
            for target in traffic:
                target["url"] = f"http://{target['tag']}-{component_host}.example.com"

    predictor: dict[str, Any] = {
        "address": {"url": f"http://{component_host}.svc.cluster.local"},
        "latestCreatedRevision": latest,
        "latestReadyRevision": latest,
        "latestRolledoutRevision": rolled_out,
        "traffic": traffic,
        "url": f"http://{component_host}.example.com",
    }
    if previous:
        predictor["previousRolledoutRevision"] = previous

    conditions = old_status.get("conditions") or [
        _condition(kind, now)
        for kind in (
            "IngressReady",
            "LatestDeploymentReady",
            "PredictorConfigurationReady",
            "PredictorReady",
            "PredictorRouteReady",
            "Ready",
        )
    ]
    new["status"] = {
        "address": {"url": f"http://{name}.{namespace}.svc.cluster.local"},
        "components": {"predictor": predictor},
        "conditions": conditions,
        "modelStatus": {
            "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
            "transitionStatus": "UpToDate",
        },
        "observedGeneration": new["metadata"].get("generation", 1),
        "url": f"http://{name}.{namespace}.example.com",
    }
