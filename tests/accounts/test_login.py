"""Signing in with local accounts, and throttling of failed attempts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_user_signs_in_and_lands_on_home(client: Client, member: Any, settings: Any) -> None:
    settings.AXES_ENABLED = True
    response = client.post(
        "/accounts/login/", {"username": member.username, "password": "pw-for-tests-123"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert b"My teams" in client.get("/").content


def test_repeated_failed_sign_ins_are_throttled(client: Client, member: Any, settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": member.username, "password": "wrong"})
    # Even the right password is refused while the account cools off.
    response = client.post(
        "/accounts/login/", {"username": member.username, "password": "pw-for-tests-123"}
    )
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content


def test_sign_out_requires_post(client: Client, member: Any) -> None:
    client.force_login(member)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
