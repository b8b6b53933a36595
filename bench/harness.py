"""The bench harness: a Context that scenarios use to measure and record figures.

Server time is measured in-process around Django's test client (the whole request
through middleware, view, ORM and template), which is what the issues' "p95 server
time" targets mean. Query counts come from ``CaptureQueriesContext``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p95_ms: float
    queries: int
    samples: int


@dataclass(frozen=True)
class Result:
    scenario: str
    metric: str
    value: float
    unit: str
    scale: str


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Context], None]
    description: str = ""


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), as load tools report it."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Context:
    """Handed to every scenario: measure, record, and make signed-in clients."""

    results: list[Result] = field(default_factory=list)
    # Every scenario runs twice: "small" (in its own database) to show that query
    # counts do not grow with the data, then "full" at the scale the issue states.
    size: str = "full"

    def pick(self, full: Any, small: Any) -> Any:
        """The value for the current size: ``ctx.pick(1_000_000, 1_000)``."""
        return small if self.size == "small" else full

    def measure(self, fn: Callable[[], Any], *, n: int = 100, warmup: int = 5) -> Timing:
        """Time ``fn`` ``n`` times after ``warmup`` calls; count the queries of one call."""
        for _ in range(warmup):
            fn()
        # A request clears the query log when it starts; start the capture from empty so
        # that the slice CaptureQueriesContext takes is the request's own queries.
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            fn()
        query_count = len(captured)  # read now: the log is cleared by the next request
        durations = []
        for _ in range(n):
            started = time.perf_counter()
            fn()
            durations.append((time.perf_counter() - started) * 1000)
        return Timing(
            p50_ms=round(statistics.median(durations), 2),
            p95_ms=round(percentile(durations, 95), 2),
            queries=query_count,
            samples=n,
        )

    def measure_get(self, client: Any, url: str, *, n: int = 100, warmup: int = 5) -> Timing:
        """Measure GET ``url``; fails loudly if the page does not answer 200."""

        def fetch() -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise AssertionError(f"GET {url} answered {response.status_code}")

        return self.measure(fetch, n=n, warmup=warmup)

    def emit(self, scenario: str, metric: str, value: float, unit: str, scale: str) -> None:
        """Record a figure. In the small run only query counts are kept (as queries_small)."""
        if self.size == "small":
            if metric != "queries":
                return
            metric = "queries_small"
        self.results.append(Result(scenario, metric, round(float(value), 3), unit, scale))

    def emit_timing(self, scenario: str, timing: Timing, scale: str) -> None:
        """Record p50, p95 and the query count of one measurement."""
        self.emit(scenario, "p50_ms", timing.p50_ms, "ms", scale)
        self.emit(scenario, "p95_ms", timing.p95_ms, "ms", scale)
        self.emit(scenario, "queries", timing.queries, "queries", scale)

    def client_for(self, user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def api_client_for(self, user: Any, *, team: Any = None) -> Any:
        """A DRF APIClient authenticated with a fresh API token of ``user`` (or ``team``)."""
        from rest_framework.test import APIClient

        from apps.accounts.services import create_token

        issued = create_token(actor=user, name="bench", team=team, expires_in_days=1)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
        return client


def print_table(results: list[Result]) -> None:
    header = f"{'scenario':<34} {'metric':<18} {'value':>12} {'unit':<10} scale"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.scenario:<34} {r.metric:<18} {r.value:>12} {r.unit:<10} {r.scale}")


def write_json(results: list[Result], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
