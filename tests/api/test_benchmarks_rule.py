"""The percentile rule as docs/scoring.md §11 states it, and the five-peer floor per number."""

from __future__ import annotations

import pytest

from app.services.benchmarks import MIN_PEERS, percentile_rank, standing


@pytest.mark.parametrize(
    ("value", "peers", "expected"),
    [
        (3.0, [1, 1, 1, 1, 1, 3, 3, 3, 4, 4], 65.0),  # the documented example: (5 + 1.5) / 10
        (1.0, [2, 3, 4, 5, 6], 0.0),
        (7.0, [2, 3, 4, 5, 6], 100.0),
        (4.0, [4, 4, 4, 4, 4], 50.0),
    ],
    ids=["doc-example", "below-all", "above-all", "all-tied"],
)
def test_percentile_rank(value: float, peers: list[float], expected: float) -> None:
    assert percentile_rank(value, peers) == expected


def test_a_number_is_shown_from_five_peers_compared_as_shown() -> None:
    assert MIN_PEERS == 5
    hidden = standing("d", 2.0, [1.0, 2.0, 3.0, 4.0, None, None])
    assert (hidden.shown, hidden.n, hidden.percentile, hidden.median) == (False, None, None, None)
    # 2.004 and 1.996 are both shown as 2.00: ties, as a reader sees them
    s = standing("d", 2.004, [1.0, 1.996, 3.0, 4.0, 5.0])
    assert s.shown and s.n == 5 and s.value == 2.0
    assert s.percentile == 100 * (1 + 0.5) / 5
    assert (s.q1, s.median, s.q3) == (2.0, 3.0, 4.0)
