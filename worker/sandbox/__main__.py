"""``python -m worker.sandbox --port N [--host H] [--seed FILE] [--rbac FILE] [--token T]``.

Serves the clusters of the seed file (``demo.yaml`` by default) until SIGTERM or Ctrl-C.
The first line printed is the root URL, then one line per cluster with its URL.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from worker.kube.rbac import load_rules
from worker.sandbox.seed import DEMO_PATH, build_clusters, load_seed_file
from worker.sandbox.server import SandboxServer


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.sandbox", description="Run the Kubernetes API sandbox."
    )
    parser.add_argument("--port", type=int, default=8001, help="port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--seed", default=str(DEMO_PATH), help="seed YAML (default: demo.yaml)")
    parser.add_argument("--rbac", help="YAML with a ClusterRole whose rules are enforced")
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    parser.add_argument(
        "--lenient-fields",
        action="store_true",
        help="prune unknown fields of custom objects instead of rejecting them",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until it is told to stop; return the exit code."""
    args = build_parser().parse_args(argv)
    clusters = build_clusters(load_seed_file(args.seed), strict_fields=not args.lenient_fields)
    rules = load_rules(args.rbac) if args.rbac else None
    server = SandboxServer((args.host, args.port), clusters, rbac_rules=rules, token=args.token)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Kubernetes API sandbox at {server.url}", flush=True)
    for name in server.clusters:
        default = (
            " (also at the root URL)" if server.clusters[name] is server.default_cluster else ""
        )
        print(f"  cluster {name}: {server.cluster_url(name)}{default}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    print("Kubernetes API sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
