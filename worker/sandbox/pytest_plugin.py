"""pytest fixtures for the Kubernetes API sandbox (no Django needed).

Use from a conftest by importing the fixtures (``pytest_plugins`` is only allowed in the
root conftest)::

    from worker.sandbox.pytest_plugin import k8s_sandbox, k8s_sandbox_factory  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from worker.sandbox.testing import Sandbox, start_sandbox


@pytest.fixture
def k8s_sandbox() -> Iterator[Sandbox]:
    """A fresh, empty sandbox cluster ("default") for one test; no RBAC, no token."""
    sandbox = start_sandbox()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def k8s_sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with options (``seed``, ``rbac_rules``, ``token``, ``strict_fields``).

    Every sandbox started through the factory is stopped when the test ends.
    """
    started: list[Sandbox] = []

    def factory(**options: Any) -> Sandbox:
        sandbox = start_sandbox(**options)
        started.append(sandbox)
        return sandbox

    try:
        yield factory
    finally:
        for sandbox in started:
            sandbox.stop()
