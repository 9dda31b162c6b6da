"""Individual ratings of a facilitated assessment over REST (issue 12): each rater's own ratings,
their distribution per item, and the consensus proposed from them. Editors and admins only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Path, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.params import IfMatch
from app.api.routing import (
    CONFLICT,
    NOT_FOUND,
    PRECONDITION,
    Lang,
    v1_router,
    xlsx_ok,
    xlsx_response,
)
from app.api.schemas.records import AnswerIn, ItemKey, Short
from app.domain.answers import RawAnswer
from app.excel.safety import Limits
from app.services import rater_links, rating_workbook
from app.services import ratings as svc
from app.services.rating_models import (
    ConsensusRead,
    RaterLinkIssued,
    RaterRead,
    RatingsImportRead,
    RatingsSummary,
)

router = v1_router("ratings")

Code = Annotated[
    str, Path(min_length=1, max_length=16, description="The rater's code", examples=["R07"])
]
ONLY_FACILITATOR = "Individual ratings are seen by editors and admins only (a viewer gets 403)."


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RaterWrite(_In):
    name: Short | None = Field(
        default=None, description="Optional; null for an anonymous rater (the code only)"
    )
    answers: list[AnswerIn] = Field(
        default_factory=list,
        max_length=2000,
        description="The rater's ratings: the same values as an assessment's answers",
    )


class ConsensusRequest(_In):
    apply: bool = Field(
        default=False,
        description="false: only propose; true: write the proposals into the draft's answers "
        "(needs If-Match: the assessment's ETag)",
    )
    items: Annotated[list[ItemKey], Field(max_length=2000)] | None = Field(
        default=None, description="Only these items (default: every item)"
    )


@router.get(
    "/assessments/{assessment_id}/ratings",
    summary="The distribution of the ratings per item, with disagreement flags",
    description=ONLY_FACILITATOR
    + " An item rated by fewer than three raters has its distribution withheld.",
    responses=NOT_FOUND,
)
def ratings_summary(
    assessment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, catalog: CatalogDep
) -> RatingsSummary:
    return svc.summary(session, principal, catalog, assessment_id)


@router.post(
    "/assessments/{assessment_id}/ratings/consensus",
    summary="Propose a consensus from the ratings, or apply it to the draft's answers",
    description=ONLY_FACILITATOR
    + " The proposal is the median rounded to a scale value (exactly between two: the lower), "
    "or N/A when most raters said N/A; applying it changes only the answers it differs from.",
    responses={**NOT_FOUND, **CONFLICT, **PRECONDITION},
)
def ratings_consensus(
    assessment_id: uuid.UUID,
    body: ConsensusRequest,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
    if_match: IfMatch = None,
) -> ConsensusRead:
    read = svc.consensus(
        session,
        principal,
        catalog,
        assessment_id,
        apply=body.apply,
        items=body.items,
        if_match=if_match,
    )
    if read.etag:
        response.headers["ETag"] = read.etag
    return read


@router.get(
    "/assessments/{assessment_id}/ratings/{code}",
    summary="One rater's own ratings",
    description=ONLY_FACILITATOR,
    responses=NOT_FOUND,
)
def read_rater(
    assessment_id: uuid.UUID, code: Code, session: SessionDep, principal: PrincipalDep
) -> RaterRead:
    return svc.get_rater(session, principal, assessment_id, code)


@router.put(
    "/assessments/{assessment_id}/ratings/{code}",
    summary="Set one rater's ratings (replaces them); only on a draft",
    responses={**NOT_FOUND, **CONFLICT},
)
def put_rater(
    assessment_id: uuid.UUID,
    code: Code,
    body: RaterWrite,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
) -> RaterRead:
    answers = [RawAnswer(a.item, a.value, a.note) for a in body.answers]
    return svc.put_rater(
        session, principal, catalog, assessment_id, svc.RaterInput(code, body.name, answers)
    )


@router.delete(
    "/assessments/{assessment_id}/ratings/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove one rater and their ratings; only on a draft",
    responses={**NOT_FOUND, **CONFLICT},
)
def delete_rater(
    assessment_id: uuid.UUID, code: Code, session: SessionDep, principal: PrincipalDep
) -> None:
    svc.delete_rater(session, principal, assessment_id, code)


class LinkRequest(_In):
    days: int = Field(
        default=rater_links.DEFAULT_DAYS,
        ge=1,
        le=rater_links.MAX_DAYS,
        description="How long the link works",
    )


@router.post(
    "/assessments/{assessment_id}/ratings/{code}/link",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a rater's own link (shown once); only on a draft",
    description=ONLY_FACILITATOR
    + " The rater is added when new; an earlier link of theirs stops working. Through the link "
    "the rater reads and sets their own ratings only (/rate/{token}, /v1/rater/ratings).",
    responses={**NOT_FOUND, **CONFLICT},
)
def issue_link(
    assessment_id: uuid.UUID,
    code: Code,
    session: SessionDep,
    principal: PrincipalDep,
    body: LinkRequest | None = None,
) -> RaterLinkIssued:
    days = body.days if body is not None else rater_links.DEFAULT_DAYS
    return rater_links.issue_link(session, principal, assessment_id, code, days)


@router.delete(
    "/assessments/{assessment_id}/ratings/{code}/link",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a rater's own link (their ratings stay)",
    description=ONLY_FACILITATOR,
    responses=NOT_FOUND,
)
def revoke_link(
    assessment_id: uuid.UUID, code: Code, session: SessionDep, principal: PrincipalDep
) -> None:
    rater_links.revoke_link(session, principal, assessment_id, code)


@router.get(
    "/assessments/{assessment_id}/ratings.xlsx",
    summary="The ratings workbook: a sheet per rater (named by code), blank sheets for more",
    description=ONLY_FACILITATOR,
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def ratings_workbook(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    lang: Lang = "en",
    blank: Annotated[
        int, Query(ge=0, le=50, description="Blank sheets for new raters (R01, R02, ...)")
    ] = 10,
) -> Response:
    return xlsx_response(
        *rating_workbook.ratings_workbook(session, principal, catalog, assessment_id, lang, blank)
    )


@router.post(
    "/assessments/{assessment_id}/ratings.xlsx",
    summary="Set the ratings of every rater sheet of the workbook; all or nothing",
    description="Each problem names its sheet and cell; nothing is written when there is one.",
    responses={**NOT_FOUND, **CONFLICT},
)
async def import_ratings_workbook(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File(description="The ratings workbook (.xlsx)")] = None,
) -> RatingsImportRead:
    # the file is optional to FastAPI so that another workspace's id is a 404 before any 422
    data = await file.read() if file is not None else b""  # bounded by the app-wide body limit
    limits = Limits(max_bytes=settings.max_upload_bytes)
    return await run_in_threadpool(
        rating_workbook.import_ratings_workbook,
        session,
        principal,
        catalog,
        assessment_id,
        data,
        limits,
    )
