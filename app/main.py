"""The application factory. Nothing connects or reads files at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import openpyxl
from anyio import CapacityLimiter
from fastapi import FastAPI

from app.api.guards import LimitBody, RefuseNul
from app.api.problems import Problem, add_exception_handlers
from app.api.reads import ReadCache, ServeCachedReads
from app.api.routes import (
    assessments,
    audit,
    cohorts,
    health,
    imports,
    instruments,
    keys,
    organizations,
)
from app.catalog import load_catalog
from app.config import Settings, get_settings
from app.db.changes import make_change_clock, watch_commits
from app.db.session import make_engine, make_sessionmaker, refresh_statistics
from app.services.instruments import sync_catalog
from app.services.keys import PrincipalCache
from app.services.stale_scores import refresh_stale_scores

DESCRIPTION = """
Versioned organizational capacity instruments (OCA, OPI, NUPAS, CLA, the four-dimension
sustainability frame), deterministic and explained scoring, time series per organization,
baseline-versus-endline comparison per organization and cohort, and Excel round trips.

Every `/v1` route needs `Authorization: Bearer <key>`; create keys with `oca keys create`.
Errors are RFC 9457 `application/problem+json`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # openpyxl must parse untrusted XML through defusedxml (reliability.md §A2).
        if not openpyxl.DEFUSEDXML:
            raise RuntimeError("defusedxml is required to read untrusted workbooks")
        catalog = load_catalog(settings.instruments_dir)
        engine = make_engine(settings.effective_database_url)
        app.state.settings = settings
        app.state.catalog = catalog
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.auth_cache = PrincipalCache(settings.auth_cache_seconds)
        clock = make_change_clock(engine)
        watch_commits(app.state.sessionmaker, clock)
        app.state.read_cache = ReadCache(clock, int(settings.read_cache_mb * 1024 * 1024))
        app.state.read_threads = CapacityLimiter(settings.read_threads)
        try:
            with app.state.sessionmaker() as session:
                sync_catalog(session, catalog)
                refresh_stale_scores(session, catalog)  # scores of an older engine: recomputed
            refresh_statistics(engine)
            yield
        finally:
            clock.close()
            engine.dispose()

    app = FastAPI(
        title="OCA Engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        responses={500: {"model": Problem, "description": "Unexpected error (no internals)"}},
    )
    add_exception_handlers(app)
    app.add_middleware(ServeCachedReads)  # innermost of ours: after the guards have looked
    app.add_middleware(RefuseNul)
    app.add_middleware(LimitBody, max_bytes=settings.max_request_bytes)
    app.include_router(health.router)
    for module in (instruments, organizations, cohorts, assessments, imports, audit, keys):
        app.include_router(module.router)
    return app
