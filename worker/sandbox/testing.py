"""Start a sandbox in-process for tests: ``with running_sandbox(...) as sandbox: ...``.

The server runs on a free port of 127.0.0.1 in a daemon thread and stops when the block
ends. ``sandbox.state`` is the (first) cluster's ``ClusterState``: read objects with
``sandbox.state.get("ResourceQuota", "team-a", "tarmac-gpu-quota")``, edit them out of band
with ``apply_out_of_band``, read ``sandbox.state.requests``. ``sandbox.faults`` holds the
fault knobs. This module does not import Django or pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from worker.kube.rbac import Rule
from worker.sandbox.faults import Faults
from worker.sandbox.seed import DEFAULT_CLUSTER, build_clusters, load_seed_file, parse_seed
from worker.sandbox.server import SandboxServer
from worker.sandbox.state import ClusterState

SeedSpec = str | Path | list[dict[str, Any]] | dict[str, list[dict[str, Any]]] | None


def resolve_seed(seed: SeedSpec) -> dict[str, list[dict[str, Any]]]:
    """Objects per cluster from any accepted seed form.

    ``None``: one empty cluster named "default"; a ``Path`` or a one-line ``str``: a seed
    file; a multi-line ``str``: seed YAML text; a list: objects of the "default" cluster;
    a dict: objects per cluster name.
    """
    if seed is None:
        return {}
    if isinstance(seed, Path):
        return load_seed_file(seed)
    if isinstance(seed, str):
        return parse_seed(seed) if "\n" in seed else load_seed_file(seed)
    if isinstance(seed, list):
        return {DEFAULT_CLUSTER: seed}
    return dict(seed)


@dataclass
class Sandbox:
    """A running sandbox server and handles to its state."""

    server: SandboxServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        """Root URL; serves the first cluster (use as ``Configuration.host``)."""
        return self.server.url

    def cluster_url(self, name: str) -> str:
        """URL of one cluster, ``{url}/clusters/{name}``."""
        return self.server.cluster_url(name)

    @property
    def state(self) -> ClusterState:
        """The first cluster's state."""
        return self.server.default_cluster

    def cluster(self, name: str) -> ClusterState:
        """The state of a cluster by name."""
        return self.server.clusters[name]

    @property
    def faults(self) -> Faults:
        """Fault knobs (latency, fail_next, drop_next), shared by all clusters."""
        return self.server.faults

    @property
    def rbac_rules(self) -> list[Rule] | None:
        """RBAC rules enforced (None: everything allowed)."""
        return self.server.rbac_rules

    @rbac_rules.setter
    def rbac_rules(self, rules: list[Rule] | None) -> None:
        self.server.rbac_rules = rules

    def api_client(
        self, cluster: str | None = None, *, token: str | None = None
    ) -> client.ApiClient:
        """An official-client ApiClient for this sandbox (its own Configuration, no retries)."""
        configuration = client.Configuration(
            host=self.cluster_url(cluster) if cluster else self.url
        )
        configuration.retries = False
        if token:
            configuration.api_key = {"BearerToken": f"Bearer {token}"}
        return client.ApiClient(configuration)

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_sandbox(
    seed: SeedSpec = None,
    *,
    rbac_rules: list[Rule] | None = None,
    token: str | None = None,
    strict_fields: bool = True,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Sandbox:
    """Start a sandbox in a daemon thread; the caller must ``stop()`` it."""
    clusters = build_clusters(resolve_seed(seed), strict_fields=strict_fields)
    server = SandboxServer((host, port), clusters, rbac_rules=rbac_rules, token=token)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"k8s-sandbox-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return Sandbox(server, thread)


@contextmanager
def running_sandbox(
    seed: SeedSpec = None,
    *,
    rbac_rules: list[Rule] | None = None,
    token: str | None = None,
    strict_fields: bool = True,
) -> Iterator[Sandbox]:
    """A sandbox for the duration of a ``with`` block (see ``start_sandbox``)."""
    sandbox = start_sandbox(seed, rbac_rules=rbac_rules, token=token, strict_fields=strict_fields)
    try:
        yield sandbox
    finally:
        sandbox.stop()
