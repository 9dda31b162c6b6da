"""Excel and CSV out of stored data: the service side of app.excel's writers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, AssessmentScore, CohortMember, Organization
from app.domain.errors import Invalid, NotFound
from app.domain.score_object import ScorePayload, SeriesRead
from app.excel import (
    AssessmentInfo,
    CohortInfo,
    CohortRow,
    Prefill,
    RawRow,
    build_template,
    export_assessment,
    export_cohort,
    export_raw,
    export_raw_csv,
    export_series,
)
from app.services.analysis import series
from app.services.assessment_reads import answers_of, answers_of_many, get_assessment
from app.services.cohort_comparison import CohortResult, RoundsAsked, compare_cohort_rounds
from app.services.filenames import safe_filename
from app.services.keys import Principal
from app.services.organizations import get_cohort, get_organization


def assessment_as_template(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID, lang: str
) -> tuple[str, bytes]:
    """The assessment written back into its template, ready to edit and upload again."""
    a = get_assessment(session, principal, assessment_id)
    f = catalog.get(a.instrument_id, a.instrument_version)
    if f is None:
        raise NotFound(f"instrument {a.instrument_id} {a.instrument_version} is not loaded")
    org = session.get(Organization, a.organization_id)
    assert org is not None
    prefill = Prefill(
        organization_name=org.name,
        organization_external_id=org.external_id,
        round=a.round,
        assessed_on=a.assessed_on,
        assessor=a.assessor,
        answers=answers_of(a),
        notes={x.item_key: x.note for x in a.answers if x.note},
    )
    data = build_template(f.instrument, f.content_hash, lang, prefill)
    return safe_filename(a.instrument_id, a.round, str(a.id), ext="xlsx"), data


def assessment_workbook(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID, lang: str
) -> tuple[str, bytes]:
    """Cover, answers with labels, scores by area/dimension/lens, NUPAS risk, native charts."""
    a = get_assessment(session, principal, assessment_id)
    f = _file(catalog, a.instrument_id, a.instrument_version)
    org = session.get(Organization, a.organization_id)
    assert org is not None
    stored = session.get(AssessmentScore, a.id)
    info = AssessmentInfo(
        assessment_id=str(a.id),
        organization_name=org.name,
        round=a.round,
        assessed_on=a.assessed_on,
        status=a.status,
        instrument_version=a.instrument_version,
        revision=a.revision,
        organization_external_id=org.external_id,
        assessor=a.assessor,
    )
    notes = {x.item_key: x.note for x in a.answers if x.note}
    data = export_assessment(
        f.instrument,
        info,
        answers_of(a),
        notes,
        ScorePayload.model_validate(stored.payload) if stored else None,
        lang,
    )
    return safe_filename(a.instrument_id, a.round, org.name, ext="xlsx"), data


def series_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    org_id: uuid.UUID,
    instrument_id: str,
    lang: str,
) -> tuple[str, bytes]:
    """An organization's rounds: a table, a line chart, and a radar of first vs latest."""
    f = catalog.latest(instrument_id)
    if f is None:
        raise Invalid(f"unknown instrument '{instrument_id}'")
    org = get_organization(session, principal, org_id)
    found = SeriesRead.model_validate(series(session, principal, org_id, instrument_id))
    data = export_series(f.instrument, org.name, found, lang)
    return safe_filename(instrument_id, "series", org.name, ext="xlsx"), data


def cohort_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    asked: RoundsAsked,
    lang: str,
) -> tuple[str, bytes]:
    """A row per organization (baseline, endline, delta), a summary, native charts."""
    result = compare_cohort_rounds(session, principal, catalog, asked)
    name = safe_filename(
        asked.instrument_id, asked.baseline, asked.endline, result.cohort_name, ext="xlsx"
    )
    return name, cohort_export(result, lang)


def cohort_export(result: CohortResult, lang: str) -> bytes:
    """The workbook of a cohort comparison, from its typed result."""
    rows = [
        CohortRow(
            p.organization_id,
            p.name,
            p.baseline,
            p.endline,
            external_id=result.external_ids.get(p.organization_id),
            left_out=len(p.left_out),
        )
        for p in result.pairs
    ]
    info = CohortInfo(
        cohort_name=result.cohort_name,
        baseline_round=result.baseline,
        endline_round=result.endline,
        names=result.names,
        compared_on_version=result.instrument.instrument.version,
        versions_mixed=result.versions_mixed,
        rescored=len(result.rescored),
        not_comparable=len(result.not_comparable),
    )
    return export_cohort(result.instrument.instrument, info, result.comparison, rows, lang)


def _file(catalog: Catalog, instrument_id: str, version: str | None) -> InstrumentFile:
    f = catalog.latest(instrument_id) if version is None else catalog.get(instrument_id, version)
    if f is None:
        raise Invalid(f"unknown instrument or version: {instrument_id} {version or ''}".strip())
    return f


RAW_BATCH = 500


def raw_rows(
    session: Session,
    principal: Principal,
    cohort_id: uuid.UUID,
    instrument_id: str,
) -> Iterator[RawRow]:
    """Current revisions of the cohort's assessments, streamed in batches (answers per batch)."""
    get_cohort(session, principal, cohort_id)
    query = (
        select(
            Assessment.id,
            Assessment.organization_id,
            Organization.name,
            Organization.external_id,
            Assessment.round,
            Assessment.assessed_on,
            Assessment.status,
            Assessment.instrument_version,
            AssessmentScore.overall,
        )
        .join(Organization, Organization.id == Assessment.organization_id)
        .join(CohortMember, CohortMember.organization_id == Assessment.organization_id)
        .outerjoin(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(
            CohortMember.cohort_id == cohort_id,
            Assessment.workspace_id == principal.workspace_id,
            Assessment.instrument_id == instrument_id,
            Assessment.is_current.is_(True),
        )
        .order_by(
            Organization.name, Assessment.organization_id, Assessment.assessed_on, Assessment.id
        )
    )
    # read a batch at a time (a server-side cursor on PostgreSQL, so ``session`` must be in a
    # transaction: not the autocommit reader), each batch with its answers: the memory stays that
    # of one batch, whatever the cohort's size (10,000 rows read at once held 8 MiB, a national
    # portfolio's 50,000 five times that). Closed however the reading ends.
    result = session.connection().execute(query.execution_options(yield_per=RAW_BATCH))
    with result:
        for batch in result.partitions():
            answers = answers_of_many(session, [r[0] for r in batch])
            for aid, org_id, name, ext, round_label, on, status, version, overall in batch:
                yield RawRow(
                    assessment_id=str(aid),
                    organization_id=str(org_id),
                    organization_name=name,
                    round=round_label,
                    assessed_on=on,
                    status=status,
                    instrument_version=version,
                    overall=overall,
                    answers=answers[aid],
                    external_id=ext,
                )


def cohort_raw(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    cohort_id: uuid.UUID,
    instrument_id: str,
    lang: str,
) -> tuple[str, bytes]:
    """One row per assessment, one column per item (of the latest version): for R/Stata/SPSS."""
    f = _file(catalog, instrument_id, None)
    cohort = get_cohort(session, principal, cohort_id)
    data = export_raw(f.instrument, raw_rows(session, principal, cohort_id, instrument_id), lang)
    return safe_filename(instrument_id, "raw", cohort.name, ext="xlsx"), data


def cohort_raw_csv(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    cohort_id: uuid.UUID,
    instrument_id: str,
) -> tuple[str, Iterator[str]]:
    f = _file(catalog, instrument_id, None)
    cohort = get_cohort(session, principal, cohort_id)
    # made before streaming, while the session is open: the text, not the rows (10,000 rows with
    # their answers held 75 MiB; their CSV text is 3.4 MB)
    chunks = list(
        export_raw_csv(f.instrument, raw_rows(session, principal, cohort_id, instrument_id))
    )
    return safe_filename(instrument_id, "raw", cohort.name, ext="csv"), iter(chunks)
