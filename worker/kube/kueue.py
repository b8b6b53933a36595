"""Kueue: a team's ClusterQueue GPU quota per ResourceFlavor, and its LocalQueue.

``apply_cluster_queue_quota`` is a read-modify-write with the object's resourceVersion:
it changes only the ``nvidia.com/gpu`` nominalQuota of one flavor and keeps every other
flavor and resource as it was. A concurrent change makes the write fail with 409, which is
a transient ClusterError: retry the whole call (``with_retries`` or the Celery task).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import CustomObjectsApi

from worker.kube._calls import (
    APPLY_PATCH,
    FIELD_MANAGER,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TEAM_LABEL,
    call_json,
    is_managed_by_tarmac,
    managed_labels,
)
from worker.kube.connection import Target, resolve
from worker.kube.errors import ClusterError
from worker.kube.quantity import parse_count

GROUP = "kueue.x-k8s.io"
VERSION = "v1beta1"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class ClusterQueueState:
    """A ClusterQueue's GPU quotas (nominalQuota of ``nvidia.com/gpu`` per flavor)."""

    name: str
    cohort: str | None
    gpu_quota_by_flavor: dict[str, int]
    namespace_selector: dict[str, Any] | None
    resource_version: str
    managed_by_tarmac: bool
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalQueueState:
    """A namespace's LocalQueue and the ClusterQueue it points to."""

    namespace: str
    name: str
    cluster_queue: str
    resource_version: str


def _cluster_queue_state(obj: dict[str, Any]) -> ClusterQueueState:
    spec = obj.get("spec") or {}
    quotas: dict[str, int] = {}
    for group in spec.get("resourceGroups") or []:
        for flavor in group.get("flavors") or []:
            for resource in flavor.get("resources") or []:
                if resource.get("name") == GPU_RESOURCE:
                    try:
                        quotas[flavor["name"]] = parse_count(resource.get("nominalQuota", 0))
                    except ValueError:
                        quotas[flavor["name"]] = 0
    return ClusterQueueState(
        name=obj["metadata"]["name"],
        cohort=spec.get("cohort"),
        gpu_quota_by_flavor=quotas,
        namespace_selector=spec.get("namespaceSelector"),
        resource_version=obj["metadata"].get("resourceVersion", ""),
        managed_by_tarmac=is_managed_by_tarmac(obj),
        spec=copy.deepcopy(spec),
    )


def read_cluster_queue(conn: Target, name: str) -> ClusterQueueState | None:
    """A ClusterQueue, or None when it does not exist."""
    api, timeout = resolve(conn)
    try:
        obj = call_json(
            CustomObjectsApi(api).get_cluster_custom_object,
            GROUP,
            VERSION,
            "clusterqueues",
            name,
            timeout=timeout,
        )
    except ClusterError as error:
        if error.status == 404:
            return None
        raise
    return _cluster_queue_state(obj)


def set_gpu_nominal_quota(spec: dict[str, Any], flavor: str, gpus: int) -> None:
    """Set the GPU nominalQuota of one flavor in ``spec.resourceGroups``, in place.

    Keeps the Kueue invariants: a flavor appears in one resource group, and every flavor of
    a group lists the group's coveredResources in the same order. If the flavor's group does
    not cover GPUs yet, ``nvidia.com/gpu`` is added to it with quota 0 for its other flavors.
    """
    groups: list[dict[str, Any]] = spec.setdefault("resourceGroups", [])
    group = next(
        (g for g in groups if any(f.get("name") == flavor for f in g.get("flavors") or [])), None
    )
    if group is None:
        group = next((g for g in groups if GPU_RESOURCE in (g.get("coveredResources") or [])), None)
        if group is None:
            groups.append(
                {
                    "coveredResources": [GPU_RESOURCE],
                    "flavors": [
                        {
                            "name": flavor,
                            "resources": [{"name": GPU_RESOURCE, "nominalQuota": gpus}],
                        }
                    ],
                }
            )
            return
        group.setdefault("flavors", []).append(
            {
                "name": flavor,
                "resources": [
                    {"name": covered, "nominalQuota": gpus if covered == GPU_RESOURCE else 0}
                    for covered in group["coveredResources"]
                ],
            }
        )
        return
    covered = group.setdefault("coveredResources", [])
    if GPU_RESOURCE not in covered:
        covered.append(GPU_RESOURCE)
        for other in group.get("flavors") or []:
            other.setdefault("resources", []).append({"name": GPU_RESOURCE, "nominalQuota": 0})
    target = next(f for f in group["flavors"] if f.get("name") == flavor)
    for resource in target.setdefault("resources", []):
        if resource.get("name") == GPU_RESOURCE:
            resource["nominalQuota"] = gpus
            return
    target["resources"].append({"name": GPU_RESOURCE, "nominalQuota": gpus})  # pragma: no cover


def apply_cluster_queue_quota(
    conn: Target,
    name: str,
    *,
    flavor: str,
    gpus: int,
    cohort: str | None = None,
    namespace_selector_team: str | None = None,
) -> ClusterQueueState:
    """Set a ClusterQueue's GPU nominalQuota for one flavor, creating the queue if needed.

    ``cohort`` and ``namespace_selector_team`` (namespaces labelled ``tarmac.io/team``)
    are set when given and left alone otherwise. No write happens when nothing changes.
    """
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise ValueError(f"gpus must be a non-negative integer, got {gpus!r}")
    api, timeout = resolve(conn)
    custom = CustomObjectsApi(api)
    try:
        current = call_json(
            custom.get_cluster_custom_object,
            GROUP,
            VERSION,
            "clusterqueues",
            name,
            timeout=timeout,
        )
    except ClusterError as error:
        if error.status != 404:
            raise
        current = None

    desired: dict[str, Any] = (
        copy.deepcopy(current)
        if current is not None
        else {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {},
        }
    )
    spec = desired.setdefault("spec", {})
    set_gpu_nominal_quota(spec, flavor, gpus)
    if cohort is not None:
        spec["cohort"] = cohort
    if namespace_selector_team is not None:
        spec["namespaceSelector"] = {"matchLabels": {TEAM_LABEL: namespace_selector_team}}
    desired["metadata"].setdefault("labels", {})[MANAGED_BY_LABEL] = MANAGED_BY_VALUE

    if current is None:
        created = call_json(
            custom.create_cluster_custom_object,
            GROUP,
            VERSION,
            "clusterqueues",
            desired,
            field_manager=FIELD_MANAGER,
            timeout=timeout,
        )
        return _cluster_queue_state(created)
    if desired == current:
        return _cluster_queue_state(current)
    # desired carries current's metadata.resourceVersion: a concurrent change gives 409.
    replaced = call_json(
        custom.replace_cluster_custom_object,
        GROUP,
        VERSION,
        "clusterqueues",
        name,
        desired,
        field_manager=FIELD_MANAGER,
        timeout=timeout,
    )
    return _cluster_queue_state(replaced)


def ensure_local_queue(
    conn: Target, namespace: str, name: str, cluster_queue: str
) -> LocalQueueState:
    """Create or update (server-side apply) a LocalQueue pointing at ``cluster_queue``."""
    api, timeout = resolve(conn)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LocalQueue",
        "metadata": {"name": name, "namespace": namespace, "labels": managed_labels()},
        "spec": {"clusterQueue": cluster_queue},
    }
    obj = call_json(
        CustomObjectsApi(api).patch_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "localqueues",
        name,
        body,
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type=APPLY_PATCH,
        timeout=timeout,
    )
    return LocalQueueState(
        namespace=namespace,
        name=name,
        cluster_queue=(obj.get("spec") or {}).get("clusterQueue", ""),
        resource_version=obj["metadata"].get("resourceVersion", ""),
    )
