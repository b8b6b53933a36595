"""No page or form answers with a server error, whatever is typed into it.

On the demo data, each role follows every link the portal shows it (from Home, breadth
first), then asks each page again with nonsense in its filters, and submits every form it
was shown with nonsense in every field. A view that raises fails the test with its
traceback (the test client re-raises); a 5xx it renders itself fails it too.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from io import StringIO
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

ROLES = ["ada", "lin", "omar"]  # data scientist (maintainer), platform lead, operator
NOT_FOLLOWED = ("/accounts/logout/", "/admin/", "/static/", "/api/")
MAX_PAGES = 120
# Typed by people and scripts: empty, wrong type, out of range, markup, NUL, a bad date.
NONSENSE = ["", "abc", "-1", "99999999999999999999", "<b>x</b>\x00", "2026-13-45"]
COMMON_FILTERS = ["page", "sort", "q", "team", "status", "kind", "stage", "since", "v"]


class PageParts(HTMLParser):
    """The links and POST forms of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str | None, set[str]]] = []  # (action, field names)
        self._form: tuple[str | None, set[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "a" and attr.get("href"):
            self.links.append(attr["href"] or "")
        elif tag == "form" and (attr.get("method") or "").lower() == "post":
            self._form = (attr.get("action"), set())
            self.forms.append(self._form)
        elif tag in {"input", "select", "textarea"} and self._form and attr.get("name"):
            self._form[1].add(attr["name"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parts_of(response: Any) -> PageParts:
    parser = PageParts()
    if response.get("Content-Type", "").startswith("text/html"):
        parser.feed(response.content.decode())
    return parser


def local_path(base: str, href: str) -> str | None:
    url = urlsplit(urljoin("http://testserver" + base, href))
    if url.netloc != "testserver" or url.path.startswith(NOT_FOLLOWED):
        return None
    return url.path + (f"?{url.query}" if url.query else "")


@pytest.fixture
def demo(db: Any) -> None:
    call_command("seed_demo", stdout=StringIO())


def crawl(client: Client) -> dict[str, PageParts]:
    """Every page reachable from Home (up to MAX_PAGES), each checked for a server error."""
    pages: dict[str, PageParts] = {}
    queue = deque(["/"])
    while queue and len(pages) < MAX_PAGES:
        path = queue.popleft()
        if path in pages:
            continue
        response = client.get(path)
        assert response.status_code < 500, f"GET {path}: {response.status_code}"
        pages[path] = parts_of(response)
        for href in pages[path].links:
            target = local_path(path, href)
            if target and target not in pages:
                queue.append(target)
    return pages


@pytest.mark.parametrize("username", ROLES)
def test_every_page_answers_with_nonsense_in_its_filters(demo: None, username: str) -> None:
    client = Client()
    client.force_login(User.objects.get(username=username))
    pages = crawl(client)
    assert len(pages) > 20
    for path in {urlsplit(p).path: p for p in pages}.values():
        url = urlsplit(path)
        keys = [key for key, _ in parse_qsl(url.query, keep_blank_values=True)] or COMMON_FILTERS
        for value in NONSENSE:
            query = urlencode([(key, value) for key in keys])
            response = client.get(f"{url.path}?{query}")
            assert response.status_code < 500, f"GET {url.path}?{query}: {response.status_code}"


@pytest.mark.parametrize("username", ROLES)
def test_every_form_takes_nonsense_without_a_server_error(demo: None, username: str) -> None:
    client = Client()
    client.force_login(User.objects.get(username=username))
    forms: dict[str, tuple[str, set[str]]] = {}  # action -> (the page it is on, its fields)
    for path, parts in crawl(client).items():
        for action, fields in parts.forms:
            target = local_path(path, action or path)
            if target:
                forms.setdefault(target, (path, fields - {"csrfmiddlewaretoken"}))
    assert len(forms) > 10
    for action, (page, fields) in sorted(forms.items()):
        for value in NONSENSE:
            data = {field: value for field in fields}
            response = client.post(action, data, HTTP_REFERER=f"http://testserver{page}")
            assert response.status_code < 500, f"POST {action} {data}: {response.status_code}"
