"""Excel and CSV out of stored data: the service side of app.excel's writers."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Organization
from app.domain.errors import NotFound
from app.excel import Prefill, build_template
from app.services.assessments import answers_of, get_assessment
from app.services.keys import Principal


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
    return f"{a.instrument_id}-{a.round}-{a.id}.xlsx", data
