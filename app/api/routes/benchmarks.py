from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session

from app.api.deps import CatalogDep, PrincipalDep
from app.api.reads import json_read
from app.api.routing import NOT_FOUND, NOT_MODIFIED, JsonText, v1_router
from app.api.schemas.benchmarks import BenchmarkRead
from app.services import benchmarks as svc
from app.services.scores import as_json

router = v1_router("assessments")


@router.get(
    "/assessments/{assessment_id}/benchmark",
    summary="Where the organization stands among its peers (same instrument and round)",
    response_class=JsonText,
    responses={
        200: {"model": BenchmarkRead, "description": "Percentiles, peer median and quartiles"},
        **NOT_MODIFIED,
        **NOT_FOUND,
    },
)
async def assessment_benchmark(
    assessment_id: uuid.UUID,
    request: Request,
    principal: PrincipalDep,
    catalog: CatalogDep,
    peers: Annotated[
        svc.Scope,
        Query(
            description="`workspace`: the workspace's organizations; `shared`: those of every "
            "workspace that shares its anonymized scores (this one must share too)"
        ),
    ] = "workspace",
) -> Response:
    def compute(session: Session) -> str:
        result = svc.benchmark(session, principal, catalog, assessment_id, peers)
        return as_json(svc.benchmark_json(result))

    return await json_read(request, compute)
