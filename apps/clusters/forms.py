"""Forms of the clusters app: the operators' cluster form in the admin console."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.clusters.choices import AuthMethod
from apps.clusters.models import Cluster


class ClusterAdminForm(forms.ModelForm):
    """Checks that the chosen way of connecting has what it needs."""

    api_url = forms.URLField(
        required=False,
        max_length=300,
        assume_scheme="https",
        label="API URL",
        help_text="e.g. https://10.0.0.1:6443 (the sandbox: http://127.0.0.1:8001/clusters/NAME).",
    )

    class Meta:
        model = Cluster
        fields = [
            "name",
            "display_name",
            "description",
            "region",
            "is_active",
            "auth_method",
            "api_url",
            "token_file",
            "kubeconfig_path",
            "kube_context",
            "ca_cert_path",
            "verify_ssl",
            "timeout_seconds",
            "uses_kueue",
            "uses_kserve",
            "gpu_products",
            "allow_overcommit",
            "drift_policy",
        ]

    def clean_gpu_products(self) -> list[str]:
        value = self.cleaned_data.get("gpu_products") or []
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise forms.ValidationError(
                'Give a list of GPU product names, e.g. ["NVIDIA-H100-80GB-HBM3"].'
            )
        return [item.strip() for item in value]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        method = data.get("auth_method")
        if method in (AuthMethod.API_TOKEN, AuthMethod.NONE) and not data.get("api_url"):
            self.add_error("api_url", "This way of connecting needs the API server's URL.")
        if method == AuthMethod.API_TOKEN and not data.get("token_file"):
            self.add_error("token_file", "Name the file that holds the bearer token.")
        if method != AuthMethod.API_TOKEN and data.get("token_file"):
            self.add_error("token_file", "A token file is only used with the API token method.")
        if method != AuthMethod.KUBECONFIG and (
            data.get("kubeconfig_path") or data.get("kube_context")
        ):
            self.add_error(
                "kubeconfig_path", "A kubeconfig is only used with the kubeconfig method."
            )
        return data
