"""factory_boy factories shared by every test module."""

from __future__ import annotations

from typing import Any

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts.models import Membership, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.django.Password("pw-for-tests-123")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())
    cost_centre = factory.Sequence(lambda n: f"CC-{1000 + n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.MEMBER


def member_of(team: Team, *, role: str = "member", **user_fields: Any) -> Any:
    """A new user who belongs to ``team`` with ``role``."""
    user = UserFactory.create(**user_fields)
    MembershipFactory.create(user=user, team=team, role=role)
    return user


def platform_lead(**user_fields: Any) -> Any:
    """A new user in the platform-leads group."""
    user = UserFactory.create(**user_fields)
    group, _ = Group.objects.get_or_create(name=settings.PLATFORM_LEADS_GROUP)
    user.groups.add(group)
    return user


def operator(**user_fields: Any) -> Any:
    """A new staff user (an operator of the admin console)."""
    return UserFactory.create(is_staff=True, is_superuser=True, **user_fields)
