"""gunicorn settings for Tarmac's web process: ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi``.

Threaded workers (``gthread``) keep HTTP/1.1 connections alive, so that CI clients and
the ingress reuse connections instead of paying a TCP handshake per request (the sync
worker closes every connection).

TCP_NODELAY: gunicorn writes a response's headers and its body with two ``sendall``
calls. With Nagle's algorithm on, the body — a small second segment sent while the
headers are still unacknowledged — waits for the client's ACK, and a client that delays
its ACKs (Linux: 40 ms) stalls every response on a *reused* connection by ~40 ms.
gunicorn sets TCP_NODELAY on its listening socket and Linux copies it to accepted
sockets; ``when_ready`` below sets it again explicitly (and checks it), so the guarantee
does not rest on an implementation detail. ``TARMAC_GUNICORN_NODELAY=0`` turns it off —
the bench uses that to show the stall it prevents.

Every value can be overridden from the environment (``GUNICORN_*``), as in Kubernetes.
"""

from __future__ import annotations

import gc
import os
import socket
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "30"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
# The app is imported once in the arbiter and shared copy-on-write by the workers.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes")

NODELAY = os.environ.get("TARMAC_GUNICORN_NODELAY", "1").lower() not in ("0", "false", "no")


def _set_nodelay(sock: socket.socket, on: bool) -> bool:
    """Set TCP_NODELAY on a TCP socket; returns what the kernel now reports."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if on else 0)
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def when_ready(server: Any) -> None:
    """Before any worker accepts: set (or, for the bench's comparison, clear) TCP_NODELAY
    on every listener; accepted sockets inherit it."""
    for listener in server.LISTENERS:
        state = _set_nodelay(listener.sock, NODELAY)
        server.log.info("listener %s TCP_NODELAY=%s", listener, state)


def pre_fork(server: Any, worker: Any) -> None:
    """Move everything the preloaded app allocated into the permanent generation before
    forking: the garbage collector then never walks Django's import-time objects again
    (a full collection of this process drops from ~100 ms to ~2 ms), and the workers
    stop writing to those pages, so they stay shared copy-on-write."""
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    for listener in worker.sockets:
        _set_nodelay(listener.sock, NODELAY)
