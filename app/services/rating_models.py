"""The shapes of individual ratings, their distribution and the proposed consensus: what the API,
the pages and the workbook show (pydantic, so OpenAPI documents them)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.services.common import Timestamp

Value = float | Literal["na"] | None


class RatingRead(BaseModel):
    item: str
    value: Value = Field(description='A scale value, "na" (not applicable), or null (no value)')
    note: str | None


class RaterRead(BaseModel):
    """One rater's own ratings (seen by editors and admins only)."""

    code: str = Field(examples=["R07"])
    name: str | None = Field(description="Optional; never shown beside the distribution")
    answered: int = Field(description="Items rated with a scale value")
    na: int = Field(description="Items rated not applicable")
    ratings: list[RatingRead]
    created_at: Timestamp
    updated_at: Timestamp


LinkStatus = Literal["none", "active", "expired", "revoked"]


class RaterSummary(BaseModel):
    """A rater as the distribution lists them: the code and counts, never the name; the state
    of their own link and whether they said they had finished."""

    code: str
    answered: int
    na: int
    link: LinkStatus = Field(default="none", description="The rater's own link")
    link_expires_at: Timestamp | None = None
    finished: bool = Field(default=False, description="The rater finished through their link")


class ItemDistribution(BaseModel):
    """How the raters rated one item; withheld (numbers null) when fewer than ``min_raters``
    rated it."""

    item: str
    dimension: str
    area: str
    rated: int = Field(description="Raters who gave a value or N/A")
    withheld: bool
    reason: str | None = Field(default=None, description="Why the distribution is withheld")
    reason_es: str | None = None
    n: int | None = Field(default=None, description="Raters who gave a scale value")
    n_na: int | None = Field(default=None, description="Raters who said not applicable")
    min: float | None = None
    max: float | None = None
    median: float | None = None
    mean: float | None = None
    spread: float | None = Field(default=None, description="max - min, in scale values")
    spread_steps: int | None = Field(
        default=None, description="How many scale values apart max and min are"
    )
    disagreement: bool | None = Field(
        default=None, description="spread_steps reaches the disagreement threshold (see rule)"
    )
    na_split: bool | None = Field(
        default=None, description="Some raters said N/A while others gave a value"
    )
    consensus: Value = Field(default=None, description="The assessment's current answer")


class DisagreementRule(BaseModel):
    min_raters: int = Field(description="Fewer raters of an item: its distribution is withheld")
    wide_steps: int = Field(
        description="Disagreement when max and min are at least this many scale values apart "
        "(1 on a two-valued scale)"
    )
    en: str
    es: str


class RatingsSummary(BaseModel):
    assessment_id: uuid.UUID
    status: str
    raters: list[RaterSummary]
    rule: DisagreementRule
    disagreements: int = Field(description="Items flagged as disagreement")
    withheld: int = Field(description="Items whose distribution is withheld")
    items: list[ItemDistribution]


class ConsensusItem(BaseModel):
    item: str
    proposed: Value = Field(description="The median rounded to a scale value, or na; null: none")
    current: Value = Field(description="The assessment's answer before this request")
    changes: bool = Field(description="Applying the proposal changes the answer")
    reason: str | None = Field(default=None, description="Why there is no proposal")


class ConsensusRead(BaseModel):
    applied: bool
    applied_items: list[str] = Field(description="Items whose answer this request changed")
    etag: str | None = Field(description="The assessment's ETag after this request")
    items: list[ConsensusItem]


class RatingsImportRead(BaseModel):
    raters: list[RaterSummary] = Field(description="The raters the workbook set, in its order")
    skipped_sheets: list[str] = Field(description="Rater sheets left blank: nothing was stored")


# --- a rater's own link --------------------------------------------------------------------------


class RaterLinkIssued(BaseModel):
    """A rater's own link, shown once: only its hash is kept."""

    code: str
    token: str = Field(description="The secret: send it as 'Authorization: Bearer <token>'")
    path: str = Field(description="The rater's page on this server", examples=["/rate/ocr_..."])
    expires_at: Timestamp


class OwnRatingsRead(BaseModel):
    """What a rater sees through their own link: their ratings and nothing of anyone else's."""

    code: str
    organization: str
    instrument_id: str
    instrument_version: str
    answered: int
    na: int
    finished: bool
    expires_at: Timestamp
    ratings: list[RatingRead]


# --- verification --------------------------------------------------------------------------------


class VerifiedRead(BaseModel):
    item: str
    self: Value = Field(description="The assessment's answer (the self-score)")
    verified: Value = Field(description="The value after the evidence was reviewed")
    note: str | None = Field(description="The evidence reviewed")
    verified_by: str
    verified_at: Timestamp


class ScorePair(BaseModel):
    key: str | None = None
    self: float | None
    verified: float | None
    gap: float | None = Field(description="self - verified; null when either is null")


class DimensionPair(ScorePair):
    areas: list[ScorePair]


class VerificationScores(BaseModel):
    """The self-score and the verified score side by side: the same engine scores the answers
    and the answers with each verified item's value in place of its own."""

    items_verified: int
    items_changed: int = Field(description="Verified items whose value differs from the answer")
    items_total: int = Field(description="Items of the instrument")
    coverage: float = Field(description="items_verified / items_total")
    overall: ScorePair
    dimensions: list[DimensionPair]
    en: str
    es: str


class VerificationRead(BaseModel):
    assessment_id: uuid.UUID
    status: str
    items: list[VerifiedRead]
    scores: VerificationScores | None = Field(description="null when no item is verified")
