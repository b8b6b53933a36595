"""The adapter's one error type, the mapping onto it, and the synchronous retry helper.

``translate`` turns whatever the kubernetes client or urllib3 raised into a ``ClusterError``
that says whether trying again can help (``transient``): timeouts, refused or dropped
connections, 409 conflicts, 410 expired list continuations, 429 and 5xx are transient;
401, 403, 404, 422 and other 4xx are permanent. The client's own urllib3 retries are off
(see ``connection.py``), so retry policy lives here and in the Celery tasks only.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3 import exceptions as urllib3_errors

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({409, 410, 429})

# What ``with_retries`` (and callers catching transport errors) treat as cluster failures.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    ApiException,
    urllib3_errors.HTTPError,
    OSError,  # includes ConnectionError, TimeoutError and ssl.SSLError
    ConfigException,
)


class ClusterError(Exception):
    """A failed call to a cluster.

    ``status`` is the HTTP code (None when no response came back), ``reason`` the Status
    reason ("NotFound", "Forbidden", "Timeout", ...), ``message`` the API's own message, and
    ``transient`` whether the same call may succeed later.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "Unknown",
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f" {self.status}" if self.status is not None else ""
        return f"{self.reason}{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"ClusterError(status={self.status!r}, reason={self.reason!r}, "
            f"message={self.message!r}, transient={self.transient!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default Exception pickling.
        return (
            _rebuild,
            (self.message, self.status, self.reason, self.transient, self.retry_after),
        )


_RETRYABLE: tuple[type[BaseException], ...] = (ClusterError, *TRANSPORT_ERRORS)


def _rebuild(
    message: str, status: int | None, reason: str, transient: bool, retry_after: float | None
) -> ClusterError:
    return ClusterError(
        message, status=status, reason=reason, transient=transient, retry_after=retry_after
    )


def _status_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _from_api_exception(exc: ApiException) -> ClusterError:
    status = exc.status or None
    if status is None:
        # Status 0: the client could not make the request at all (TLS setup, bad arguments).
        return ClusterError(str(exc.reason or exc), reason="ClientError", transient=False)
    body = _status_body(exc.body)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    message = str(body.get("message") or exc.reason or phrase)
    reason = str(body.get("reason") or phrase.replace(" ", ""))
    transient = status in TRANSIENT_STATUSES or status >= 500
    return ClusterError(
        message,
        status=status,
        reason=reason,
        transient=transient,
        retry_after=_retry_after(exc.headers),
    )


def translate(exc: BaseException) -> ClusterError:
    """The ClusterError for an exception raised while talking to a cluster."""
    if isinstance(exc, ClusterError):
        return exc
    if isinstance(exc, ApiException):
        return _from_api_exception(exc)
    if isinstance(exc, urllib3_errors.MaxRetryError) and exc.reason is not None:
        return translate(exc.reason)
    if isinstance(exc, urllib3_errors.NewConnectionError):
        return ClusterError(str(exc), reason="ConnectionRefused", transient=True)
    if isinstance(exc, urllib3_errors.TimeoutError | TimeoutError):
        return ClusterError(str(exc) or "timed out", reason="Timeout", transient=True)
    if isinstance(exc, urllib3_errors.SSLError | ssl.SSLError):
        return ClusterError(str(exc), reason="SSLError", transient=False)
    if isinstance(exc, urllib3_errors.ProtocolError):
        return ClusterError(str(exc), reason="ConnectionDropped", transient=True)
    if isinstance(exc, urllib3_errors.LocationValueError):
        return ClusterError(str(exc), reason="InvalidURL", transient=False)
    if isinstance(exc, ConfigException):
        return ClusterError(str(exc), reason="InvalidConfiguration", transient=False)
    if isinstance(exc, urllib3_errors.HTTPError | ConnectionError | OSError):
        return ClusterError(
            str(exc) or type(exc).__name__, reason="ConnectionError", transient=True
        )
    return ClusterError(str(exc) or type(exc).__name__, reason=type(exc).__name__)


def with_retries(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient cluster errors.

    Exponential backoff with full jitter: before retry ``n`` (0-based) sleep a random time in
    ``[0, min(max_delay, base_delay * 2**n)]``, or at least the server's Retry-After. A
    permanent error, or the last transient one, is raised as a ClusterError. Exceptions that
    are not cluster errors (bugs) propagate unchanged.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return fn()
        except _RETRYABLE as exc:
            error = translate(exc)
            if not error.transient or attempt == attempts - 1:
                if error is exc:
                    raise
                raise error from exc
            delay = random.uniform(0, min(max_delay, base_delay * 2**attempt))
            if error.retry_after is not None:
                delay = min(max_delay, max(delay, error.retry_after))
            logger.info(
                "cluster call failed (%s), retry %d/%d in %.2fs",
                error,
                attempt + 1,
                attempts - 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
