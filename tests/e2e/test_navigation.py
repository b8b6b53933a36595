"""Each role signs in, visits every area in its navigation, and meets no broken page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import TeamFactory, member_of, operator, platform_lead

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _people() -> dict[str, Any]:
    team = TeamFactory.create(slug="vision", name="Vision")
    return {
        "data scientist": member_of(team, username="dora", role="maintainer"),
        "platform lead": platform_lead(username="lena"),
        "operator": operator(username="oscar"),
    }


@pytest.mark.parametrize("role", ["data scientist", "platform lead", "operator"])
def test_every_area_in_the_navigation_works_for_each_role(
    role: str, page: Any, live_url: str, login: Any, check_page: Any
) -> None:
    user = _people()[role]
    login(page, user.username)
    check_page(page)
    nav = page.get_by_role("navigation", name="Main")
    links = nav.locator("ul.nav-areas a")
    areas = {
        links.nth(i).inner_text(): links.nth(i).get_attribute("href") for i in range(links.count())
    }
    assert {"Home", "Teams", "Operations", "Audit"} <= set(areas)
    assert ("Admin" in areas) == (role == "operator")
    for name, href in areas.items():
        response = page.goto(f"{live_url}{href}")
        assert response is not None and response.status == 200, f"{name}: {response}"
        check_page(page)


def test_a_data_scientist_is_refused_the_admin_console(
    page: Any, live_url: str, login: Any
) -> None:
    user = _people()["data scientist"]
    login(page, user.username)
    response = page.goto(f"{live_url}/admin/")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="403 — Not allowed").is_visible()


def test_a_health_check_reaches_succeeded_without_a_reload(
    page: Any, live_url: str, login: Any, check_page: Any
) -> None:
    """GIVEN a signed-in member on the operations page
    WHEN they run a health check
    THEN its status updates live to succeeded (tasks run inline on the live server)."""
    user = _people()["data scientist"]
    login(page, user.username)
    page.goto(f"{live_url}/operations/")
    page.get_by_role("button", name="Run a health check").click()
    page.get_by_text("Succeeded").wait_for()
    check_page(page)
