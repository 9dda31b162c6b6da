"""The application's routes as data, walked from ``app.routes`` so a new route is covered at once.

FastAPI 0.16x keeps included routers lazily (``_IncludedRouter``); their effective routes are
read through ``effective_route_contexts()``. Plain ``APIRoute`` objects are read directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.config import Settings
from app.main import create_app

READ = frozenset({"GET", "HEAD", "OPTIONS"})
_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    path_params: tuple[str, ...]
    required_query: tuple[str, ...]
    query: tuple[str, ...]
    has_body: bool

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_write(self) -> bool:
        return self.method not in READ

    def url(self, values: dict[str, str]) -> str:
        return _PARAM.sub(lambda m: values[m.group(1)], self.path)


def _info(path: str, methods: Any, dependant: Any, body_field: Any) -> Iterator[RouteInfo]:
    names = tuple(m.group(1) for m in _PARAM.finditer(path))
    query = tuple(f.alias or f.name for f in _all_query(dependant))
    required = tuple(f.alias or f.name for f in _all_query(dependant) if f.field_info.is_required())
    for method in sorted(methods or ()):
        if method == "HEAD":
            continue
        yield RouteInfo(method, path, names, required, query, body_field is not None)


def _all_query(dependant: Any) -> list[Any]:
    out = list(dependant.query_params)
    for sub in dependant.dependencies:
        out += _all_query(sub)
    return out


def walk(app: FastAPI) -> list[RouteInfo]:
    out: list[RouteInfo] = []

    def visit(routes: Any) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                out.extend(_info(r.path, r.methods, r.dependant, r.body_field))
            elif hasattr(r, "effective_route_contexts"):
                for ctx in r.effective_route_contexts():
                    out.extend(_info(ctx.path, ctx.methods, ctx.dependant, ctx.body_field))
            elif hasattr(r, "routes") and not hasattr(r, "endpoint"):
                visit(r.routes)

    visit(app.routes)
    return sorted(set(out), key=lambda r: (r.path, r.method))


def v1_routes(app: FastAPI) -> list[RouteInfo]:
    return [r for r in walk(app) if r.path.startswith("/v1/") or r.path == "/v1"]


# The routes as the app defines them when the tests are collected (no database is touched).
COLLECTED: list[RouteInfo] = v1_routes(create_app(Settings()))

# Routes whose path parameters are not workspace-owned objects (the shared instrument catalog:
# the definition and anything under it, such as the Excel template).
CATALOG_PREFIX = "/v1/instruments/{instrument_id}/versions/{version}"
CATALOG_ROUTES = frozenset(r.path for r in COLLECTED if r.path.startswith(CATALOG_PREFIX))
