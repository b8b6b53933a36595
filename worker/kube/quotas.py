"""Team namespaces and their GPU ResourceQuota (``requests.nvidia.com/gpu``).

The quota is written with server-side apply (field manager ``tarmac``, ``force=True``):
applying the same quota twice is a no-op, and a value someone changed with kubectl is
taken back. ``CoreV1Api.patch_namespaced_resource_quota`` of client 37 accepts
``_content_type="application/apply-patch+yaml"`` with a dict body: the client sends it as
JSON, which is valid YAML, so no hand-built ``call_api`` request is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes.client import CoreV1Api

from worker.kube._calls import (
    APPLY_PATCH,
    FIELD_MANAGER,
    MERGE_PATCH,
    TEAM_LABEL,
    call_json,
    is_managed_by_tarmac,
    labels_of,
    managed_labels,
)
from worker.kube.connection import Target, resolve
from worker.kube.errors import ClusterError
from worker.kube.quantity import parse_count

DEFAULT_QUOTA_NAME = "tarmac-gpu-quota"
GPU_QUOTA_KEY = "requests.nvidia.com/gpu"


@dataclass(frozen=True)
class NamespaceState:
    """A namespace after ``ensure_namespace``."""

    name: str
    labels: dict[str, str]
    resource_version: str
    created: bool
    changed: bool


@dataclass(frozen=True)
class QuotaState:
    """A namespace's GPU quota as the cluster reports it."""

    namespace: str
    name: str
    hard_gpus: int | None
    used_gpus: int | None
    resource_version: str
    managed_by_tarmac: bool


def _count(values: dict[str, Any], key: str) -> int | None:
    if key not in values:
        return None
    try:
        return parse_count(values[key])
    except ValueError:
        return None


def _namespace_state(obj: dict[str, Any], *, created: bool, changed: bool) -> NamespaceState:
    return NamespaceState(
        name=obj["metadata"]["name"],
        labels=labels_of(obj),
        resource_version=obj["metadata"].get("resourceVersion", ""),
        created=created,
        changed=changed,
    )


def ensure_namespace(conn: Target, name: str, *, team_slug: str) -> NamespaceState:
    """Create the namespace, or add Tarmac's labels to an existing one; idempotent.

    Labels: ``app.kubernetes.io/managed-by: tarmac`` and ``tarmac.io/team: <team_slug>``.
    An existing namespace whose labels already match is not written.
    """
    api, timeout = resolve(conn)
    core = CoreV1Api(api)
    wanted = managed_labels({TEAM_LABEL: team_slug})
    try:
        current = call_json(core.read_namespace, name, timeout=timeout)
    except ClusterError as error:
        if error.status != 404:
            raise
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": wanted},
        }
        try:
            created = call_json(core.create_namespace, body, timeout=timeout)
            return _namespace_state(created, created=True, changed=True)
        except ClusterError as create_error:
            if create_error.status != 409:
                raise
            # Someone created it in between: fall through to labelling it.
            current = call_json(core.read_namespace, name, timeout=timeout)
    labels = labels_of(current)
    if all(labels.get(key) == value for key, value in wanted.items()):
        return _namespace_state(current, created=False, changed=False)
    patched = call_json(
        core.patch_namespace,
        name,
        {"metadata": {"labels": wanted}},
        _content_type=MERGE_PATCH,
        timeout=timeout,
    )
    return _namespace_state(patched, created=False, changed=True)


def _quota_state(obj: dict[str, Any]) -> QuotaState:
    metadata = obj["metadata"]
    hard = (obj.get("spec") or {}).get("hard") or {}
    used = (obj.get("status") or {}).get("used") or {}
    return QuotaState(
        namespace=metadata.get("namespace", ""),
        name=metadata["name"],
        hard_gpus=_count(hard, GPU_QUOTA_KEY),
        used_gpus=_count(used, GPU_QUOTA_KEY),
        resource_version=metadata.get("resourceVersion", ""),
        managed_by_tarmac=is_managed_by_tarmac(obj),
    )


def read_gpu_quota(
    conn: Target, namespace: str, name: str = DEFAULT_QUOTA_NAME
) -> QuotaState | None:
    """The GPU quota of a namespace, or None when the ResourceQuota does not exist."""
    api, timeout = resolve(conn)
    try:
        obj = call_json(
            CoreV1Api(api).read_namespaced_resource_quota, name, namespace, timeout=timeout
        )
    except ClusterError as error:
        if error.status == 404:
            return None
        raise
    return _quota_state(obj)


def apply_gpu_quota(
    conn: Target,
    namespace: str,
    gpus: int,
    *,
    name: str = DEFAULT_QUOTA_NAME,
    labels: dict[str, str] | None = None,
) -> QuotaState:
    """Set ``requests.nvidia.com/gpu`` of the namespace's quota by server-side apply."""
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise ValueError(f"gpus must be a non-negative integer, got {gpus!r}")
    api, timeout = resolve(conn)
    body = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": namespace, "labels": managed_labels(labels)},
        "spec": {"hard": {GPU_QUOTA_KEY: str(gpus)}},
    }
    obj = call_json(
        CoreV1Api(api).patch_namespaced_resource_quota,
        name,
        namespace,
        body,
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type=APPLY_PATCH,
        timeout=timeout,
    )
    return _quota_state(obj)


def delete_gpu_quota(conn: Target, namespace: str, name: str = DEFAULT_QUOTA_NAME) -> bool:
    """Delete the namespace's GPU quota; True if it was deleted, False if it was already gone."""
    api, timeout = resolve(conn)
    try:
        call_json(CoreV1Api(api).delete_namespaced_resource_quota, name, namespace, timeout=timeout)
    except ClusterError as error:
        if error.status == 404:
            return False
        raise
    return True
