"""The bench harness measures what it says: percentiles, query counts, two scales."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Team
from bench.harness import Context, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile([7.0], 95) == 7.0


@pytest.mark.django_db
def test_measure_counts_the_queries_of_one_call(team: Any) -> None:
    ctx = Context()

    def two_queries() -> None:
        list(Team.objects.all())
        Team.objects.filter(slug="x").exists()

    timing = ctx.measure(two_queries, n=3, warmup=1)
    assert timing.queries == 2 and timing.samples == 3
    assert 0 < timing.p50_ms <= timing.p95_ms


@pytest.mark.django_db
def test_measure_get_counts_a_pages_queries_and_refuses_errors(member: Any) -> None:
    ctx = Context()
    client = ctx.client_for(member)
    assert ctx.measure_get(client, "/accounts/teams/", n=2).queries > 0
    with pytest.raises(AssertionError, match="404"):
        ctx.measure_get(client, "/no-such-page/", n=1, warmup=0)


def test_the_small_run_keeps_only_query_counts() -> None:
    ctx = Context(size="small")
    ctx.emit("x", "p95_ms", 3.0, "ms", "10 rows")
    ctx.emit("x", "queries", 4, "queries", "10 rows")
    assert [(r.metric, r.value) for r in ctx.results] == [("queries_small", 4)]
    assert ctx.pick(1000, 10) == 10
