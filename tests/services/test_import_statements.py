"""What writing one new workbook costs the database: the answers just inserted are scored as they
were inserted (not read back), a new assessment is not searched for a stored score, and the
workspace's webhook subscriptions are read once for the workbook's two events, not once each; the
round of an organization created by the import is not searched."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import AssessmentScore
from app.excel import Limits, Prefill, build_template
from app.services.assessment_reads import answers_of, get_assessment
from app.services.assessment_scoring import compute, score_columns
from app.services.imports import Upload, import_workbooks
from app.services.instruments import sync_catalog
from app.services.keys import cli_principal
from tests.conftest import statements_sent


def _workbook(catalog: Catalog, org: str) -> bytes:
    f = catalog.latest("oca")
    assert f is not None
    answers = {k: 1 + n % 4 for n, k in enumerate(f.instrument.item_keys)}
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
    return build_template(f.instrument, f.content_hash, "en", pre)


def test_a_new_workbook_is_written_without_reading_back_what_it_wrote(
    session: Session, engine: Engine, catalog: Catalog
) -> None:
    sync_catalog(session, catalog)
    principal = cli_principal(session, f"stmts-{uuid.uuid4().hex[:8]}")
    data = _workbook(catalog, "Statement Counting Org")
    with statements_sent(engine) as seen:
        (result,) = import_workbooks(
            session,
            principal,
            catalog,
            [Upload("one.xlsx", data)],
            create_organizations=True,
            limits=Limits(isolate=False),
        )
    assert result.status == "created" and result.scored, result.problems
    selects = [s.lower() for s in seen if s.lstrip().lower().startswith("select")]
    assert sum("from webhook_subscription" in s for s in selects) == 1, "\n".join(
        s[:90] for s in seen
    )
    assert not any("from answer " in s or "from answer\n" in s for s in selects)
    assert not any("from assessment_score" in s for s in selects)
    # nor is the round of an organization the import created searched for an assessment
    assert not any("assessment.round =" in s for s in selects)

    # and what it stored is what scoring the stored rows gives
    assert result.assessment_id is not None
    a = get_assessment(session, principal, uuid.UUID(result.assessment_id))
    f = catalog.latest("oca")
    assert f is not None
    stored = session.scalar(select(AssessmentScore).where(AssessmentScore.assessment_id == a.id))
    assert stored is not None
    again = score_columns(f, a.id, compute(f, a), answers_of(a))
    assert (stored.payload, stored.summary, stored.overall) == (
        again["payload"],
        again["summary"],
        again["overall"],
    )
    session.rollback()
