"""Forms of the quota pages. They parse input; the rules live in services.py."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import is_operator, team_ids_of
from apps.clusters.models import Cluster, TeamNamespace
from apps.quotas import selectors
from apps.quotas.services import MAX_GPUS_PER_REQUEST, MAX_JUSTIFICATION, MAX_REASON


class NamespaceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.cluster.name} / {obj.name} ({obj.team.slug})"


class QuotaRequestForm(forms.Form):
    """The request form: only the user's teams and those teams' namespaces are offered."""

    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        empty_label="Choose a team",
        error_messages={"invalid_choice": "Choose one of your teams."},
    )
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.none(),
        empty_label="Choose a cluster",
        error_messages={"invalid_choice": "That cluster does not exist or has been retired."},
    )
    namespace = NamespaceChoiceField(
        queryset=TeamNamespace.objects.none(),
        empty_label="Choose a namespace",
        error_messages={"invalid_choice": "Choose a namespace your team owns."},
    )
    gpu_product = forms.ChoiceField(
        label="GPU product",
        error_messages={"invalid_choice": "%(value)s is not a GPU product of any cluster."},
    )
    gpus = forms.IntegerField(
        label="GPUs",
        min_value=1,
        max_value=MAX_GPUS_PER_REQUEST,
        error_messages={
            "invalid": "Give the number of GPUs as a whole number.",
            "min_value": "Ask for at least 1 GPU.",
            "max_value": f"At most {MAX_GPUS_PER_REQUEST} GPUs per request.",
        },
        widget=forms.NumberInput(attrs={"step": 1, "min": 1}),
    )
    starts_on = forms.DateField(
        label="Start date",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Give a start date as YYYY-MM-DD."},
    )
    ends_on = forms.DateField(
        label="End date (last day)",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Give an end date as YYYY-MM-DD."},
    )
    justification = forms.CharField(
        max_length=MAX_JUSTIFICATION,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the GPUs are for: the project, the experiment, the deadline.",
    )
    submit_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if is_operator(user):
            teams = Team.objects.all()
            namespaces = TeamNamespace.objects.filter(cluster__is_active=True)
        else:
            team_ids = team_ids_of(user)
            teams = Team.objects.filter(pk__in=team_ids)
            namespaces = TeamNamespace.objects.filter(team_id__in=team_ids, cluster__is_active=True)
        self.fields["team"].queryset = teams.order_by("slug")  # type: ignore[attr-defined]
        self.fields["cluster"].queryset = Cluster.objects.active()  # type: ignore[attr-defined]
        self.fields["namespace"].queryset = namespaces.select_related(  # type: ignore[attr-defined]
            "cluster", "team"
        ).order_by("cluster__name", "name")
        self.fields["gpu_product"].choices = [("", "Choose a GPU product")] + [  # type: ignore[attr-defined]
            (p, p) for p in selectors.all_products()
        ]
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("submit_key", uuid.uuid4().hex)
            self.initial.setdefault("starts_on", today)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", "The end date is before the start date.")
        return data


class ApproveForm(forms.Form):
    """Approve, possibly a different count (then the reason is required, by the service)."""

    granted_gpus = forms.IntegerField(
        label="GPUs to grant",
        required=False,
        min_value=1,
        max_value=MAX_GPUS_PER_REQUEST,
        error_messages={
            "invalid": "Give the number of GPUs as a whole number.",
            "min_value": "Grant at least 1 GPU, or reject the request.",
            "max_value": f"At most {MAX_GPUS_PER_REQUEST} GPUs per request.",
        },
    )
    reason = forms.CharField(required=False, max_length=MAX_REASON)


class ReasonForm(forms.Form):
    """Reject, revoke: a reason is required."""

    reason = forms.CharField(
        max_length=MAX_REASON,
        error_messages={"required": "Give a reason; the requester will read it."},
    )


class OptionalReasonForm(forms.Form):
    """Cancel, retry: a reason is welcome but optional."""

    reason = forms.CharField(required=False, max_length=MAX_REASON)
