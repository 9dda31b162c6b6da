"""RFC 9457 problem details: every error leaves the API as application/problem+json."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.api.observe import current_request_id
from app.db.errors import Busy
from app.domain.answers import AnswersInvalid
from app.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Throttled,
    TooLarge,
)
from app.services.evidence_store import StoreUnavailable

log = logging.getLogger("oca.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://oca-engine.org/problems/"

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for this key's role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("content-too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
}


class ProblemError(BaseModel):
    """One offending field, item or cell."""

    model_config = ConfigDict(extra="allow")

    pointer: str | None = Field(default=None, description="JSON pointer into the request body")
    item: str | None = Field(default=None, description="Instrument item key")
    code: str | None = None
    detail: str
    detail_es: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[TYPE_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["organization 0190… does not exist"])
    instance: str | None = None
    request_id: str | None = Field(
        default=None, description="The request's id (also the X-Request-ID header): quote it"
    )
    errors: list[ProblemError] | None = None


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "/" + "/".join(parts)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API offers on this path, read from its OpenAPI document."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if table is None:
        table = [
            (compile_path(path)[0], {m.upper() for m in ops})
            for path, ops in request.app.openapi().get("paths", {}).items()
        ]
        request.app.state.allowed_methods = table
    methods: set[str] = set()
    for pattern, ops in table:
        if pattern.match(request.url.path):
            methods |= ops
    return sorted(methods)


# The one place a domain error becomes an HTTP status.
_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (PreconditionRequired, 428),
    (TooLarge, 413),
    (Invalid, 422),
)


def add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 400)
        return problem_response(
            status, exc.code, exc.title, exc.detail, instance=request.url.path, **exc.extra
        )

    @app.exception_handler(Throttled)
    async def _throttled(request: Request, exc: Throttled) -> JSONResponse:
        return problem_response(
            429,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return problem_response(
            503,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return problem_response(
            503,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers={"Retry-After": str(exc.retry_after)} if exc.retry_after else None,
            detail_es=exc.detail_es,
            reason=exc.reason,
        )

    @app.exception_handler(AnswersInvalid)
    async def _answers(request: Request, exc: AnswersInvalid) -> JSONResponse:
        errors = [
            {
                "pointer": f"/answers/{p.index}" if p.index is not None else None,
                "item": p.item,
                "code": p.code,
                "detail": p.en,
                "detail_es": p.es,
            }
            for p in exc.problems
        ]
        return problem_response(
            422,
            "invalid-answers",
            "Invalid answers",
            f"{len(errors)} answer(s) cannot be accepted; nothing was written",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "pointer": _pointer(tuple(e.get("loc", ()))),
                "code": e.get("type"),
                "detail": e["msg"],
            }
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation-error",
            "Invalid input",
            "the request does not match the schema; nothing was written",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; RFC 9110 wants them all.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(
            exc.status_code,
            code,
            title,
            detail,
            instance=request.url.path,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal-error",
            "Internal server error",
            "an unexpected error occurred; it has been logged",
            instance=request.url.path,
        )
