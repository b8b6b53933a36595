"""Demo data of the clusters app: the two clusters the bundled Kubernetes API sandbox serves.

``make run`` starts the sandbox (``python -m worker.sandbox --port 8001``, seeded from
``worker/sandbox/demo.yaml``) next to the portal; the clusters point at it. The sandbox
URL comes from ``TARMAC_SANDBOX_URL`` (default http://127.0.0.1:8001).
"""

from __future__ import annotations

import os
from typing import Any

from apps.accounts.models import Team
from apps.clusters import services
from apps.clusters.choices import AuthMethod
from apps.clusters.models import Cluster, TeamNamespace
from worker.kube import ClusterError

H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
L4 = "NVIDIA-L4"

CLUSTERS: list[dict[str, Any]] = [
    {
        "name": "train-eu",
        "display_name": "Training (EU)",
        "description": "Training cluster: DGX H100 and A100 nodes, jobs queued by Kueue.",
        "region": "europe-west4",
        "uses_kueue": True,
        "uses_kserve": False,
        "gpu_products": [H100, A100],
    },
    {
        "name": "serve-us",
        "display_name": "Serving (US)",
        "description": "Serving cluster: L4 nodes running KServe InferenceServices.",
        "region": "us-central1",
        "uses_kueue": False,
        "uses_kserve": True,
        "gpu_products": [L4],
    },
]

# The namespaces worker/sandbox/demo.yaml creates on each cluster, and their teams.
NAMESPACES = {
    "train-eu": [("team-vision", "vision"), ("team-nlp", "nlp"), ("team-recsys", "recsys")],
    "serve-us": [("team-recsys", "recsys"), ("team-nlp", "nlp")],
}


def sandbox_url() -> str:
    """Where ``make run`` serves the sandbox."""
    return os.environ.get("TARMAC_SANDBOX_URL", "http://127.0.0.1:8001").rstrip("/")


def seed(out: Any) -> None:
    """Create (or update) the demo clusters and team namespaces; sync them if the sandbox
    answers, else queue a sync the worker completes once ``make run`` has started it."""
    base = sandbox_url()
    teams = {team.slug: team for team in Team.objects.filter(slug__in=["vision", "nlp", "recsys"])}
    clusters = []
    for spec in CLUSTERS:
        cluster, _ = Cluster.objects.update_or_create(
            name=spec["name"],
            defaults={
                **{key: value for key, value in spec.items() if key != "name"},
                "auth_method": AuthMethod.NONE,
                "api_url": f"{base}/clusters/{spec['name']}",
                "token_file": "",
                "kubeconfig_path": "",
                "kube_context": "",
                "timeout_seconds": 5,
                "is_active": True,
            },
        )
        clusters.append(cluster)
        for namespace, slug in NAMESPACES[cluster.name]:
            if slug in teams:
                TeamNamespace.objects.update_or_create(
                    cluster=cluster, name=namespace, defaults={"team": teams[slug]}
                )
    out.write(f"  clusters: {', '.join(c.name for c in clusters)} (sandbox at {base})")
    for cluster in clusters:
        try:
            # Probe first, so that a sandbox not started yet is not recorded as a failure.
            services.check_connection(cluster)
            outcome = services.sync_inventory(cluster, force=True, attempts=1)
        except ClusterError as error:
            queued = ""
            if not services.has_active_sync(cluster):
                op = services.request_inventory_sync(
                    cluster, actor=None, reason="demo seed: first inventory"
                )
                queued = f"; queued sync operation #{op.pk} for the worker"
            out.write(
                f"  {cluster.name}: the sandbox did not answer ({error.reason}){queued}. "
                "`make run` starts the sandbox; the worker retries until it answers."
            )
        else:
            summary = outcome.summary
            out.write(
                f"  {cluster.name}: {summary['nodes']} GPU nodes, "
                f"{summary['allocatable']} GPUs allocatable, {summary['requested']} requested"
            )
