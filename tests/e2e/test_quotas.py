"""The GPU quota journey in the browser: a member asks, a lead approves in another
browser, a real worker applies it to the sandbox, and the member's page turns active
without a reload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.quotas.models import QuotaRequest
from tests.factories import TeamFactory, member_of, platform_lead
from tests.quotas.factories import H100, make_cluster, make_namespace
from worker.kube import clear_client_cache
from worker.sandbox import seed
from worker.sandbox.testing import Sandbox, running_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    clear_client_cache()
    with running_sandbox(seed=[seed.namespace("team-vision")]) as box:
        yield box
    clear_client_cache()


def test_a_member_asks_a_lead_approves_and_the_quota_becomes_active_without_a_reload(
    new_page: Any,
    live_url: str,
    login: Any,
    check_page: Any,
    live_worker: Any,
    sandbox: Sandbox,
) -> None:
    team: Any = TeamFactory(slug="vision", name="Vision")
    member_of(team, username="dora")
    platform_lead(username="lena")
    cluster = make_cluster("train-eu", api_url=sandbox.url)
    make_namespace(cluster, team, "team-vision")

    # The member fills in the form; the panel beside it shows what is free.
    member = new_page()
    login(member, "dora")
    member.goto(f"{live_url}/quotas/new/")
    member.get_by_label("Team").select_option(label="Vision")
    member.get_by_label("Cluster").select_option(label="train-eu")
    member.get_by_label("GPU product").select_option(H100)
    member.locator("#capacity-panel").get_by_text("Free to grant").wait_for()
    member.get_by_label("Namespace").select_option(label="train-eu / team-vision (vision)")
    member.get_by_label("GPUs", exact=False).first.fill("3")
    end = timezone.localdate() + timedelta(days=6)
    member.get_by_label("End date").fill(end.isoformat())
    member.get_by_label("Justification").fill("Fine-tune the detector on the new labels.")
    check_page(member)
    member.get_by_role("button", name="Submit the request").click()
    member.wait_for_url(re.compile(r"/quotas/\d+/$"))
    req = QuotaRequest.objects.get()
    member.locator("#request-status").get_by_text("Awaiting approval").wait_for()
    check_page(member)

    # A platform lead, in a second browser, approves it inline in the queue.
    lead = new_page()
    login(lead, "lena")
    lead.goto(f"{live_url}/quotas/")
    row = lead.locator(f"#request-row-{req.pk}")
    row.get_by_text(f"Decide #{req.pk}").click()
    check_page(lead)
    row.get_by_role("button", name="Approve").click()
    lead.locator(f"#request-row-{req.pk}").get_by_text(re.compile("Applying|Active")).wait_for()

    # The member's page follows by itself: applying, then active.
    member.locator("#request-status .badge-active").wait_for(timeout=60_000)
    assert "Active" in member.locator("#request-status").inner_text()
    check_page(member)
    stored = sandbox.state.get("ResourceQuota", "team-vision", "tarmac-gpu-quota")
    assert stored is not None
    assert stored["spec"]["hard"] == {"requests.nvidia.com/gpu": "3"}
    lead.locator(f"#request-row-{req.pk} .badge-active").wait_for(timeout=30_000)

    # The team's quota page shows the grant, with its chart and the same numbers.
    member.goto(f"{live_url}/quotas/teams/vision/")
    member.locator("#quota-history").wait_for()
    assert "NVIDIA-H100-80GB-HBM3" in member.locator("main").inner_text()
    check_page(member)
