"""``app.api.routing.Router`` passes over a request when no route of its can take the path; it
must route every request exactly as FastAPI's own matching does."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from app.api.routing import Router, any_path
from app.config import Settings
from app.main import create_app
from tests.api.routes import walk

SAMPLE = str(uuid.UUID(int=7))


def _scope(path: str, method: str = "GET", root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "path": root_path + path, "root_path": root_path, "method": method}


def _resolve(app: FastAPI, scope: dict[str, Any]) -> tuple[int, Match, Any]:
    """What the app's router would pick: the first route that matches fully, else the first
    partial match (a 405), as Starlette's router does; with the endpoint it leads to."""
    partial: tuple[int, Match, Any] | None = None
    for index, route in enumerate(app.router.routes):
        match, child = route.matches(dict(scope))
        chosen = (
            index,
            match,
            child.get("endpoint", getattr(child.get("route"), "endpoint", None)),
        )
        if match is Match.FULL:
            return chosen
        if match is Match.PARTIAL and partial is None:
            partial = chosen
    return partial or (-1, Match.NONE, None)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings())


def _requests(app: FastAPI) -> list[tuple[str, str]]:
    made = []
    for info in walk(app):
        url = info.url(dict.fromkeys(info.path_params, SAMPLE))
        made.append((info.method, url))
        made.append(("DELETE" if info.method != "DELETE" else "PATCH", url))  # 405s
    # no route takes these; some begin like routes do, or end like them
    for path in (
        "/v1",
        "/v1/",
        "/v1/nothing",
        "/v1/assessmentsx",
        "/nothing",
        "/v1/cohorts/",
        f"/v1/cohorts/{SAMPLE}/comparison/more",
        f"/v1/organizations/{SAMPLE}/series/",
    ):
        made.append(("GET", path))
    return made


def test_every_request_goes_where_fastapi_sends_it(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _requests(app)
    assert len(requests) > 300  # every API route and page, twice
    for root_path in ("", "/behind/a/proxy"):
        scopes = [_scope(path, method, root_path) for method, path in requests]
        shortcut = [_resolve(app, s) for s in scopes]
        with monkeypatch.context() as m:
            m.setattr(Router, "matches", APIRouter.matches)
            plain = [_resolve(app, s) for s in scopes]
        assert shortcut == plain
    # and the shortcut is taken: most API routers pass over a page's path
    routers = [
        r for r in app.router.routes if isinstance(getattr(r, "original_router", None), Router)
    ]
    assert len(routers) > 10


def test_a_router_passes_over_a_path_none_of_its_routes_matches() -> None:
    router = Router(prefix="/v1")

    @router.get("/things/{thing_id}/parts")
    def parts(thing_id: str) -> str:
        return thing_id

    app = FastAPI()
    app.include_router(router)
    paths = any_path(router.routes)
    assert paths is not None and paths.search("/v1/things/7/parts")
    assert paths.search("/v1/things/7") is None and paths.search("/v1/things/7/parts/8") is None
    assert _resolve(app, _scope("/v1/things/7/parts"))[1] is Match.FULL
    assert _resolve(app, _scope("/v1/things/7/parts", "POST"))[1] is Match.PARTIAL
    assert _resolve(app, _scope("/v1/other"))[1] is Match.NONE

    # a route added later is seen
    @router.get("/other")
    def other() -> str:
        return "other"

    assert _resolve(app, _scope("/v1/things/7"))[1] is Match.NONE
    assert _resolve(app, _scope("/v1/other"))[1] is Match.FULL


def test_a_route_of_another_kind_turns_the_shortcut_off(tmp_path: Any) -> None:
    router = Router()
    router.routes.append(Mount("/files", StaticFiles(directory=tmp_path)))
    assert any_path(router.routes) is None


def test_a_router_included_under_a_prefix_or_changed_in_place_still_answers() -> None:
    """Its routes' expressions do not hold the prefix it is included under, and a route may be
    replaced without the count of routes changing: neither may turn a request away."""
    router = Router()

    @router.get("/things")
    def things() -> str:
        return "things"

    app = FastAPI()
    app.include_router(router, prefix="/api")
    parent = Router(prefix="/outer")
    parent.include_router(router)
    app.include_router(parent)
    assert _resolve(app, _scope("/api/things"))[1] is Match.FULL
    assert _resolve(app, _scope("/outer/things"))[1] is Match.FULL
    assert _resolve(app, _scope("/api/other"))[1] is Match.NONE

    def other() -> str:
        return "other"

    first = _resolve(app, _scope("/api/things"))
    router.routes[0] = type(router.routes[0])("/other", other, methods=["GET"])
    router._routes_version += 1  # what FastAPI's route registration does
    assert _resolve(app, _scope("/api/other"))[1] is Match.FULL
    assert first[1] is Match.FULL
