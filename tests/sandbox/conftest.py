"""Sandbox tests: fixtures from the sandbox's pytest plugin (no Django needed)."""

from worker.sandbox.pytest_plugin import k8s_sandbox, k8s_sandbox_factory

__all__ = ["k8s_sandbox", "k8s_sandbox_factory"]
