"""The engine agrees with the plain reference scorer on thousands of generated assessments of
every instrument file (shipped and the scoring fixtures): answers, N/A, missing and whole areas
left blank."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.catalog import InstrumentFile, load_catalog, load_file
from app.domain.scoring import NA, AnswerValue, Score, score
from tests.conftest import DATA, INSTRUMENTS
from tests.domain import reference_scorer as ref

FILES = [
    *load_catalog(INSTRUMENTS),
    *(load_file(p) for p in sorted((DATA / "scoring").glob("*/*.yaml"))),
    load_file(DATA / "instruments" / "mini" / "1.0.yaml"),
]
IDS = [f"{f.instrument.id}-{f.instrument.version}" for f in FILES]
EXAMPLES = 400  # per file: 10 files -> 4,000 assessments
TOL = 1e-9


def assessments(f: InstrumentFile) -> st.SearchStrategy[dict[str, AnswerValue]]:
    """Per item a value, N/A (where the scale allows it) or missing; some areas wholly blank."""
    ins = f.instrument
    areas = [a for d in ins.dimensions for a in d.areas]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, AnswerValue]:
        blank = draw(st.sets(st.sampled_from([a.key for a in areas])))
        missing_rate = draw(st.sampled_from([0.0, 0.1, 0.4]))
        out: dict[str, AnswerValue] = {}
        for a in areas:
            if a.key in blank:
                continue
            for item in a.items:
                scale = ins.scales[item.scale]
                options: list[AnswerValue | None] = [v.value for v in scale.values]
                if scale.allow_na:
                    options.append(NA)
                choice = draw(st.sampled_from(options))
                if draw(st.floats(0, 1)) < missing_rate:
                    continue
                if choice is not None:
                    out[item.key] = choice
        return out

    return build()


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def near_a_boundary(f: InstrumentFile, value: float | None) -> bool:
    """Band comparisons are skipped where float rounding could put the two on either side."""
    if value is None:
        return False
    edges = [b.max for b in f.instrument.scoring.bands]
    if f.instrument.scoring.risk:
        edges += [t.below for t in f.instrument.scoring.risk.thresholds]
    return any(abs(value - e) <= 1e-7 for e in edges)


def check_node(engine: Any, expected: ref.Node, where: str) -> None:
    assert engine.assessed == expected.assessed, where
    if not expected.assessed:
        return
    counts = (engine.answered, engine.na, engine.missing)
    assert counts == (expected.answered, expected.na, expected.missing), where
    assert close(engine.coverage, expected.coverage), where
    assert close(engine.score, expected.score), (where, engine.score, expected.score)
    assert close(engine.partial, expected.partial), (where, engine.partial, expected.partial)


def agree(f: InstrumentFile, answers: dict[str, AnswerValue]) -> None:
    s: Score = score(f.compiled, answers)
    given_ = {k: ("na" if v is NA else v) for k, v in answers.items()}
    expected = ref.reference_score(f.instrument, given_)
    for d in s.dimensions:
        check_node(d, expected["dimensions"][d.key], d.key)
        for a in d.areas:
            check_node(a, expected["areas"][a.key], a.key)
    o, eo = s.overall, expected["overall"]
    assert (o.answered, o.na, o.missing) == (eo.answered, eo.na, eo.missing)
    assert close(o.coverage, eo.coverage)
    assert close(o.score, eo.score), (o.score, eo.score)
    for lens in s.lens:
        assert close(lens.score, expected["lens"][lens.lens.value].score), lens.lens
    assert [k for k, _ in expected["weakest"]] == [w.key for w in s.weakest] or all(
        close(w.normalized, n) for w, (_, n) in zip(s.weakest, expected["weakest"], strict=True)
    )
    assert list(s.lowest_level) == expected["lowest_level"]
    if s.risk is None:
        if not near_a_boundary(f, o.score) and not any(
            near_a_boundary(f, d.score) for d in s.dimensions
        ):
            assert o.band == expected["band"], (o.score, o.band, expected["band"])
            assert (o.cap.applied if o.cap else None) == expected["cap_applied"]
        return
    pcts = [n.value for n in expected["areas"].values()] + [
        n.value for n in expected["dimensions"].values()
    ]
    if any(near_a_boundary(f, p) for p in pcts):
        return
    for d in s.dimensions:
        band = d.risk.band.value if d.risk and d.risk.band else None
        assert band == expected["dimensions"][d.key].band, d.key
        failing = list(d.risk.failing_areas) if d.risk else []
        assert failing == expected["dimensions"][d.key].failing_areas, d.key
    r = s.risk
    assert (r.overall.value if r.overall else None) == expected["risk"]
    assert list(r.driven_by) == expected["driven_by"]
    assert r.complete == expected["complete"]
    assert list(r.not_assessed) == expected["not_assessed"]
    got = {c.key: [x.section for x in c.sections] for c in r.conditions}
    assert got == expected["conditions"]
    assert list(got) == list(expected["conditions"])


@pytest.mark.parametrize("f", FILES, ids=IDS)
def test_engine_agrees_with_the_reference(f: InstrumentFile) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(assessments(f))
    def check(answers: dict[str, AnswerValue]) -> None:
        agree(f, answers)

    check()


def test_the_reference_is_not_the_engine() -> None:
    lines = Path(ref.__file__).read_text(encoding="utf-8").splitlines()
    imports = [line for line in lines if line.startswith(("from ", "import "))]
    assert imports and all(
        "app.domain.instrument" in line or "app." not in line for line in imports
    )
