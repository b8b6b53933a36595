"""How to reach a cluster, and the cached kubernetes ``ApiClient`` for it.

A ``ClusterConnection`` says where a cluster is (API URL and token, a kubeconfig context,
or the in-cluster service account). ``get_client`` builds an ``ApiClient`` from it with its
own ``Configuration`` (the client's global default configuration is never read or set),
with urllib3 retries off, and caches it per connection name; a changed connection (any
field) gets a new client.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import KW_ONLY, asdict, dataclass, field

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration

from worker.kube.errors import TRANSPORT_ERRORS, ClusterError, translate

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_CACHED_CLIENTS = 64


@dataclass(frozen=True)
class ClusterConnection:
    """Where a cluster's API server is and how to authenticate to it.

    One of: ``api_url`` (+ ``token``), ``kubeconfig_path`` and/or ``context``, or
    ``in_cluster``. ``api_url`` and ``token`` also override what a kubeconfig says.
    The token never appears in ``repr``.
    """

    name: str
    _: KW_ONLY
    api_url: str | None = None
    token: str | None = field(default=None, repr=False)
    kubeconfig_path: str | None = None
    context: str | None = None
    in_cluster: bool = False
    verify_ssl: bool = True
    ca_cert_path: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def fingerprint(self) -> str:
        """A hash of every field: equal for equal connections, changes when any field does."""
        raw = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()

    @property
    def request_timeout(self) -> tuple[float, float]:
        """(connect, read) timeout passed with every request."""
        return (self.timeout_seconds, self.timeout_seconds)


class TarmacApiClient(ApiClient):
    """An ``ApiClient`` that remembers the request timeout of the connection it was built for."""

    def __init__(self, configuration: Configuration, request_timeout: tuple[float, float]) -> None:
        super().__init__(configuration)
        self.request_timeout = request_timeout


def build_configuration(conn: ClusterConnection) -> Configuration:
    """A fresh client ``Configuration`` for a connection (never the global default)."""
    configuration = Configuration(host="http://localhost")
    try:
        if conn.in_cluster:
            kube_config.load_incluster_config(client_configuration=configuration)
        elif conn.kubeconfig_path or conn.context:
            kube_config.load_kube_config(
                config_file=conn.kubeconfig_path,
                context=conn.context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif not conn.api_url:
            raise ClusterError(
                f"cluster {conn.name!r} has no api_url, kubeconfig or in-cluster configuration",
                reason="InvalidConfiguration",
            )
    except TRANSPORT_ERRORS as exc:
        raise translate(exc) from exc
    if conn.api_url:
        configuration.host = conn.api_url.rstrip("/")
    if conn.token:
        configuration.api_key = {"BearerToken": f"Bearer {conn.token}"}
        configuration.api_key_prefix = {}
        configuration.refresh_api_key_hook = None
    if conn.ca_cert_path:
        configuration.ssl_ca_cert = conn.ca_cert_path
    if not conn.verify_ssl:
        configuration.verify_ssl = False
    # Retry policy lives in worker.kube.errors.with_retries and the Celery tasks, not urllib3.
    configuration.retries = False
    return configuration


_lock = threading.Lock()
_clients: OrderedDict[str, tuple[str, TarmacApiClient]] = OrderedDict()


def get_client(conn: ClusterConnection) -> ApiClient:
    """The cached ``ApiClient`` for a connection; rebuilt when the connection changed."""
    fingerprint = conn.fingerprint()
    with _lock:
        cached = _clients.get(conn.name)
        if cached is not None and cached[0] == fingerprint:
            _clients.move_to_end(conn.name)
            return cached[1]
        api = TarmacApiClient(build_configuration(conn), conn.request_timeout)
        if cached is not None:
            cached[1].close()
        _clients[conn.name] = (fingerprint, api)
        _clients.move_to_end(conn.name)
        while len(_clients) > MAX_CACHED_CLIENTS:
            _, (_, evicted) = _clients.popitem(last=False)
            evicted.close()
        return api


def clear_client_cache() -> None:
    """Close and forget every cached client (tests, configuration reloads)."""
    with _lock:
        for _, api in _clients.values():
            api.close()
        _clients.clear()


Target = ClusterConnection | ApiClient


def resolve(target: Target) -> tuple[ApiClient, tuple[float, float]]:
    """The ApiClient and (connect, read) timeout for a connection or a ready ApiClient."""
    if isinstance(target, ClusterConnection):
        return get_client(target), target.request_timeout
    timeout = getattr(target, "request_timeout", None)
    if timeout is None:
        timeout = (DEFAULT_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS)
    return target, timeout
