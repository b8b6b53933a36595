"""Forms of the registry pages. State changes still go through services.py."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.registry.choices import Stage, TargetKind

_ABSOLUTE = re.compile(
    r"^(?P<metric>[A-Za-z0-9_.:/@-]+)\s*(?P<op>>=|<=|>|<)\s*(?P<threshold>\S+)"
    r"(?:\s+on\s+(?P<dataset>\S+))?$",
    re.IGNORECASE,
)
_RELATIVE = re.compile(
    r"^(?P<metric>[A-Za-z0-9_.:/@-]+)(?:\s+on\s+(?P<dataset>\S+))?\s+within\s+"
    r"(?P<pct>\S+?)\s*%\s+of\s+(?:the\s+)?(?:current\s+)?holder"
    r"(?P<lower>\s*,?\s*lower\s+is\s+better)?$",
    re.IGNORECASE,
)
RULE_HELP = (
    "One rule a line: 'accuracy >= 0.92 on holdout-2026', 'latency_p95_ms <= 200', or "
    "'f1 on holdout-2026 within 0.5% of holder' (add ', lower is better' for latencies)."
)


def parse_rule_lines(text: str) -> list[dict[str, Any]]:
    """Read the policy form's rules, one a line; a line that cannot be read is an error."""
    rules: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if match := _RELATIVE.match(line):
            rules.append(
                {
                    "metric": match["metric"],
                    "dataset": match["dataset"] or "",
                    "relative_to_holder": True,
                    "max_regression_pct": match["pct"],
                    "higher_is_better": not match["lower"],
                }
            )
        elif match := _ABSOLUTE.match(line):
            rules.append(
                {
                    "metric": match["metric"],
                    "dataset": match["dataset"] or "",
                    "comparator": match["op"],
                    "threshold": match["threshold"],
                }
            )
        else:
            raise forms.ValidationError(f"Line {number} cannot be read: {line!r}. {RULE_HELP}")
    return rules


class AliasForm(forms.Form):
    alias = forms.CharField(max_length=64, help_text="e.g. champion, challenger")
    version = forms.IntegerField(min_value=1, label="Version number")
    reason = forms.CharField(max_length=2000, required=False)


class StageForm(forms.Form):
    stage = forms.ChoiceField(
        choices=[("", "No stage"), *Stage.choices], required=False, label="Stage"
    )
    reason = forms.CharField(max_length=2000, required=False)


class PromotionForm(forms.Form):
    target_kind = forms.ChoiceField(choices=TargetKind.choices, widget=forms.HiddenInput)
    target = forms.CharField(max_length=64, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class PolicyForm(forms.Form):
    target_kind = forms.ChoiceField(choices=TargetKind.choices, label="Protects")
    target = forms.CharField(max_length=64, label="Alias or stage name", initial="production")
    requires_approval = forms.BooleanField(required=False, label="A platform lead must approve")
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text=RULE_HELP
    )

    def clean_rules(self) -> list[dict[str, Any]]:
        return parse_rule_lines(self.cleaned_data.get("rules") or "")


class DecisionForm(forms.Form):
    reason = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
