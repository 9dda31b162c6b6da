"""The stored score object and its typed model (``app.domain.score_object``) say the same thing.

``app.services.scores`` writes the object as plain data, fast; every reader (the API's schema,
the Excel exports, the pages and reports) reads it through ``ScorePayload``. Validating what the
writer made and dumping it again must give back every field as it was: a field the writer adds
and the model does not know, a field the model expects and the writer forgot, or a value of
another type all fail here. Checked with hypothesis on every shipped instrument and on the test
instruments that exercise the rarer parts (the cap by the weakest dimension, partial
assessments, risk with conditions).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from app.api.schemas.analysis import ScoreRead
from app.catalog import InstrumentFile, load_catalog, load_file
from app.domain.score_object import ScorePayload
from app.domain.scoring import AnswerValue, score
from app.services.scores import render_score, score_payload
from tests.conftest import DATA, INSTRUMENTS
from tests.domain.test_scoring_properties import answers_for

FILES = [
    *load_catalog(INSTRUMENTS),
    *(load_file(p) for p in sorted((DATA / "scoring").glob("*/*.yaml"))),
]
IDS = [f"{f.instrument.id}-{f.instrument.version}" for f in FILES]
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def as_json(value: Any) -> Any:
    """``value`` as it is once stored: JSON types only (tuples become lists)."""
    return orjson.loads(orjson.dumps(value))


@pytest.mark.parametrize("f", FILES, ids=IDS)
def test_the_typed_model_reads_back_every_field_the_writer_stores(f: InstrumentFile) -> None:
    @EXAMPLES
    @given(answers_for(f))
    def check(answers: dict[str, AnswerValue]) -> None:
        stored = as_json(score_payload(score(f.compiled, answers), f.instrument))
        typed = ScorePayload.model_validate(stored)
        assert typed.model_dump(mode="json") == stored

    check()


@pytest.mark.parametrize("f", FILES, ids=IDS)
def test_the_api_schema_reads_back_every_field_of_the_rendered_score(f: InstrumentFile) -> None:
    @EXAMPLES
    @given(answers_for(f))
    def check(answers: dict[str, AnswerValue]) -> None:
        payload = score_payload(score(f.compiled, answers), f.instrument)
        rendered = render_score(uuid.uuid4(), datetime.now(UTC), payload)
        typed = ScoreRead.model_validate_json(rendered)
        assert typed.model_dump(mode="json", exclude={"verification"}) == orjson.loads(rendered)

    check()


def test_a_field_the_model_does_not_know_is_found() -> None:
    """The check above can fail: an unknown field is dropped by the model, so the two differ."""
    f = FILES[0]
    stored = as_json(score_payload(score(f.compiled, {}), f.instrument))
    stored["overall"]["extra_field"] = 1
    assert ScorePayload.model_validate(stored).model_dump(mode="json") != stored
