from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.problems import Problem, problem_response
from app.services.health import readiness

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class ReadinessCheck(BaseModel):
    name: str
    ok: bool
    detail: str


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
    responses={503: {"model": Problem, "description": "Not ready; `checks` says why"}},
)
async def readyz(request: Request) -> Any:
    """Ready to serve: the database answers, its schema is at the newest migration of this code,
    and every instrument file still has the bytes recorded for its version. A load balancer sends
    traffic only while this answers 200."""
    checks = await run_in_threadpool(readiness, request.app.state.engine, request.app.state.catalog)
    body = [ReadinessCheck(name=c.name, ok=c.ok, detail=c.detail) for c in checks]
    if all(c.ok for c in checks):
        return Readiness(status="ready", checks=body)
    failing = ", ".join(c.name for c in checks if not c.ok)
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
