"""The ratings workbook of an assessment: made with one sheet per rater (stored raters prefilled,
blank sheets for the next codes), and read back into ratings, all or nothing, with every problem
named by sheet and cell."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.session import write_transaction
from app.domain.errors import Invalid
from app.excel.problems import WorkbookRejected
from app.excel.ratings import RaterSheet, build_ratings_workbook, read_ratings_workbook
from app.excel.safety import Limits
from app.services.assessment_reads import get_assessment
from app.services.filenames import safe_filename
from app.services.instruments import resolve_instrument
from app.services.keys import Principal
from app.services.rating_models import RatingsImportRead
from app.services.ratings import (
    RaterInput,
    check_draft,
    rater_values,
    raters_of,
    require_facilitator,
    store_rater,
    summary_of,
)

MAX_SHEETS = 50


def _next_codes(used: set[str], count: int) -> list[str]:
    codes: list[str] = []
    n = 1
    while len(codes) < count:
        code = f"R{n:02d}"
        if code not in used:
            codes.append(code)
        n += 1
    return codes


def ratings_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    lang: str,
    blank: int,
) -> tuple[str, bytes]:
    """(file name, bytes): a sheet per stored rater with their ratings, and ``blank`` more sheets
    named with the next free codes (R01, R02, ...)."""
    require_facilitator(principal)
    a = get_assessment(session, principal, assessment_id)
    f = resolve_instrument(catalog, a.instrument_id, a.instrument_version)
    raters = raters_of(session, a.id)
    if len(raters) + blank > MAX_SHEETS:
        raise Invalid(
            f"a ratings workbook holds at most {MAX_SHEETS} rater sheets",
            errors=[{"pointer": "/blank", "code": "too_many", "detail": "too many sheets"}],
        )
    sheets = [
        RaterSheet(
            r.code,
            rater_values(r),
            {x.item_key: x.note for x in r.ratings if x.note},
        )
        for r in raters
    ]
    sheets += [RaterSheet(c) for c in _next_codes({r.code for r in raters}, blank)]
    data = build_ratings_workbook(f.instrument, f.content_hash, lang, a.id, sheets)
    name = safe_filename("ratings", a.instrument_id, a.round, str(a.id)[:8], ext="xlsx")
    return name, data


def import_ratings_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    data: bytes,
    limits: Limits,
) -> RatingsImportRead:
    """Replace the ratings of every rater the workbook has (a sheet per rater, named by code);
    all or nothing: any problem in any cell and nothing is written."""
    require_facilitator(principal)
    a = get_assessment(session, principal, assessment_id)
    check_draft(a)
    f = resolve_instrument(catalog, a.instrument_id, a.instrument_version)
    if not data:
        raise Invalid(
            "send the ratings workbook as the multipart field 'file'",
            errors=[{"pointer": "/file", "code": "missing", "detail": "the workbook is missing"}],
        )
    try:
        read = read_ratings_workbook(data, f.instrument, f.content_hash, a.id, limits)
    except WorkbookRejected as rejected:
        raise Invalid(
            f"{len(rejected.problems)} problem(s) in the ratings workbook; nothing was written",
            errors=[p.as_error() for p in rejected.problems],
        ) from None
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_draft(a)
        stored = [
            store_rater(
                session,
                principal,
                a,
                f.instrument,
                RaterInput(r.code, None, (), keep_name=True),
                r.answers,
                "excel",
            )
            for r in read.raters
        ]
        summaries = [summary_of(r) for r in stored]
    return RatingsImportRead(raters=summaries, skipped_sheets=list(read.skipped))
