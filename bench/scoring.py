"""Full explained scorings per second, one process, every item answered.

Usage: .venv/bin/python bench/scoring.py [--seconds 2]
Prints, per shipped instrument (best of 5 windows): items, scorings/s, microseconds per scoring
and per item, and the cost of turning a score into its stored JSON. The
explanation (every node's coverage, N/A, missing, reasons, lens, risk) is part of each scoring.
"""

from __future__ import annotations

import argparse
import platform
import random
import time

from app.catalog import load_catalog
from app.config import REPO_ROOT
from app.domain.scoring import NA, AnswerValue, score
from app.services.scores import score_payload


def full_answers(f, rnd: random.Random) -> dict[str, AnswerValue]:  # type: ignore[no-untyped-def]
    out: dict[str, AnswerValue] = {}
    for key, item in f.instrument.items.items():
        scale = f.instrument.scales[item.scale]
        out[key] = rnd.choice([v.value for v in scale.values])
    return out


def measure(fn, seconds: float, windows: int = 5) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Best of several windows (as timeit does): the machine is shared and noisy."""
    best: tuple[int, float] | None = None
    for _ in range(windows):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / windows
        while True:
            for _ in range(100):
                fn()
            n += 100
            now = time.perf_counter()
            if now >= deadline:
                break
        if best is None or n / (now - start) > best[0] / best[1]:
            best = (n, now - start)
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    catalog = load_catalog(REPO_ROOT / "instruments")
    rnd = random.Random(7)
    print(f"python {platform.python_version()} on {platform.machine()}, {args.seconds:g} s each")
    print(
        f"{'instrument':22} {'items':>5} {'scorings/s':>12} {'us/scoring':>11} {'us/item':>8}"
        f" {'+json us':>9}"
    )
    for f in catalog:
        answers = full_answers(f, rnd)
        # a few N/A so the explanation path is exercised too (where the scale allows it)
        for key in list(answers)[:2]:
            if f.instrument.scales[f.instrument.items[key].scale].allow_na:
                answers[key] = NA
        compiled = f.compiled
        n, elapsed = measure(lambda c=compiled, a=answers: score(c, a), args.seconds)
        per = elapsed / n * 1e6
        result = score(compiled, answers)
        m, e2 = measure(lambda r=result, i=f.instrument: score_payload(r, i), args.seconds / 2)
        items = len(f.instrument.item_keys)
        print(
            f"{f.instrument.id + ' ' + f.instrument.version:22} {items:5d} {n / elapsed:12,.0f}"
            f" {per:11.1f} {per / items:8.2f} {e2 / m * 1e6:9.1f}"
        )


if __name__ == "__main__":
    main()
