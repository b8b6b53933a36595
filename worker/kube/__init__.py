"""The Kubernetes adapter: the only code that talks to clusters (official kubernetes client).

Operations take a ``ClusterConnection`` (or a ready ``ApiClient``) and return plain
dataclasses. Failures are ``ClusterError`` with ``transient`` set for what a retry can fix.
"""

from worker.kube.connection import (
    ClusterConnection,
    build_configuration,
    clear_client_cache,
    get_client,
)
from worker.kube.errors import ClusterError, translate, with_retries
from worker.kube.inventory import (
    GpuPodRequests,
    NodeInfo,
    PodGpuRequest,
    list_gpu_nodes,
    list_gpu_pod_requests,
)
from worker.kube.kserve import (
    InferenceServiceState,
    TrafficTarget,
    promote_canary,
    read_inference_service,
    rollback_canary,
    set_canary,
)
from worker.kube.kueue import (
    ClusterQueueState,
    LocalQueueState,
    apply_cluster_queue_quota,
    ensure_local_queue,
    read_cluster_queue,
)
from worker.kube.quotas import (
    DEFAULT_QUOTA_NAME,
    NamespaceState,
    QuotaState,
    apply_gpu_quota,
    delete_gpu_quota,
    ensure_namespace,
    read_gpu_quota,
)

__all__ = [
    "DEFAULT_QUOTA_NAME",
    "ClusterConnection",
    "ClusterError",
    "ClusterQueueState",
    "GpuPodRequests",
    "InferenceServiceState",
    "LocalQueueState",
    "NamespaceState",
    "NodeInfo",
    "PodGpuRequest",
    "QuotaState",
    "TrafficTarget",
    "apply_cluster_queue_quota",
    "apply_gpu_quota",
    "build_configuration",
    "clear_client_cache",
    "delete_gpu_quota",
    "ensure_local_queue",
    "ensure_namespace",
    "get_client",
    "list_gpu_nodes",
    "list_gpu_pod_requests",
    "promote_canary",
    "read_cluster_queue",
    "read_gpu_quota",
    "read_inference_service",
    "rollback_canary",
    "set_canary",
    "translate",
    "with_retries",
]
