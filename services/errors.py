"""Domain errors. The web layer maps them to messages and statuses in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a rule of the domain refused the action."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that breaks a rule; ``errors`` maps field names to messages."""

    status_code = 400

    def __init__(self, errors: dict[str, str] | str, field: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {field or "": errors}
        self.errors = errors
        super().__init__("; ".join(str(v) for v in errors.values()), next(iter(errors)) or None)


class NotAuthorized(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The object changed under us, or the action is not allowed in its current state."""

    status_code = 409


class TooManyAttempts(DomainError):
    status_code = 429
