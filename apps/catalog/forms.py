"""Forms of the catalog: ingest a file or pasted YAML, register a location."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Team
from apps.catalog.choices import SourceKind
from apps.catalog.descriptors import MAX_FILE_CHARS


class IngestForm(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        label="Team",
        help_text="The team this ingest acts for.",
    )
    source_name = forms.CharField(
        label="Source name",
        required=False,
        max_length=200,
        help_text="Re-ingesting under the same name replaces that set: entities missing from "
        "it become orphaned. Blank: the first entity's reference.",
    )
    file = forms.FileField(label="Upload catalog-info.yaml", required=False)
    text = forms.CharField(
        label="…or paste YAML",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, teams: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        upload = data.get("file")
        text = data.get("text") or ""
        if upload and text.strip():
            raise forms.ValidationError("Upload a file or paste YAML, not both.")
        if upload:
            if upload.size > MAX_FILE_CHARS:
                self.add_error("file", f"The file is larger than {MAX_FILE_CHARS:,} bytes.")
                return data
            try:
                data["yaml"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return data
            data["kind"] = SourceKind.UPLOAD
            data["source_name"] = data.get("source_name") or ""
        elif text.strip():
            data["yaml"] = text
            data["kind"] = SourceKind.PASTE
        else:
            raise forms.ValidationError("Upload a file or paste YAML.")
        return data


class LocationForm(forms.Form):
    url = forms.URLField(
        label="URL of a catalog-info.yaml",
        max_length=1000,
        assume_scheme="https",
        help_text="http(s) only. Location entities in it are followed relative to it.",
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), label="Team")

    def __init__(self, *args: Any, teams: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()
