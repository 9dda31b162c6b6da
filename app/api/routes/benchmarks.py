from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response
from sqlalchemy.orm import Session

from app.api.keyed import KeyedDep
from app.api.routing import NOT_FOUND, NOT_MODIFIED, JsonText, keyed_router
from app.api.schemas.benchmarks import BenchmarkRead
from app.catalog import Catalog
from app.services import benchmarks as svc
from app.services.keys import Principal
from app.services.scores import as_json

keyed = keyed_router("assessments")  # the key checked in the read's own hop


@keyed.get(
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
    keyed: KeyedDep,
    peers: Annotated[
        svc.Scope,
        Query(
            description="`workspace`: the workspace's organizations; `shared`: those of every "
            "workspace that shares its anonymized scores (this one must share too)"
        ),
    ] = "workspace",
) -> Response:
    def compute(session: Session, principal: Principal, catalog: Catalog) -> str:
        result = svc.benchmark(session, principal, catalog, assessment_id, peers)
        return as_json(svc.benchmark_json(result))

    return await keyed.json(compute)
