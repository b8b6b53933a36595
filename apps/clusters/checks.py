"""System checks: an active cluster whose credential files cannot be read.

Reported at start-up (``runserver``, ``celery worker``, ``manage.py check``) instead of at
the first failed sync. Messages name the cluster and the file; never a file's content.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.checks import CheckMessage, Warning, register
from django.db import DatabaseError

from apps.clusters.choices import AuthMethod


def _readable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.R_OK)


def _default_kubeconfig() -> str:
    return os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(
        Path.home() / ".kube" / "config"
    )


@register("clusters")
def check_cluster_credentials(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Warn about active clusters whose token, kubeconfig or CA file is unreadable."""
    from apps.clusters.models import Cluster

    try:
        clusters = list(
            Cluster.objects.active().only(
                "name", "auth_method", "token_file", "kubeconfig_path", "ca_cert_path"
            )
        )
    except DatabaseError:
        return []  # no tables yet (before the first migrate): nothing to check
    messages: list[CheckMessage] = []
    for cluster in clusters:
        if cluster.auth_method == AuthMethod.API_TOKEN:
            if not cluster.token_file:
                messages.append(
                    Warning(
                        f"Cluster {cluster.name} uses a bearer token but names no token file.",
                        hint="Set its token file in the admin console (a mounted secret).",
                        obj=cluster.name,
                        id="clusters.W001",
                    )
                )
            elif not _readable(cluster.token_file):
                messages.append(
                    Warning(
                        f"The token file of cluster {cluster.name} cannot be read.",
                        hint=f"Check that {cluster.token_file} exists and the worker may read it.",
                        obj=cluster.name,
                        id="clusters.W002",
                    )
                )
        if cluster.auth_method == AuthMethod.KUBECONFIG:
            path = cluster.kubeconfig_path or _default_kubeconfig()
            if not _readable(path):
                messages.append(
                    Warning(
                        f"The kubeconfig of cluster {cluster.name} cannot be read.",
                        hint=f"Check that {path} exists and the worker may read it.",
                        obj=cluster.name,
                        id="clusters.W003",
                    )
                )
        if cluster.ca_cert_path and not _readable(cluster.ca_cert_path):
            messages.append(
                Warning(
                    f"The CA certificate of cluster {cluster.name} cannot be read.",
                    hint=f"Check that {cluster.ca_cert_path} exists and the worker may read it.",
                    obj=cluster.name,
                    id="clusters.W004",
                )
            )
    return messages
