"""Every page answers for a signed-in user; unknown URLs give the portal's 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGES = ["/", "/accounts/teams/", "/accounts/tokens/", "/operations/", "/audit/", "/api/docs/"]


@pytest.mark.parametrize("url", PAGES)
def test_signed_in_member_sees_page(client: Client, member: Any, url: str) -> None:
    client.force_login(member)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES[:-1])
def test_anonymous_user_is_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_unknown_url_renders_portal_404(client: Client, member: Any) -> None:
    client.force_login(member)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Tarmac" in response.content


def test_unknown_api_url_answers_json_404(client: Client, member: Any) -> None:
    client.force_login(member)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_nul_character_in_a_filter_or_form_is_a_400_page(client: Client, member: Any) -> None:
    client.force_login(member)
    response = client.get("/operations/?kind=a%00b")
    assert response.status_code == 400
    assert b"NUL character" in response.content
    response = client.post("/accounts/tokens/", {"name": "laptop\x00"})
    assert response.status_code == 400
    assert b"NUL character" in response.content
