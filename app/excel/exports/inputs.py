"""What the service layer fills for the exports: plain frozen values, no ORM rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from app.domain.scoring import AnswerValue


@dataclass(frozen=True)
class AssessmentInfo:
    """What the cover sheet of an assessment export says about the assessment."""

    assessment_id: str
    organization_name: str
    round: str
    assessed_on: date
    status: str  # draft | submitted | final (other values are shown as they are)
    instrument_version: str
    revision: int = 1
    organization_external_id: str | None = None
    assessor: str | None = None


@dataclass(frozen=True)
class CohortRow:
    """One organization's baseline and endline numbers, keyed ``overall`` and dimension keys.

    The fields are those of ``app.domain.comparison.OrgPair`` (``CohortResult.pairs``); an empty
    mapping means the organization has no scored assessment for that round (none, or a draft).
    ``external_id`` is the organization's ID in the program (shown before the internal UUID).
    """

    organization_id: str
    name: str
    baseline: Mapping[str, float | None]
    endline: Mapping[str, float | None]
    external_id: str | None = None
    left_out: int = 0  # items answered in one round only, left out of both


@dataclass(frozen=True)
class CohortInfo:
    """What a cohort comparison's workbook says around its numbers (``CohortResult``): the
    cohort, the two rounds, every member's name, and the versions compared."""

    cohort_name: str
    baseline_round: str
    endline_round: str
    names: Mapping[str, str]  # every member of the cohort: organization id -> name
    compared_on_version: str
    versions_mixed: bool = False
    rescored: int = 0  # organizations with a round on an older version, scored on the latest
    not_comparable: int = 0  # ... on a version the latest does not supersede: left out


@dataclass(frozen=True)
class RawRow:
    """One assessment as a raw data row. Answers of items the instrument does not have are
    ignored (columns are the instrument version's items); absent items are blank."""

    assessment_id: str
    organization_id: str
    organization_name: str
    round: str
    assessed_on: date
    status: str
    instrument_version: str
    overall: float | None
    answers: Mapping[str, AnswerValue]
    external_id: str | None = None
