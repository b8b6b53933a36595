"""Domain errors particular to the registry (all subclasses of the shared DomainError)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apps.core.errors import DomainError

if TYPE_CHECKING:
    from apps.registry.gate import GateResult


class RegistryNotFound(DomainError):
    """The named model, version or alias does not exist (the API answers 404)."""

    status_code = 404


class GateFailed(DomainError):
    """The version does not meet the policy of the target; carries the checklist."""

    def __init__(self, message: str, *, gate: GateResult) -> None:
        super().__init__(message, field="gate")
        self.gate = gate


class EvalBatchError(DomainError):
    """At least one row of an eval-results batch is bad; nothing of the batch was stored.

    ``row_errors`` maps the row's index (from 0) to ``{field: [messages]}``.
    """

    def __init__(self, row_errors: dict[int, dict[str, list[str]]]) -> None:
        first = min(row_errors)
        fields = ", ".join(f"{k}: {' '.join(v)}" for k, v in row_errors[first].items())
        super().__init__(
            f"{len(row_errors)} row(s) are invalid, the first is row {first} ({fields}); "
            "nothing was stored.",
            field="rows",
        )
        self.row_errors = row_errors

    def as_body(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "code": "invalid",
            "errors": {"rows": {str(i): errs for i, errs in sorted(self.row_errors.items())}},
        }
