"""The live state of a model-endpoint component: the KServe InferenceService its
annotations name, read through the cluster adapter when someone opens its page.

A read, not a change: nothing is stored or audited. The cluster comes from the
``tarmac.io/cluster`` annotation (a Cluster registered in Tarmac), the object from
``tarmac.io/namespace`` and ``serving.kserve.io/inferenceservice``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from apps.catalog.models import Entity
from apps.clusters.models import Cluster
from apps.clusters.services import call_cluster
from worker.kube import ClusterError, InferenceServiceState, read_inference_service

CLUSTER_ANNOTATION = "tarmac.io/cluster"
NAMESPACE_ANNOTATION = "tarmac.io/namespace"
ISVC_ANNOTATION = "serving.kserve.io/inferenceservice"


@dataclass(frozen=True)
class EndpointState:
    """What the cluster said about the endpoint's InferenceService, or why it could not."""

    cluster: str
    namespace: str
    name: str
    read_at: datetime
    state: InferenceServiceState | None = None
    error: str = ""


def read_endpoint_state(entity: Entity) -> EndpointState:
    """Read the InferenceService now (bounded by the cluster's timeout); never raises."""
    annotations = entity.annotations or {}
    cluster_name = annotations.get(CLUSTER_ANNOTATION, "")
    namespace = annotations.get(NAMESPACE_ANNOTATION, "")
    name = annotations.get(ISVC_ANNOTATION, "")
    now = timezone.now()
    missing = [
        key
        for key, value in (
            (CLUSTER_ANNOTATION, cluster_name),
            (NAMESPACE_ANNOTATION, namespace),
            (ISVC_ANNOTATION, name),
        )
        if not value
    ]
    if missing:
        return EndpointState(
            cluster_name, namespace, name, now, error=f"Set the annotation(s) {', '.join(missing)}."
        )
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None:
        return EndpointState(
            cluster_name,
            namespace,
            name,
            now,
            error=f"Cluster {cluster_name} is not registered in Tarmac.",
        )
    if not cluster.is_active:
        return EndpointState(
            cluster_name, namespace, name, now, error=f"Cluster {cluster_name} is retired."
        )
    try:
        state = call_cluster(
            cluster,
            f"Reading InferenceService {namespace}/{name}",
            lambda conn: read_inference_service(conn, namespace, name),
        )
    except ClusterError as exc:
        return EndpointState(cluster_name, namespace, name, now, error=str(exc))
    if state is None:
        return EndpointState(
            cluster_name,
            namespace,
            name,
            now,
            error=f"InferenceService {namespace}/{name} does not exist on cluster {cluster_name}.",
        )
    return EndpointState(cluster_name, namespace, name, now, state=state)
