"""A Kubernetes API sandbox: an HTTP server that answers the official kubernetes client.

It serves the subset of the Kubernetes REST API that Tarmac uses (nodes, pods, namespaces,
resource quotas, Kueue queues and flavors, KServe inference services) with the API
server's semantics, for tests and for ``make run``. Start it with
``python -m worker.sandbox --port 8001`` or in tests with ``running_sandbox()``.
"""

from worker.sandbox.faults import Faults
from worker.sandbox.seed import DEMO_PATH, generate_cluster, load_seed_file, parse_seed
from worker.sandbox.server import SandboxServer
from worker.sandbox.state import ClusterState, RequestRecord
from worker.sandbox.testing import Sandbox, running_sandbox, start_sandbox

__all__ = [
    "DEMO_PATH",
    "ClusterState",
    "Faults",
    "RequestRecord",
    "Sandbox",
    "SandboxServer",
    "generate_cluster",
    "load_seed_file",
    "parse_seed",
    "running_sandbox",
    "start_sandbox",
]
