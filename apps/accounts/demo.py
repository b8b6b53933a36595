"""Demo data of the accounts app: teams and one user for each platform role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts.models import Membership, Team

TEAMS = [
    ("vision", "Vision", "CC-1100", "Image classification and detection models."),
    ("nlp", "Language", "CC-1200", "LLM applications, retrieval and ranking."),
    ("recsys", "Recommendations", "CC-1300", "Recommenders and fraud detection."),
    ("platform", "AI Platform", "CC-9000", "Owns the paved road: GPUs, registry, rollouts."),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: str
    teams: tuple[tuple[str, str], ...]
    lead: bool = False
    operator: bool = False


USERS = [
    DemoUser(
        "ada",
        "Ada Lovelace",
        "data scientist (maintainer of vision)",
        (("vision", "maintainer"), ("nlp", "member")),
    ),
    DemoUser("grace", "Grace Hopper", "data scientist (member of recsys)", (("recsys", "member"),)),
    DemoUser("lin", "Lin Chen", "platform lead", (("platform", "maintainer"),), lead=True),
    DemoUser(
        "omar", "Omar Haddad", "operator (admin console)", (("platform", "member"),), operator=True
    ),
]


def seed(out: Any) -> list[tuple[str, str, str]]:
    """Create (or update) the demo teams and users. Returns (username, password, role)."""
    password = settings.TARMAC_DEMO_PASSWORD
    teams = {}
    for slug, name, cost_centre, description in TEAMS:
        teams[slug], _ = Team.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "cost_centre": cost_centre, "description": description},
        )
    leads, _ = Group.objects.get_or_create(name=settings.PLATFORM_LEADS_GROUP)
    user_model = get_user_model()
    logins = []
    for demo in USERS:
        first, _, last = demo.full_name.partition(" ")
        user, _ = user_model.objects.get_or_create(username=demo.username)
        user.first_name, user.last_name = first, last
        user.email = f"{demo.username}@example.com"
        user.is_staff = user.is_superuser = demo.operator
        user.is_active = True
        user.set_password(password)
        user.save()
        if demo.lead:
            user.groups.add(leads)
        for slug, role in demo.teams:
            Membership.objects.update_or_create(
                user=user, team=teams[slug], defaults={"role": role}
            )
        logins.append((demo.username, password, demo.role))
    out.write(f"  teams: {', '.join(teams)}")
    return logins
