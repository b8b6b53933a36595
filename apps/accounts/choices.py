"""Roles inside a team."""

from django.db import models


class TeamRole(models.TextChoices):
    """A member uses the team's resources; a maintainer also manages members and tokens."""

    MEMBER = "member", "Member"
    MAINTAINER = "maintainer", "Maintainer"
