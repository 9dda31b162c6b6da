"""What an operator sees of each request: a request id, one access line, and safe response headers.

- Every request gets an id: the caller's ``X-Request-ID`` when it is a sane token, a new one
  otherwise. It is returned in the ``X-Request-ID`` header and in every problem+json body, and it
  stands on every log line written while the request runs, so a user's error report can be traced.
- One access line per request: method, path (never the query string, which may carry names), route
  template, status, duration. Never keys, passwords or answer values.
- Security headers on every response; the Content-Security-Policy is strict for everything but the
  interactive docs page, which runs the documentation viewer's own script.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any, Literal

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.metrics import record_request

REQUEST_ID: ContextVar[str | None] = ContextVar("oca_request_id", default=None)

_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")

access_log = logging.getLogger("oca.access")
error_log = logging.getLogger("oca.api")

# The documentation viewer (Swagger UI) is a page that runs the app's own copy of its script
# (app/web/static/swagger): scripts and styles from this site only; its icons are data: URLs.
_DOCS_PATHS = frozenset({"/docs"})
_STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; "
    "form-action 'self'"
)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def accepted_request_id(value: str | None) -> str:
    """The caller's id when it is a short token of safe characters; a new one otherwise."""
    if value is not None and _SANE_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestContext:
    """Outermost middleware: request id, security headers and the access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"),
            None,
        )
        request_id = accepted_request_id(incoming)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        https = scope.get("scheme") == "https"
        csp = _DOCS_CSP if scope.get("path") in _DOCS_PATHS else _STRICT_CSP

        status_sent = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
                    )
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Answered here, while the request id is known (Starlette's last-resort handler runs
            # outside this middleware, after the id is gone).
            error_log.exception("unhandled error on %s %s", scope["method"], _printable(scope))
            if status_sent:
                raise
            await _internal_error(scope)(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", None)
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            record_request(method, route or "unmatched", status, elapsed)
            path = _printable(scope)
            access_log.info(
                "%s %s -> %d in %.1f ms",
                method,
                path,
                status,
                elapsed * 1000,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            REQUEST_ID.reset(token)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def _printable(scope: Scope) -> str:
    """The path as the client sent it (percent-encoded), with no control character left, so a
    crafted path cannot write a line of its own into the log."""
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "")
    return path.translate(_CONTROL)


def _internal_error(scope: Scope) -> Any:
    from app.api.problems import problem_response  # problems imports this module

    return problem_response(
        500,
        "internal-error",
        "Internal server error",
        "an unexpected error occurred; it has been logged",
        instance=scope.get("path", ""),
    )


# --- logging -------------------------------------------------------------------------------------

_EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update({k: getattr(record, k) for k in _EXTRA_FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
_HANDLER_NAME = "oca"


def configure_logging(fmt: Literal["text", "json"], level: str) -> None:
    """Send the service's and uvicorn's logs through one handler that names the request.

    Idempotent: each worker process calls it once from the app factory.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    for name in ("oca", "app"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if h.get_name() != _HANDLER_NAME]
        logger.addHandler(handler)
        logger.setLevel(level.upper())
    # uvicorn's own lines go through the same handler; its access line is replaced by ours above,
    # which carries the request id.
    server = logging.getLogger("uvicorn")
    server.handlers = [handler]
    server.propagate = False
    logging.getLogger("uvicorn.error").handlers = []
    logging.getLogger("uvicorn.access").disabled = True
