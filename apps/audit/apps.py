from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only audit trail: who did what, to what, when and why."""

    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit"
