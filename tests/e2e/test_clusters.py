"""In headless Chromium: the Clusters page and a cluster's page are accessible, and
"Sync now" shows the operation's status live (tasks run inline on the live server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.clusters.models import GpuUsageHour
from tests.clusters.factories import H100, ClusterFactory, TeamNamespaceFactory
from tests.factories import TeamFactory, platform_lead
from tests.kube.cluster import cluster_objects
from worker.sandbox.testing import running_sandbox

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


def test_a_lead_reads_the_inventory_and_syncs_a_cluster_now(
    page: Any, live_url: str, login: Any, check_page: Any
) -> None:
    """GIVEN a cluster served by the sandbox, with history, and a platform lead
    WHEN the lead opens the Clusters page, then the cluster, and clicks "Sync now"
    THEN both pages pass the accessibility check and the sync shows Succeeded with the GPUs."""
    lead = platform_lead(username="lena")
    with running_sandbox(seed=cluster_objects()) as sandbox:
        cluster = ClusterFactory.create(
            name="train-e2e", display_name="Training E2E", api_url=sandbox.url
        )
        TeamNamespaceFactory.create(
            cluster=cluster, team=TeamFactory.create(slug="a"), name="team-a"
        )
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        for back in range(6):
            GpuUsageHour.objects.create(
                cluster=cluster,
                hour=hour - timedelta(hours=back + 1),
                gpu_product=H100,
                allocatable=24,
                requested=8 + back,
            )
        login(page, lead.username)

        page.goto(f"{live_url}/clusters/")
        assert page.get_by_role("heading", name="Training E2E").is_visible()
        assert page.get_by_text("Not synced yet").is_visible()
        check_page(page)

        page.get_by_role("link", name="Training E2E").click()
        page.wait_for_url(f"{live_url}/clusters/train-e2e/")
        page.wait_for_load_state()  # htmx has wired the buttons
        page.get_by_role("button", name="Sync now").click()
        page.locator("#cluster-action").get_by_text("Succeeded").wait_for()
        check_page(page)

        page.reload()
        assert page.get_by_role("cell", name=H100).first.is_visible()
        assert page.locator("#capacity-chart").is_visible()
        check_page(page)
