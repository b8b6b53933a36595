"""The HTTP front of the sandbox: Kubernetes REST paths mapped onto ``ClusterState``.

One ``SandboxServer`` serves one or more clusters. Each cluster is reachable under
``/clusters/{name}/...``; the first one is also served at the root, so a kubernetes client
configured with ``host=http://127.0.0.1:PORT`` or ``http://127.0.0.1:PORT/clusters/train-eu``
both work (the client appends ``/api/v1/...`` to the host, path prefix included).

Besides the API (see ``state.py`` for the semantics) each cluster has test endpoints:

- ``GET /_sandbox/state[?kind=Kind]``: every object; ``GET /_sandbox/requests``: request log;
- ``POST /_sandbox/reset``: objects back to the seed, request log and faults cleared;
- ``POST /_sandbox/seed``: load a YAML body (same format as ``--seed``);
- ``GET|POST /_sandbox/faults``: fault knobs (see ``faults.py``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from worker.kube.rbac import SERVICE_ACCOUNT_USER, Rule, is_allowed
from worker.sandbox import errors, resources
from worker.sandbox.errors import ApiError
from worker.sandbox.faults import Faults, reason_for
from worker.sandbox.resources import ResourceType
from worker.sandbox.seed import parse_seed
from worker.sandbox.state import ClusterState, RequestRecord

logger = logging.getLogger(__name__)

SERVER_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-tarmac-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass
class ApiRequest:
    """What an API URL addresses: resource type, namespace, name and the RBAC verb."""

    rt: ResourceType
    verb: str
    namespace: str | None
    name: str | None


def parse_api_path(method: str, path: str, query: dict[str, str]) -> ApiRequest | None:
    """Map ``/api/v1/...`` or ``/apis/{group}/{version}/...`` to an ApiRequest.

    Returns None for paths that are not resource paths (discovery); raises a 404 ApiError
    for resource paths the sandbox does not serve.
    """
    parts = [unquote(part) for part in path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
    rt = resources.by_path(group, version, plural)
    if rt is None or len(rest) > 2 or (namespace is not None and not rt.namespaced):
        raise errors.path_not_found()
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") == "true" else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS[method]
    if verb in ("update", "patch") and not name:
        raise errors.method_not_allowed(method, rt)
    if verb == "create" and name:
        raise errors.method_not_allowed(method, rt)
    return ApiRequest(rt, verb, namespace, name)


def _discovery_resources(group: str, version: str) -> dict[str, Any]:
    listed = [
        {
            "name": rt.plural,
            "singularName": rt.kind.lower(),
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            **({"shortNames": list(rt.short_names)} if rt.short_names else {}),
        }
        for rt in resources.ALL
        if rt.group == group and rt.version == version
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": listed,
    }


def _api_group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def discovery(path: str) -> dict[str, Any] | None:
    """The body of a discovery endpoint (/version, /api, /apis, ...), or None."""
    parts = [part for part in path.split("/") if part]
    groups = resources.groups()
    if parts == ["version"]:
        return SERVER_VERSION
    if parts in (["healthz"], ["livez"], ["readyz"]):
        return {"status": "ok"}
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
            ],
        }
    if parts == ["api", "v1"]:
        return _discovery_resources("", "v1")
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_api_group(name, versions) for name, versions in groups.items()],
        }
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
        return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(parts[1], groups[parts[1]])}
    if len(parts) == 3 and parts[0] == "apis" and parts[2] in groups.get(parts[1], []):
        return _discovery_resources(parts[1], parts[2])
    return None


class SandboxServer(ThreadingHTTPServer):
    """A threaded HTTP server speaking the Kubernetes API for one or more clusters."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        clusters: list[ClusterState],
        *,
        rbac_rules: list[Rule] | None = None,
        token: str | None = None,
        user: str = SERVICE_ACCOUNT_USER,
    ) -> None:
        if not clusters:
            raise ValueError("a sandbox needs at least one cluster")
        self.clusters: dict[str, ClusterState] = {cluster.name: cluster for cluster in clusters}
        self.default_cluster = clusters[0]
        self.rbac_rules = rbac_rules
        self.token = token
        self.user = user
        self.faults = Faults()
        super().__init__(address, SandboxHandler)

    @property
    def state(self) -> ClusterState:
        """The first cluster's state (objects, request log)."""
        return self.default_cluster

    @property
    def url(self) -> str:
        """The root URL (serves the first cluster)."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def cluster_url(self, name: str) -> str:
        """The URL of one cluster, with its ``/clusters/{name}`` path prefix."""
        if name not in self.clusters:
            raise KeyError(f"no sandbox cluster named {name!r}")
        return f"{self.url}/clusters/{name}"


class SandboxHandler(BaseHTTPRequestHandler):
    """Answers one HTTP connection (keep-alive) for a ``SandboxServer``."""

    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "tarmac-k8s-sandbox/1"
    # Headers and body go out in two writes on a keep-alive socket; with Nagle's algorithm
    # the client's delayed ACK would add ~40 ms to every call. Real API servers set
    # TCP_NODELAY too.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Send access logs to logging (debug) instead of stderr."""
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        """GET: read, list, discovery and test endpoints."""
        self._handle("GET")

    def do_POST(self) -> None:
        """POST: create and test endpoints."""
        self._handle("POST")

    def do_PUT(self) -> None:
        """PUT: update."""
        self._handle("PUT")

    def do_PATCH(self) -> None:
        """PATCH: merge patch, strategic merge patch, server-side apply."""
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        """DELETE: delete."""
        self._handle("DELETE")

    # ----------------------------------------------------------------- plumbing

    def _send_json(self, code: int, body: Any, warnings: list[str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for warning in warnings or []:
            self.send_header("Warning", f'299 - "{warning}"')
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, error: ApiError) -> None:
        self._send_json(error.code, error.to_status())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        if not self.server.token:
            return True
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.server.token

    def _route_cluster(self, path: str) -> tuple[ClusterState, str]:
        if path.startswith("/clusters/"):
            _, _, rest = path.partition("/clusters/")
            name, _, remainder = rest.partition("/")
            cluster = self.server.clusters.get(unquote(name))
            if cluster is None:
                raise errors.path_not_found()
            return cluster, "/" + remainder
        return self.server.default_cluster, path

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        body = self._read_body()
        try:
            cluster, path = self._route_cluster(split.path)
            if path.startswith("/_sandbox/"):
                if not self._authorized():
                    raise errors.unauthorized()
                self._control(cluster, method, path, query, body)
                return
            self._api(cluster, method, path, query, body)
        except ApiError as error:
            self._send_error(error)
        except Exception:  # the server must answer even when a handler has a bug
            logger.exception("sandbox: internal error on %s %s", method, self.path)
            self._send_error(ApiError(500, "InternalError", "sandbox: internal error"))

    # ----------------------------------------------------------------- the API

    def _api(
        self,
        cluster: ClusterState,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
    ) -> None:
        request = parse_api_path(method, path, query)
        record: RequestRecord | None = None
        self._records: list[RequestRecord] = []
        if request is not None:
            record = cluster.record(
                RequestRecord(
                    method,
                    path,
                    request.rt.group,
                    request.rt.plural,
                    request.verb,
                    request.namespace,
                    request.name,
                )
            )
        try:
            self._apply_faults(method)
            if not self._authorized():
                raise errors.unauthorized()
            if request is None:
                document = discovery(path)
                if document is None:
                    raise errors.path_not_found()
                self._send_json(200, document)
                return
            self._authorize(cluster, request, method, path)
            code, result, warnings = self._dispatch(cluster, request, method, query, body)
            self._set_status(record, code)
            self._send_json(code, result, warnings)
        except ApiError as error:
            self._set_status(record, error.code)
            raise
        except _Dropped:
            self.close_connection = True

    def _set_status(self, record: RequestRecord | None, code: int) -> None:
        for logged in [record, *self._records]:
            if logged is not None:
                logged.status = code

    def _apply_faults(self, method: str) -> None:
        latency = self.server.faults.latency_seconds
        if latency:
            time.sleep(latency)
        fault = self.server.faults.take(method, self.path)
        if fault is None:
            return
        if fault.kind == "drop":
            raise _Dropped()
        raise ApiError(fault.status, reason_for(fault.status), fault.message)

    def _authorize(
        self, cluster: ClusterState, request: ApiRequest, method: str, path: str
    ) -> None:
        rules = self.server.rbac_rules
        checks = [request.verb]
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        creates = (
            request.verb == "patch"
            and content_type == "application/apply-patch+yaml"
            and request.name is not None
            and cluster.get(request.rt.kind, request.namespace, request.name) is None
        )
        if creates:
            # An apply that creates the object is also authorized as create, as upstream does.
            checks.append("create")
            extra = cluster.record(
                RequestRecord(
                    method,
                    path,
                    request.rt.group,
                    request.rt.plural,
                    "create",
                    request.namespace,
                    request.name,
                )
            )
            self._records.append(extra)
        if rules is None:
            return
        for verb in checks:
            if not is_allowed(rules, request.rt.group, request.rt.plural, verb, request.name):
                raise errors.forbidden(
                    request.rt.plural,
                    request.rt.group,
                    verb,
                    request.name,
                    request.namespace,
                    self.server.user,
                )

    def _decode(self, body: bytes, content_type: str) -> Any:
        if not body:
            return None
        try:
            if "yaml" in content_type:
                return yaml.safe_load(body)
            return json.loads(body)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the request body could not be decoded: {exc}") from exc

    def _dispatch(
        self,
        cluster: ClusterState,
        request: ApiRequest,
        method: str,
        query: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, list[str]]:
        rt, verb, namespace, name = request.rt, request.verb, request.namespace, request.name
        if verb not in rt.verbs:
            raise errors.method_not_allowed(method, rt)
        user_agent = self.headers.get("User-Agent") or "unknown"
        manager = query.get("fieldManager") or user_agent.split("/")[0]
        validation = query.get("fieldValidation")
        content_type = self.headers.get("Content-Type") or "application/json"
        if verb == "list":
            limit = query.get("limit")
            result = cluster.list_objects(
                rt,
                namespace,
                labels=query.get("labelSelector"),
                fields=query.get("fieldSelector"),
                limit=int(limit) if limit and limit.isdigit() else None,
                continue_token=query.get("continue"),
            )
            return 200, result, []
        assert name is not None or verb == "create"
        if verb == "get":
            return 200, cluster.read(rt, namespace, name or ""), []
        if verb == "delete":
            return 200, cluster.delete(rt, namespace, name or ""), []
        payload = self._decode(body, content_type)
        if verb == "create":
            created, warnings = cluster.create(
                rt, namespace, payload, field_manager=manager, field_validation=validation
            )
            return 201, created, warnings
        if verb == "update":
            replaced, warnings = cluster.replace(
                rt,
                namespace,
                name or "",
                payload,
                field_manager=manager,
                field_validation=validation,
            )
            return 200, replaced, warnings
        patched, warnings, was_created = cluster.patch(
            rt,
            namespace,
            name or "",
            payload,
            content_type,
            field_manager=query.get("fieldManager"),
            field_validation=validation,
            force=query.get("force") == "true",
        )
        return (201 if was_created else 200), patched, warnings

    # ----------------------------------------------------------------- test endpoints

    def _control(
        self,
        cluster: ClusterState,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
    ) -> None:
        action = path[len("/_sandbox/") :].strip("/")
        faults = self.server.faults
        if action == "state" and method == "GET":
            self._send_json(
                200,
                {
                    "cluster": cluster.name,
                    "resourceVersion": str(cluster.resource_version),
                    "objects": cluster.objects(query.get("kind")),
                },
            )
        elif action == "requests" and method == "GET":
            self._send_json(200, {"requests": [asdict(r) for r in cluster.requests]})
        elif action == "reset" and method == "POST":
            cluster.reset()
            faults.clear()
            self._send_json(200, {"reset": cluster.name})
        elif action == "seed" and method == "POST":
            seeded = parse_seed(body.decode(), default_cluster=cluster.name)
            loaded = 0
            for name, objects in seeded.items():
                target = self.server.clusters.get(name)
                if target is None:
                    raise errors.bad_request(f"no sandbox cluster named {name!r}")
                loaded += target.load(objects)
            self._send_json(200, {"loaded": loaded})
        elif action == "faults" and method == "GET":
            self._send_json(200, faults.snapshot())
        elif action == "faults" and method == "POST":
            faults.configure(json.loads(body or b"{}"))
            self._send_json(200, faults.snapshot())
        elif action == "clusters" and method == "GET":
            names = list(self.server.clusters)
            self._send_json(
                200, {"clusters": [{"name": n, "url": self.server.cluster_url(n)} for n in names]}
            )
        else:
            raise errors.path_not_found()


class _Dropped(Exception):
    """Raised to close a connection without an answer (the ``drop_next`` fault)."""
