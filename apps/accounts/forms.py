"""Forms of the accounts app."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.choices import TeamRole
from apps.accounts.models import Team
from apps.accounts.services import MAX_TOKEN_DAYS


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'ci-registry-upload'.")
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        empty_label="Personal (acts as you)",
        label="Scope",
        help_text="A team token acts as the team's service account, not as you.",
    )
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=MAX_TOKEN_DAYS, initial=90, label="Expires in (days)"
    )

    def __init__(self, *args: Any, maintained_teams: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = (
            maintained_teams if maintained_teams is not None else Team.objects.none()
        )


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=TeamRole.choices, initial=TeamRole.MEMBER)
