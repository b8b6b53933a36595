"""From a Cluster row to the adapter's ClusterConnection (reading secrets from files)."""

from __future__ import annotations

from apps.clusters.models import Cluster
from worker.kube import ClusterConnection, ClusterError


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
