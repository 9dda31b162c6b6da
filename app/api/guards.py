"""ASGI guards: refuse NUL characters in the path, the query and header values up front.

PostgreSQL text cannot hold U+0000 and no person types it; refusing it at the door gives the same
422 on every database instead of a 500 deep in a query. (Bodies are checked by the schemas.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_response


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            response = problem_response(
                422,
                "validation-error",
                "Invalid input",
                "the path, query or a header contains a NUL (U+0000) character",
                instance=scope.get("path", "").replace("\x00", ""),
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    if "\x00" in scope.get("path", ""):
        return True
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query.lower():
        return True
    # (a bad Authorization header is simply a bad key: 401 from the authentication)
    return any(
        b"\x00" in value for name, value in scope.get("headers", ()) if name != b"authorization"
    )


class LimitBody:
    """Refuse request bodies over ``max_bytes`` with a 413 problem (declared or streamed size)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (OCA_MAX_REQUEST_BYTES)"

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "content-too-large",
            "Content too large",
            self._detail(),
            instance=scope.get("path", ""),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
