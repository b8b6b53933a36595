"""Fault injection: latency, failed responses and dropped connections, thread-safe.

Settable in-process (``sandbox.faults.fail_next(3)``) and over HTTP by POSTing JSON to
``/_sandbox/faults``, so a worker in another process can be made to see the same faults::

    {"latency_seconds": 2.0}
    {"fail_next": {"n": 3, "status": 500, "message": "etcd timeout",
                   "method": "PATCH", "path_contains": "resourcequotas"}}
    {"drop_next": {"n": 1, "method": "GET"}}
    {"clear": true}
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for(status: int) -> str:
    """The Status reason the API server uses for an HTTP code."""
    return _REASONS.get(status, "InternalError" if status >= 500 else "BadRequest")


@dataclass
class Fault:
    """A planned failure for the next ``remaining`` requests that match."""

    kind: str  # "fail" or "drop"
    remaining: int
    status: int = 500
    message: str = "sandbox: injected failure"
    method: str | None = None
    path_contains: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is one this fault applies to."""
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_contains and self.path_contains not in path)


class Faults:
    """The fault knobs of one sandbox server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._planned: list[Fault] = []

    @property
    def latency_seconds(self) -> float:
        """Delay added before every API request is answered."""
        with self._lock:
            return self._latency

    @latency_seconds.setter
    def latency_seconds(self, value: float) -> None:
        with self._lock:
            self._latency = max(0.0, float(value))

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        message: str = "sandbox: injected failure",
        *,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` and a Status body."""
        with self._lock:
            self._planned.append(Fault("fail", n, status, message, method, path_contains))

    def drop_next(
        self, n: int = 1, *, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Close the connection of the next ``n`` matching requests without answering."""
        with self._lock:
            self._planned.append(Fault("drop", n, method=method, path_contains=path_contains))

    def clear(self) -> None:
        """Remove latency and all planned faults."""
        with self._lock:
            self._latency = 0.0
            self._planned.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request (consuming one use of it), or None."""
        with self._lock:
            for fault in self._planned:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
            self._planned = [fault for fault in self._planned if fault.remaining > 0]
            return None

    def snapshot(self) -> dict[str, Any]:
        """The current knobs, as ``GET /_sandbox/faults`` returns them."""
        with self._lock:
            return {
                "latency_seconds": self._latency,
                "planned": [asdict(fault) for fault in self._planned if fault.remaining > 0],
            }

    def configure(self, body: dict[str, Any]) -> None:
        """Apply a ``POST /_sandbox/faults`` body (see the module docstring)."""
        if body.get("clear"):
            self.clear()
        if "latency_seconds" in body:
            self.latency_seconds = float(body["latency_seconds"])
        fail = body.get("fail_next")
        if fail:
            self.fail_next(
                int(fail.get("n", 1)),
                int(fail.get("status", 500)),
                str(fail.get("message", "sandbox: injected failure")),
                method=fail.get("method"),
                path_contains=fail.get("path_contains"),
            )
        drop = body.get("drop_next")
        if drop:
            self.drop_next(
                int(drop.get("n", 1)),
                method=drop.get("method"),
                path_contains=drop.get("path_contains"),
            )
