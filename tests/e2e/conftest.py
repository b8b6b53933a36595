"""Browser tests: headless Debian Chromium driven by Playwright against a live server.

Never downloads a browser: it uses ``$CHROMIUM_PATH`` or /usr/bin/chromium, and skips
every e2e test with a plain reason when neither exists. ``check_page`` asserts what
a user would notice: no console errors, no broken static file, and no serious or
critical accessibility violation reported by axe-core (vendored in vendor/).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls in the
# test body are still plain synchronous calls, so allow them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "pw-for-tests-123"  # tests/factories.py UserFactory's password
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def live_url(live_server: Any) -> str:
    return str(live_server.url)


def _watch(page: Any) -> Any:
    """Record console errors, failed requests and 4xx/5xx static files on the page."""
    if getattr(page, "_tarmac_problems", None) is not None:
        return page
    problems: list[str] = []
    page._tarmac_problems = problems
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # A request aborted because the page navigated away is not a broken file.
    page.on(
        "requestfailed",
        lambda req: (
            problems.append(f"request failed: {req.url} ({req.failure})")
            if "ERR_ABORTED" not in (req.failure or "")
            else None
        ),
    )
    page.on(
        "response",
        lambda resp: (
            problems.append(f"HTTP {resp.status}: {resp.url}")
            if "/static/" in resp.url and resp.status >= 400
            else None
        ),
    )
    return page


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """Open pages in fresh browser contexts (one per simulated person)."""
    contexts: list[Any] = []

    def open_page() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return _watch(context.new_page())

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


@pytest.fixture
def login(live_url: str) -> Callable[..., None]:
    """Sign in through the real login form."""

    def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
        _watch(page)
        page.goto(f"{live_url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return sign_in


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page."""
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in {"serious", "critical"}]


@pytest.fixture
def check_page() -> Callable[[Any], None]:
    """Assert the page has no console errors, broken static files or a11y violations."""

    def check(page: Any) -> None:
        if getattr(page, "_tarmac_problems", None) is None:
            _watch(page)
            page.reload()
        page.wait_for_load_state("networkidle")
        problems = list(page._tarmac_problems)
        page._tarmac_problems.clear()
        assert not problems, f"{page.url}: {problems}"
        violations = axe_violations(page)
        summary = [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] for n in v["nodes"][:3])
            for v in violations
        ]
        assert not violations, f"{page.url} accessibility: {summary}"

    return check
