"""The answers of many assessments read at once are each assessment's own answers (values, N/A,
blanks left out), on both databases: PostgreSQL reads them as a row of arrays per assessment
with the ids as one parameter, so its statement does not grow with the number of assessments."""

from __future__ import annotations

import random
import uuid
from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Answer, Assessment
from app.domain.answers import RawAnswer
from app.services import assessments, organizations
from app.services.assessment_reads import among_id_numbers, among_ids, answers_of, answers_of_many
from app.services.instruments import sync_catalog
from app.services.keys import authenticate, create_key
from tests.conftest import statements_sent


def _drafts(session: Session, catalog: Catalog, n: int) -> list[uuid.UUID]:
    sync_catalog(session, catalog)
    key = create_key(session, workspace=f"many-{uuid.uuid4().hex[:8]}", role="editor")
    principal = authenticate(session, key.secret)
    assert principal is not None
    f = catalog.latest("oca")
    assert f is not None
    keys = [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]
    rnd = random.Random(7)
    ids = []
    for i in range(n):
        org, _ = organizations.create_organization(
            session, principal, organizations.OrgData(name=f"Many {i}")
        )
        answers = [RawAnswer(k, rnd.choice([1, 2, 3, 4, 4, 3, "na", None])) for k in keys]
        a, _ = assessments.create_assessment(
            session,
            principal,
            catalog,
            assessments.AssessmentData(
                organization_id=org.id,
                instrument_id="oca",
                instrument_version=f.instrument.version,
                round="baseline",
                assessed_on=date(2024, 3, 1),
                assessor=None,
                answers=answers,
            ),
        )
        ids.append(a.id)
    return ids


def test_many_at_once_are_each_ones_own(session: Session, engine: Engine, catalog: Catalog) -> None:
    ids = _drafts(session, catalog, 6)
    session.expire_all()
    own = {}
    for i in ids:
        a = session.get(Assessment, i)
        assert a is not None
        own[i] = answers_of(a)
    nobody = uuid.uuid4()  # an id without answers maps to no answers
    with statements_sent(engine) as few:
        few_read = answers_of_many(session, ids[:2])
    with statements_sent(engine) as seen:
        read = answers_of_many(session, [*ids, nobody])
    assert read == {**own, nobody: {}}
    assert few_read == {i: own[i] for i in ids[:2]}
    assert any(isinstance(v, float) for v in own[ids[0]].values())
    assert len({len(x) for x in own.values()}) > 1  # blanks differ between them
    if engine.dialect.name == "postgresql":
        assert seen == few  # the same statement for 2 and for 7 assessments


def test_values_come_back_as_the_very_floats_stored(
    session: Session, engine: Engine, catalog: Catalog
) -> None:
    """SQLite packs the answers as JSON text, whose numbers keep 15 digits: the values travel as
    17-digit text instead, so no value comes back even one bit off."""
    (one,) = _drafts(session, catalog, 1)
    awkward = [0.1 + 0.2, 1 / 3, 200 / 3, 123456789.12345679, 2.2250738585072014e-308, 3.0]
    rows = session.scalars(select(Answer).where(Answer.assessment_id == one)).all()
    written = {}
    for row, value in zip(rows, awkward, strict=False):
        row.value, row.is_na = value, False
        written[row.item_key] = value
    session.commit()
    session.expire_all()
    a = session.get(Assessment, one)
    assert a is not None
    read = answers_of_many(session, [one])[one]
    assert read == answers_of(a)
    assert {k: read[k] for k in written} == written
    assert all(read[k].hex() == v.hex() for k, v in written.items())  # type: ignore[union-attr]


def test_an_id_list_selects_its_rows_and_is_bound_once(
    session: Session, engine: Engine, catalog: Catalog
) -> None:
    """``among_ids`` and ``among_id_numbers`` pick exactly the listed rows. On PostgreSQL the
    list is one parameter the server reads as a ``uuid[]`` when it binds it: the plan compares
    with that value, never with a cast of a text, which a scan parses again for every row it
    filters."""
    ids = _drafts(session, catalog, 3)
    postgres = engine.dialect.name == "postgresql"
    wanted = [ids[0], ids[2], uuid.uuid4()]
    by_ids = select(Assessment.id).where(among_ids(Assessment.id, wanted, postgres=postgres))
    by_numbers = select(Assessment.id).where(
        among_id_numbers(Assessment.id, [i.int for i in wanted], postgres=postgres)
    )
    assert set(session.scalars(by_ids)) == set(session.scalars(by_numbers)) == {ids[0], ids[2]}
    if postgres:
        connection = session.connection()
        compiled = by_numbers.compile(dialect=engine.dialect)
        plan = "\n".join(
            row[0]
            for row in connection.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params)
        )
        # the list as the plan's one uuid[] value ('{…}'::uuid[]), not text cast to uuid[] (an
        # expression: a sequential scan evaluated it for each row, 3.5 s for 300 ids)
        assert "::uuid[]))" in plan, plan
        assert "::cstring" not in plan and "character varying" not in plan, plan
