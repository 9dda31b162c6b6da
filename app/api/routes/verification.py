"""Verification, OPI style (issue 12): a verified value per item beside the assessment's answer
(the self-score), and both scores with their gap."""

from __future__ import annotations

import uuid

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import CatalogDep, PrincipalDep, SessionDep
from app.api.routing import CONFLICT, NOT_FOUND, v1_router
from app.api.schemas.records import AnswerIn
from app.domain.answers import RawAnswer
from app.services import verification as svc
from app.services.rating_models import VerificationRead

router = v1_router("verification")


class VerificationWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[AnswerIn] = Field(
        default_factory=list,
        max_length=2000,
        description="Per item the verified value (a scale value or na) and in `note` the "
        "evidence reviewed; a null value clears the item's verification",
    )


@router.get(
    "/assessments/{assessment_id}/verification",
    summary="The verified items beside their answers, and the self and verified scores",
    responses=NOT_FOUND,
)
def read_verification(
    assessment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, catalog: CatalogDep
) -> VerificationRead:
    return svc.verification(session, principal, catalog, assessment_id)


@router.patch(
    "/assessments/{assessment_id}/verification",
    summary="Record or clear verified values of some items; not on a final assessment",
    responses={**NOT_FOUND, **CONFLICT},
)
def record_verification(
    assessment_id: uuid.UUID,
    body: VerificationWrite,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
) -> VerificationRead:
    given = [RawAnswer(a.item, a.value, a.note) for a in body.answers]
    return svc.record(session, principal, catalog, assessment_id, given)


@router.delete(
    "/assessments/{assessment_id}/verification",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Clear every verified value; not on a final assessment",
    responses={**NOT_FOUND, **CONFLICT},
)
def clear_verification(
    assessment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    svc.clear(session, principal, assessment_id)
