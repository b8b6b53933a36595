"""From a Cluster row to the adapter's ClusterConnection (reading secrets from files), and
the connection probe behind "Test connection"."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client import CoreV1Api, VersionApi

from apps.clusters.models import Cluster
from worker.kube import ClusterConnection, ClusterError

# The adapter's own helpers for calling the official client (JSON in, ClusterError out).
from worker.kube._calls import call_json
from worker.kube.connection import resolve


def get_connection(cluster: Cluster) -> ClusterConnection:
    """Build the connection the ``worker.kube`` adapter needs for ``cluster``.

    Raises a permanent ``ClusterError`` when a configured secret file cannot be read,
    so the Operation records why instead of failing obscurely.
    """
    token = None
    if cluster.auth_method == Cluster.AuthMethod.API_TOKEN and cluster.token_file:
        try:
            with open(cluster.token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise ClusterError(
                f"cannot read the token file of cluster {cluster.name}: {exc.strerror}",
                status=None,
                reason="Configuration",
                transient=False,
            ) from exc
    use_kubeconfig = cluster.auth_method == Cluster.AuthMethod.KUBECONFIG
    return ClusterConnection(
        cluster.name,
        api_url=cluster.api_url or None,
        token=token,
        kubeconfig_path=(cluster.kubeconfig_path or None) if use_kubeconfig else None,
        context=(cluster.kube_context or None) if use_kubeconfig else None,
        in_cluster=cluster.auth_method == Cluster.AuthMethod.IN_CLUSTER,
        verify_ssl=cluster.verify_ssl,
        ca_cert_path=cluster.ca_cert_path or None,
        timeout_seconds=float(cluster.timeout_seconds),
    )


@dataclass(frozen=True)
class Probe:
    """What a connection test saw: the API server's version and how many nodes it has."""

    server_version: str
    platform: str
    nodes: int


def probe(conn: ClusterConnection) -> Probe:
    """Read ``/version`` and list nodes with ``limit=1`` (two small requests).

    The node count is the page's items plus ``metadata.remainingItemCount``, so a cluster
    with thousands of nodes is counted without listing them. Failures are ClusterErrors.
    """
    api, timeout = resolve(conn)
    version = call_json(VersionApi(api).get_code, timeout=timeout)
    nodes = call_json(CoreV1Api(api).list_node, limit=1, timeout=timeout)
    items = nodes.get("items") or []
    remaining = (nodes.get("metadata") or {}).get("remainingItemCount") or 0
    return Probe(
        server_version=str(version.get("gitVersion") or "unknown"),
        platform=str(version.get("platform") or ""),
        nodes=len(items) + int(remaining),
    )
