"""Domain errors. Services raise these; the API maps each kind once to a problem+json response."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base: a stable machine-readable ``code``, a human ``title`` and ``detail``."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    status, code, title = 428, "precondition-required", "Precondition required"


class Invalid(DomainError):
    """Input that is well-formed but cannot be accepted; ``errors`` lists every offending part."""

    status, code, title = 422, "validation-error", "Invalid input"


class InstrumentChanged(DomainError):
    """A published instrument file changed under the same version."""

    status, code, title = 500, "instrument-changed", "Instrument file changed"


class Busy(DomainError):
    """The service is saturated (e.g. every workbook parser is busy); the client should retry."""

    status, code, title = 503, "busy", "Service busy"
    retry_after_seconds = 5
