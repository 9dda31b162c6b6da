"""The application factory. Nothing connects or reads files at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import openpyxl
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.api.guards import LimitBody, RefuseNul
from app.api.observe import RequestContext, configure_logging
from app.api.problems import add_exception_handlers
from app.api.routes import (
    assessments,
    audit,
    benchmarks,
    cohorts,
    evidence,
    health,
    imports,
    instruments,
    jobs,
    keys,
    organizations,
    own_instruments,
    plans,
    rater,
    ratings,
    verification,
    webhooks,
    workspace,
)
from app.api.routing import problem
from app.api.threads import Pools
from app.catalog import load_catalog
from app.config import Settings, get_settings
from app.db.session import make_engine, make_sessionmaker, read_engine, refresh_statistics
from app.excel.sandbox import PoolSettings, close_default_pool, open_default_pool
from app.services.evidence_store import sweep_staging
from app.services.instruments import sync_catalog
from app.services.jobs_runner import JobRunner
from app.services.metrics import count_pool_use
from app.services.owned_instruments import every_published_catalog
from app.services.rates import RateLimiter
from app.services.round_pairs import refresh_pairs
from app.services.stale_scores import refresh_stale_scores, stale_score_ids
from app.services.throttle import Blocklist
from app.services.webhooks_delivery import DeliveryThread
from app.web import docs as web_docs
from app.web import mount as mount_pages

DESCRIPTION = """
Versioned organizational capacity instruments (OCA, OPI, NUPAS, CLA, the four-dimension
sustainability frame), deterministic and explained scoring, time series per organization,
baseline-versus-endline comparison per organization and cohort, and Excel round trips.

Every `/v1` route needs `Authorization: Bearer <key>`; create keys with `oca keys create`.
Errors are RFC 9457 `application/problem+json`.
"""


class SettingsInvalid(RuntimeError):
    """The settings cannot work; the message says what to change, one line."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # openpyxl must parse untrusted XML through defusedxml (reliability.md §A2).
        if not openpyxl.DEFUSEDXML:
            raise RuntimeError("defusedxml is required to read untrusted workbooks")
        problems = settings.problems()
        if problems:
            raise SettingsInvalid("; ".join(problems))
        sweep_staging(settings.evidence_folder)  # uploads a killed process left half received
        # the parser processes uploads are read in: this process's, closed when it ends
        open_default_pool(PoolSettings(settings.parser_workers, settings.parser_max_requests))
        catalog = load_catalog(settings.instruments_dir)
        engine = make_engine(settings.effective_database_url)
        count_pool_use(engine)
        app.state.settings = settings
        app.state.catalog = catalog
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_engine = reading = read_engine(engine)  # for requests that only read
        app.state.reader = make_sessionmaker(reading)
        app.state.pools = pools = Pools.start(settings.read_threads, settings.write_threads)
        app.state.blocklist = Blocklist()
        app.state.rate_limiter = RateLimiter(app.state.sessionmaker)
        try:
            with app.state.sessionmaker() as session:
                sync_catalog(session, catalog)
                # scores of an older engine: recomputed (workspaces' own versions included)
                if stale_score_ids(session):
                    every = every_published_catalog(session, catalog)
                    refresh_stale_scores(session, every, library=catalog)
                    refresh_pairs(session, catalog)  # pairs with rounds that were not stale
            refresh_statistics(engine)
            # webhooks are sent by a thread of each worker, never by the request that caused them
            sender = DeliveryThread(app.state.sessionmaker, settings)
            if settings.webhook_delivery:
                sender.start()
            # long work (imports as jobs) runs in threads of each worker, or in `oca worker`
            runner = JobRunner(app.state.sessionmaker, settings, catalog)
            app.state.job_runner = runner if settings.jobs_enabled else None
            if settings.jobs_enabled:
                runner.start()
            try:
                yield
            finally:
                # uvicorn has let the requests in flight finish: running jobs end their current
                # step and go back to the queue
                if settings.jobs_enabled:
                    runner.stop()
                if settings.webhook_delivery:
                    sender.stop()
        finally:
            pools.stop()
            engine.dispose()
            close_default_pool()

    app = FastAPI(
        title="OCA Engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by app.web.docs from vendored assets (no CDN)
        redoc_url=None,
        responses={500: problem("Unexpected error (no internals)")},
    )
    add_exception_handlers(app)
    app.add_middleware(RefuseNul)
    app.add_middleware(LimitBody, max_bytes=settings.max_request_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(RequestContext)  # outermost: every answer carries the request id
    app.include_router(health.router)
    # the keyed routes first: their key is checked in the route's own hop (app.api.keyed.Keyed)
    for keyed in (assessments.keyed, cohorts.keyed, benchmarks.keyed):
        app.include_router(keyed)
    for module in (
        own_instruments,
        instruments,
        organizations,
        cohorts,
        assessments,
        plans,
        ratings,
        rater,
        verification,
        evidence,
        imports,
        jobs,
        audit,
        keys,
        webhooks,
        workspace,
    ):
        app.include_router(module.router)
    if settings.docs_enabled:
        app.include_router(web_docs.router)
    mount_pages(app)
    return app
