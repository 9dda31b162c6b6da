"""A rater's own ratings through their link (issue 12): no API key, the link's token as the
bearer; it reaches that one rater of one draft assessment and nothing else."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import LibraryDep, RaterTokenDep, SessionDep
from app.api.routing import COMMON_ERRORS, Router, problem
from app.api.schemas.records import AnswerIn
from app.domain.answers import RawAnswer
from app.services import rater_links
from app.services.rating_models import OwnRatingsRead

router = Router(
    prefix="/v1",
    tags=["rater"],
    responses={
        **COMMON_ERRORS,
        401: problem(
            "No link token, or a link that does not work: unknown, revoked or replaced, "
            "expired, or its assessment is no longer a draft"
        ),
    },
)


class OwnRatingsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[AnswerIn] = Field(
        default_factory=list,
        max_length=2000,
        description="The rater's ratings: the same values as an assessment's answers",
    )
    finished: bool = Field(default=False, description="The rater is done")


@router.get("/rater/ratings", summary="The link holder's own ratings")
def own_ratings(token: RaterTokenDep, session: SessionDep, catalog: LibraryDep) -> OwnRatingsRead:
    return rater_links.own_ratings(session, catalog, token)


@router.put(
    "/rater/ratings",
    summary="Set the link holder's own ratings (replaces them); only on a draft",
)
def put_own_ratings(
    body: OwnRatingsWrite, token: RaterTokenDep, session: SessionDep, catalog: LibraryDep
) -> OwnRatingsRead:
    answers = [RawAnswer(a.item, a.value, a.note) for a in body.answers]
    return rater_links.save_own(session, catalog, token, answers, finished=body.finished)
