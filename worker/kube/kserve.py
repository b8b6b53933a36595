"""KServe InferenceService canary rollouts: read the traffic split, set, promote, roll back.

KServe keeps the last revision that had 100% of traffic (``latestRolledoutRevision``);
setting ``spec.predictor.canaryTrafficPercent`` with a new ``storageUri`` creates a revision
that gets that share. Removing the field promotes the latest revision to 100%; setting it
to 0 sends all traffic back to the previous revision (rollback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import CustomObjectsApi

from worker.kube._calls import MERGE_PATCH, call_json, managed_labels
from worker.kube.connection import Target, resolve
from worker.kube.errors import ClusterError

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
# Predictor keys that hold the model (the "model" spec, or a framework spec in older style).
_NOT_MODEL_KEYS = frozenset(
    {
        "canaryTrafficPercent",
        "minReplicas",
        "maxReplicas",
        "serviceAccountName",
        "containers",
        "scaleMetric",
        "scaleTarget",
        "timeout",
        "batcher",
        "logger",
        "nodeSelector",
        "tolerations",
        "affinity",
        "volumes",
        "imagePullSecrets",
        "annotations",
        "labels",
    }
)


@dataclass(frozen=True)
class TrafficTarget:
    """One entry of ``status.components.predictor.traffic``."""

    revision_name: str
    percent: int
    tag: str | None
    latest_revision: bool


@dataclass(frozen=True)
class InferenceServiceState:
    """What a rollout needs to know about an InferenceService."""

    namespace: str
    name: str
    storage_uri: str | None
    canary_traffic_percent: int | None
    traffic: list[TrafficTarget] = field(default_factory=list)
    latest_rolled_out_revision: str | None = None
    latest_ready_revision: str | None = None
    latest_created_revision: str | None = None
    ready: bool = False
    url: str | None = None
    resource_version: str = ""
    generation: int | None = None
    observed_generation: int | None = None


def _model_key(predictor: dict[str, Any]) -> str:
    """Where the predictor keeps its storageUri: "model", or a framework key like "sklearn"."""
    if "model" in predictor:
        return "model"
    for key, value in predictor.items():
        if key not in _NOT_MODEL_KEYS and isinstance(value, dict) and "storageUri" in value:
            return key
    return "model"


def _state(obj: dict[str, Any]) -> InferenceServiceState:
    metadata = obj["metadata"]
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    model = predictor.get(_model_key(predictor)) or {}
    status = obj.get("status") or {}
    component = (status.get("components") or {}).get("predictor") or {}
    traffic = [
        TrafficTarget(
            revision_name=target.get("revisionName", ""),
            percent=int(target.get("percent") or 0),
            tag=target.get("tag"),
            latest_revision=bool(target.get("latestRevision")),
        )
        for target in component.get("traffic") or []
    ]
    ready = any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in status.get("conditions") or []
    )
    return InferenceServiceState(
        namespace=metadata.get("namespace", ""),
        name=metadata["name"],
        storage_uri=model.get("storageUri"),
        canary_traffic_percent=predictor.get("canaryTrafficPercent"),
        traffic=traffic,
        latest_rolled_out_revision=component.get("latestRolledoutRevision"),
        latest_ready_revision=component.get("latestReadyRevision"),
        latest_created_revision=component.get("latestCreatedRevision"),
        ready=ready,
        url=status.get("url"),
        resource_version=metadata.get("resourceVersion", ""),
        generation=metadata.get("generation"),
        observed_generation=status.get("observedGeneration"),
    )


def _get(
    custom: CustomObjectsApi, namespace: str, name: str, timeout: tuple[float, float]
) -> dict[str, Any]:
    return call_json(
        custom.get_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        timeout=timeout,
    )


def read_inference_service(conn: Target, namespace: str, name: str) -> InferenceServiceState | None:
    """An InferenceService's model, canary setting and traffic split; None if it does not exist."""
    api, timeout = resolve(conn)
    try:
        return _state(_get(CustomObjectsApi(api), namespace, name, timeout))
    except ClusterError as error:
        if error.status == 404:
            return None
        raise


def _patch_predictor(
    conn: Target, namespace: str, name: str, predictor_patch: dict[str, Any]
) -> InferenceServiceState:
    api, timeout = resolve(conn)
    patch = {"metadata": {"labels": managed_labels()}, "spec": {"predictor": predictor_patch}}
    obj = call_json(
        CustomObjectsApi(api).patch_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        patch,
        _content_type=MERGE_PATCH,
        timeout=timeout,
    )
    return _state(obj)


def set_canary(
    conn: Target, namespace: str, name: str, *, storage_uri: str, percent: int
) -> InferenceServiceState:
    """Roll out ``storage_uri`` as a canary that receives ``percent``% of traffic."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValueError(f"percent must be an integer from 0 to 100, got {percent!r}")
    api, timeout = resolve(conn)
    current = _get(CustomObjectsApi(api), namespace, name, timeout)
    predictor = (current.get("spec") or {}).get("predictor") or {}
    return _patch_predictor(
        conn,
        namespace,
        name,
        {"canaryTrafficPercent": percent, _model_key(predictor): {"storageUri": storage_uri}},
    )


def promote_canary(conn: Target, namespace: str, name: str) -> InferenceServiceState:
    """Send all traffic to the latest revision (remove ``canaryTrafficPercent``)."""
    return _patch_predictor(conn, namespace, name, {"canaryTrafficPercent": None})


def rollback_canary(conn: Target, namespace: str, name: str) -> InferenceServiceState:
    """Send all traffic back to the last rolled-out revision (``canaryTrafficPercent: 0``)."""
    return _patch_predictor(conn, namespace, name, {"canaryTrafficPercent": 0})
