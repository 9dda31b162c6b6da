from __future__ import annotations

import hmac
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.problems import problem_response
from app.api.routing import Router, problem
from app.services.evidence_store import probed_store_of
from app.services.health import readiness
from app.services.jobs import refresh_gauges
from app.services.metrics import exposition

router = Router(tags=["health"])


class Health(BaseModel):
    status: str


class ReadinessCheck(BaseModel):
    name: str
    ok: bool
    detail: str
    required: bool = True


class Readiness(BaseModel):
    status: str
    checks: list[ReadinessCheck]


@router.get("/healthz", summary="Liveness (no authentication)")
async def healthz() -> Health:
    """The process answers. Says nothing about the database: see /readyz."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness (no authentication)",
    response_model=Readiness,
    responses={503: problem("Not ready; `checks` says which check fails and why")},
)
async def readyz(request: Request) -> Any:
    """Ready to serve: the database answers, its schema is at the newest migration of this code,
    every instrument file still has the bytes recorded for its version, this worker's job
    runner is alive (`jobs`). With an S3 evidence store, its bucket is asked too
    (`evidence_store`, a HeadBucket); that check is advisory (`required: false`): when it fails
    the answer stays 200 with status `degraded`, since only evidence requests need the store and
    they answer 503 on their own. A load balancer sends traffic only while this answers 200."""
    state = request.app.state
    store = probed_store_of(state.settings)
    checks = await run_in_threadpool(
        readiness, state.engine, state.catalog, state.job_runner, store
    )
    body = [
        ReadinessCheck(name=c.name, ok=c.ok, detail=c.detail, required=c.required) for c in checks
    ]
    if all(c.ok or not c.required for c in checks):
        return Readiness(status="ready" if all(c.ok for c in checks) else "degraded", checks=body)
    failing = ", ".join(c.name for c in checks if not c.ok and c.required)
    response: JSONResponse = problem_response(
        503,
        "not-ready",
        "Not ready",
        f"failing checks: {failing}",
        instance="/readyz",
        headers={"Retry-After": "5"},
        checks=[c.model_dump() for c in body],
    )
    return response


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer OCA_METRICS_TOKEN)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: problem("The metrics token is missing or wrong"),
        404: problem("Metrics are off (OCA_METRICS_TOKEN unset)"),
    },
)
async def metrics(request: Request) -> Response:
    """Request counts and latency per route template and status, imports by outcome, scoring
    time, database connections in use, and jobs by status (queued, running, failed…).
    Answers only a scraper that sends the token set in
    `OCA_METRICS_TOKEN`; without one set, metrics are off (404)."""
    token = request.app.state.settings.metrics_token
    if token is None or not token.get_secret_value().strip():
        raise HTTPException(404)  # off; an empty token (OCA_METRICS_TOKEN=) is no token
    sent = request.headers.get("authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(
            401, "send the metrics token", headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    await run_in_threadpool(refresh_gauges, request.app.state.sessionmaker)
    body, content_type = await run_in_threadpool(exposition)
    return Response(body, media_type=content_type)
