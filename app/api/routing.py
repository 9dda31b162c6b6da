"""The /v1 router factories: authentication declared once per router (``v1_router``), or for the
hot reads and the assessments' writes checked in their own hop and required of every route by
its class (``keyed_router``); common error responses documented."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from app.api.deps import BEARER, bearer_of, require_admin, require_key
from app.api.keyed import Keyed, keyed_request
from app.api.problems import PROBLEM_JSON, Problem
from app.services.filenames import content_disposition


def problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_JSON: {}}}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: problem("The body cannot be parsed (not JSON, not UTF-8, or nested too deeply)"),
    401: problem("Missing, unknown or revoked API key"),
    403: problem("The key's role does not allow this"),
    422: problem("Invalid input; `errors` lists every offending field or item"),
    429: problem(
        "Too many wrong API keys from this address lately; nothing was checked or written; "
        "retry after the `Retry-After` seconds"
    ),
    503: problem(
        "Busy: the database could not take this request's write in time (a key's last use is "
        "a write too); nothing was written; retry after the `Retry-After` seconds"
    ),
}


class Router(APIRouter):
    """An APIRouter that passes over a request at once when no route of its can take the path.

    FastAPI (0.165) tries a request on each router the app includes, in turn, and each router on
    each of its routes (a regular expression and some bookkeeping per route): a read of scores
    was tried on 37 routes of 6 routers before its own, a quarter of the request's CPU
    (docs/benchmarks.md). A route matches a request, fully or but for its method, only if its
    path's expression matches the path; one expression made of all of them tells when none can.
    It looks for the routes' paths at the end of the request's, so that a router included under
    a prefix of its own (which its routes' expressions do not hold) is still never passed over
    wrongly: the shortcut may only let a request through to FastAPI's own matching."""

    _paths: tuple[object, re.Pattern[str] | None] = (None, None)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # FastAPI 0.165 counts changes to a router's routes; the length is the fallback
        version = (len(self.routes), getattr(self, "_routes_version", None))
        seen, paths = self._paths
        if seen != version:  # routes are added while modules load
            paths = any_path(self.routes)
            self._paths = (version, paths)
        if paths is not None and paths.search(get_route_path(scope)) is None:
            return Match.NONE, {}
        return super().matches(scope)


_GROUP = re.compile(r"\(\?P<\w+>")


def any_path(routes: list[BaseRoute]) -> re.Pattern[str] | None:
    """One expression that finds, at the end of a path, what any of ``routes`` matches: their
    own expressions, not held to the path's start, their groups unnamed. None when a route is of
    a kind whose path this cannot read (then every request is tried on every route, as FastAPI
    does)."""
    patterns = []
    for route in routes:
        if not isinstance(route, Route):  # APIRoute is one
            return None
        patterns.append(_GROUP.sub("(?:", route.path_regex.pattern).removeprefix("^"))
    return re.compile("|".join(f"(?:{p})" for p in dict.fromkeys(patterns)))


def v1_router(tag: str, *, admin: bool = False) -> Router:
    """Every /v1 route authenticates here (secure by default, never per route)."""
    return Router(
        prefix="/v1",
        tags=[tag],
        dependencies=[Depends(require_admin if admin else require_key)],
        responses=COMMON_ERRORS,
    )


class KeyedRoute(APIRoute):
    """A route of ``keyed_router``. Its key is checked in the route's own hop (``Keyed``), not
    by a router dependency, so a route that does not take a ``Keyed`` would answer without
    checking any key: registering one fails when the module loads.

    A request whose parameters or body are invalid never reaches the route's work; its key is
    checked then, so that a wrong key gets 401 (and counts against its address), and a read-only
    key's write 403, before any 422, as on every other route. And an answer made without the key
    checked (a route that took the key but never called ``Keyed.json`` or ``Keyed.write``) is
    not sent: it fails closed, as a server error."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if not any(d.call is keyed_request for d in self.dependant.dependencies):
            raise TypeError(f"{path}: a route of keyed_router must take a KeyedDep")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = _effective_dependant(self)
        handler = (dependant and _direct(dependant)) or super().get_route_handler()

        async def key_first(request: Request) -> Response:
            try:
                response = await handler(request)
            except RequestValidationError:
                await require_key(request, await BEARER(request))
                raise
            if getattr(request.state, "principal", None) is None:  # set once the key is checked
                raise RuntimeError(f"{self.path} answered without checking its key")
            return response

        return key_first


def _effective_dependant(route: APIRoute) -> Dependant | None:
    """The dependant FastAPI solves for ``route`` where it is being built: under an ``include``,
    the inclusion's (which holds the including routers' dependencies too), else the route's;
    None when this FastAPI does not say where it is building (then its own handler is used,
    which cannot miss an including router's dependency)."""
    context = getattr(fastapi_routing, "_effective_route_context_var", None)
    if context is None:
        return None
    effective = context.get()
    if effective is not None and effective.original_route is route:
        dependant: Dependant = effective.dependant
        return dependant
    return route.dependant


def _direct(dependant: Dependant) -> Callable[[Request], Coroutine[Any, Any, Response]] | None:
    """A handler that calls a keyed route's function with what FastAPI would give it, without
    FastAPI's general solver (dependency graph, caches, scopes, body; 18 % of a read of scores'
    CPU, docs/benchmarks.md): the key from the ``Authorization`` header (401 when none, as
    ``keyed_request``), then its path, query and header parameters validated by FastAPI's own
    ``request_params_to_args`` (the same values and the same errors). Only for a route whose one
    dependency is ``keyed_request``, with no body, no cookies and no other injected parameter,
    whose function is a coroutine answering a ``Response``; None otherwise (FastAPI's handler is
    used). ``app.dependency_overrides`` do not reach it: nothing here overrides the key."""
    call = dependant.call
    sub = dependant.dependencies
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or len(sub) != 1
        or sub[0].call is not keyed_request
        or sub[0].name is None
        or dependant.body_params
        or dependant.cookie_params
        or dependant.http_connection_param_name
        or dependant.websocket_param_name
        or dependant.background_tasks_param_name
        or dependant.response_param_name
        or dependant.security_scopes_param_name
    ):
        return None
    keyed_name = sub[0].name
    request_name = dependant.request_param_name
    path, query, header = dependant.path_params, dependant.query_params, dependant.header_params

    async def direct(request: Request) -> Response:
        keyed = Keyed(request, bearer_of(await BEARER(request)))
        values, errors = request_params_to_args(path, request.path_params)
        for fields, received in ((query, request.query_params), (header, request.headers)):
            if fields:
                found, wrong = request_params_to_args(fields, received)
                values.update(found)
                errors += wrong
        if errors:
            raise RequestValidationError(errors)
        values[keyed_name] = keyed
        if request_name:
            values[request_name] = request
        response = await call(**values)
        if not isinstance(response, Response):
            raise TypeError(f"{dependant.path}: a keyed route answers a Response")
        return response

    return direct


def keyed_router(tag: str) -> Router:
    """The /v1 hot reads (scores, series, comparisons, benchmarks) and the assessments' writes:
    the key checked in the route's one hop (``app.api.keyed.Keyed``), with the same rules and
    errors as ``v1_router``'s."""
    return Router(prefix="/v1", tags=[tag], responses=COMMON_ERRORS, route_class=KeyedRoute)


Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: problem("Not found (or in another workspace)")}
CONFLICT: Responses = {409: problem("Conflicts with the current state")}
NOT_MODIFIED: Responses = {
    304: {
        "description": "Not modified: the `If-None-Match` header holds the current `ETag` "
        "(answers carry `ETag` and `Cache-Control: private, no-cache`)"
    }
}
PRECONDITION: Responses = {
    412: problem("If-Match does not match the current ETag"),
    428: problem("If-Match is required"),
}


class JsonText(JSONResponse):
    """JSON that is already serialized (hot reads): sent without re-validation or re-encoding.

    A JSONResponse to FastAPI, so that OpenAPI documents the route's declared model alone (a plain
    Response class would add ``"type": "string"`` beside the model's ``$ref``)."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes | str):
            return content.encode() if isinstance(content, str) else content
        return super().render(content)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Lang = Annotated[Literal["en", "es"], Query(description="Language of the workbook")]


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": content_disposition(filename)}


def xlsx_response(filename: str, data: bytes, status_code: int = 200) -> Response:
    return Response(data, status_code=status_code, media_type=XLSX, headers=attachment(filename))


def xlsx_ok(description: str = "The workbook") -> Responses:
    """The documented 200 of a route that answers with a workbook."""
    return {200: {"content": {XLSX: {}}, "description": description}}
