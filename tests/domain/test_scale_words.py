"""What a typed label means is looked up per scale, and a scale's table is never another's.

Found by the intermittent reader test (tests/excel/test_reader.py, once on each database): the
tables were cached by ``id(scale)``. The parser worker builds an instrument again from its JSON
and forgets the oldest it knows, so a scale freed there could leave its table to a new scale
that got the same id, and a filled workbook's labels were refused as "not on the scale" (or read
as the other scale's values)."""

from __future__ import annotations

import gc

from app.domain.answers import interpret
from app.domain.instrument import Scale


def _scale(words: tuple[str, str]) -> Scale:
    return Scale.model_validate(
        {
            "kind": "levels",
            "values": [
                {"value": 1, "label": {"en": f"{words[0]} low", "es": f"{words[1]} bajo"}},
                {"value": 2, "label": {"en": f"{words[0]} high", "es": f"{words[1]} alto"}},
            ],
        }
    )


def test_a_new_scale_never_reads_with_a_freed_scales_table() -> None:
    ids = set()
    for n in range(200):
        words = (f"alpha{n}", f"beta{n}")
        scale = _scale(words)
        ids.add(id(scale))
        assert interpret(scale, f"{words[0]} high") == 2
        assert interpret(scale, f"{words[1]} bajo") == 1
        del scale
        gc.collect()
    assert len(ids) < 200  # memory was reused: the case the cache must tell apart
