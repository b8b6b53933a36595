"""Two approvals racing for the last GPUs of a product: exactly one succeeds.

Needs PostgreSQL: SQLite serialises every write transaction (Tarmac opens them with
BEGIN IMMEDIATE), so two threads can never be inside the capacity check together there.
The sequential guard is tested on every database in test_services.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from apps.core import services as core_services
from apps.core.errors import DomainError
from apps.quotas import selectors, services
from apps.quotas.choices import QuotaStatus
from apps.quotas.models import QuotaRequest
from tests.quotas.factories import make_request

pytestmark = pytest.mark.django_db(transaction=True)

S = QuotaStatus


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the thread race needs PostgreSQL (SQLite serialises write transactions); "
            "run with DATABASE_URL=postgres://…"
        )


def race(*calls: Callable[[], Any]) -> list[str]:
    """Run the calls in threads released together; each returns "ok" or the error."""
    barrier = threading.Barrier(len(calls))
    results: list[str] = [""] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
            results[index] = "ok"
        except DomainError as exc:
            results[index] = exc.message
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    # The apply operations stay pending: no task runs, so no grant fails meanwhile and
    # gives its GPUs back.
    with mock.patch.object(core_services, "enqueue"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    return results


@contextmanager
def slow_reserved_gpus() -> Iterator[None]:
    """Widen the window between reading the grants and writing the approval: without the
    cluster row lock both approvals would read the same total and both pass."""
    real = selectors.reserved_gpus

    def slow(*args: Any, **kwargs: Any) -> int:
        time.sleep(0.3)
        return real(*args, **kwargs)

    selectors.reserved_gpus = slow
    try:
        yield
    finally:
        selectors.reserved_gpus = real


def test_two_approvals_racing_for_the_last_gpus_produce_exactly_one_success(
    member: Any, teammate: Any, lead: Any, second_lead: Any, vision_ns: Any
) -> None:
    """GIVEN 16 H100 allocatable, 6 granted, and two requests for 8 each
    WHEN two leads approve them at the same moment
    THEN one is approved and the other refused for capacity; 14 GPUs are granted."""
    make_request(vision_ns, member, status=S.ACTIVE, gpus=6)
    first = make_request(vision_ns, member, gpus=8)
    second = make_request(vision_ns, teammate, gpus=8)
    with slow_reserved_gpus():
        results = race(
            lambda: services.approve_request(QuotaRequest.objects.get(pk=first.pk), actor=lead),
            lambda: services.approve_request(
                QuotaRequest.objects.get(pk=second.pk), actor=second_lead
            ),
        )
    assert sorted(r == "ok" for r in results) == [False, True], results
    refusal = next(r for r in results if r != "ok")
    assert "6 already granted" not in refusal and "14 already granted or reserved" in refusal
    statuses = sorted(
        QuotaRequest.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    )
    assert statuses == [S.APPLYING, S.SUBMITTED]
    assert selectors.reserved_gpus(vision_ns.cluster_id, "NVIDIA-H100-80GB-HBM3") == 14


def test_two_leads_approving_the_same_request_produce_one_approval(
    member: Any, lead: Any, second_lead: Any, vision_ns: Any
) -> None:
    req = make_request(vision_ns, member, gpus=2)
    with slow_reserved_gpus():
        results = race(
            lambda: services.approve_request(QuotaRequest.objects.get(pk=req.pk), actor=lead),
            lambda: services.approve_request(
                QuotaRequest.objects.get(pk=req.pk), actor=second_lead
            ),
        )
    assert sorted(results) == ["Someone acted on this request meanwhile: it is now applying.", "ok"]
    assert QuotaRequest.objects.get(pk=req.pk).status == S.APPLYING
