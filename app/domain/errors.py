"""Domain errors: what a use case refuses, and why. They say nothing of HTTP: the API maps each
kind once to a status (``app.api.problems``), the CLI to a message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base: a stable machine-readable ``code``, a human ``title`` and ``detail``."""

    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    code, title = "not-found", "Not found"


class Conflict(DomainError):
    code, title = "conflict", "Conflict"


class PreconditionFailed(DomainError):
    code, title = "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    code, title = "precondition-required", "Precondition required"


class Invalid(DomainError):
    """Input that is well-formed but cannot be accepted; ``errors`` lists every offending part."""

    code, title = "validation-error", "Invalid input"


class TooLarge(Invalid):
    """A file over its size limit; refused while it arrived, before it was read whole."""

    code, title = "content-too-large", "Content too large"


class Forbidden(DomainError):
    """The caller is known but its role does not allow this."""

    code, title = "forbidden", "Forbidden"


class Throttled(DomainError):
    """Too many attempts in a short time; ``retry_after`` says how many seconds to wait."""

    code, title = "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
