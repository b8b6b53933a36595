"""The resource types the sandbox serves, as the API server's discovery would list them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: where it lives in the URL space and what its objects are called."""

    group: str  # "" for the core API group
    version: str
    kind: str
    plural: str
    namespaced: bool
    custom: bool  # served by a CRD (uses CustomObjectsApi, has metadata.generation)
    verbs: tuple[str, ...] = ("get", "list", "create", "update", "patch", "delete")
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """The apiVersion objects of this type carry ("v1", "kueue.x-k8s.io/v1beta1")."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """The name used in API error messages: "resourcequotas", "clusterqueues.kueue.x-k8s.io"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """The kind used in 422 messages ("ResourceQuota", "ClusterQueue.kueue.x-k8s.io")."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


READ_ONLY = ("get", "list")

NODES = ResourceType("", "v1", "Node", "nodes", namespaced=False, custom=False, verbs=READ_ONLY)
PODS = ResourceType("", "v1", "Pod", "pods", namespaced=True, custom=False, verbs=READ_ONLY)
NAMESPACES = ResourceType(
    "",
    "v1",
    "Namespace",
    "namespaces",
    namespaced=False,
    custom=False,
    verbs=("get", "list", "create", "update", "patch"),
    short_names=("ns",),
)
RESOURCE_QUOTAS = ResourceType(
    "",
    "v1",
    "ResourceQuota",
    "resourcequotas",
    namespaced=True,
    custom=False,
    short_names=("quota",),
)
CLUSTER_QUEUES = ResourceType(
    "kueue.x-k8s.io",
    "v1beta1",
    "ClusterQueue",
    "clusterqueues",
    namespaced=False,
    custom=True,
    short_names=("cq",),
)
LOCAL_QUEUES = ResourceType(
    "kueue.x-k8s.io",
    "v1beta1",
    "LocalQueue",
    "localqueues",
    namespaced=True,
    custom=True,
    short_names=("lq",),
)
RESOURCE_FLAVORS = ResourceType(
    "kueue.x-k8s.io",
    "v1beta1",
    "ResourceFlavor",
    "resourceflavors",
    namespaced=False,
    custom=True,
    short_names=("flavor", "rf"),
)
INFERENCE_SERVICES = ResourceType(
    "serving.kserve.io",
    "v1beta1",
    "InferenceService",
    "inferenceservices",
    namespaced=True,
    custom=True,
    short_names=("isvc",),
)

ALL: tuple[ResourceType, ...] = (
    NODES,
    PODS,
    NAMESPACES,
    RESOURCE_QUOTAS,
    CLUSTER_QUEUES,
    LOCAL_QUEUES,
    RESOURCE_FLAVORS,
    INFERENCE_SERVICES,
)

_BY_PATH = {(rt.group, rt.version, rt.plural): rt for rt in ALL}
_BY_KIND = {(rt.api_version, rt.kind): rt for rt in ALL}


def by_path(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource served at /api(s)/{group}/{version}/{plural}, or None."""
    return _BY_PATH.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """The resource whose objects have this apiVersion and kind, or None."""
    return _BY_KIND.get((api_version, kind))


def groups() -> dict[str, list[str]]:
    """API groups (other than core) and their versions, for /apis discovery."""
    result: dict[str, list[str]] = {}
    for rt in ALL:
        if rt.group and rt.version not in result.setdefault(rt.group, []):
            result[rt.group].append(rt.version)
    return result
