"""Domain errors that views turn into messages and the API into 4xx JSON."""


class DomainError(Exception):
    """A rule of the domain forbids this (illegal transition, bad input). Shown to users."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The acting user may not do this."""

    status_code = 403


class Conflict(DomainError):
    """The object changed under the request (someone else acted first)."""

    status_code = 409
