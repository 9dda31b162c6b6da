"""Peer benchmarks: where one organization stands among its peers (issue 12).

Peers are the *other* organizations of the workspace with a current submitted or final
assessment of the same instrument in the same round. A workspace that shares its anonymized
scores (an admin's opt-in, ``set_sharing``) may also ask for ``shared`` peers: those of every
workspace that shares too. Sharing is reciprocal: a workspace that does not share sees no other
workspace's numbers, and nothing tells it which workspaces share. A peer on another version of the
instrument counts when one version supersedes the other: then everyone (the organization and
all its peers) is scored again on the assessment's version through ``carry_onto`` (the crosswalk
the round comparisons use), on the items every side can carry, so the numbers compare.

Privacy is the point of the rules below, not an afterthought:

* a number is shown only when at least ``MIN_PEERS`` peers have it; below that the answer says
  why and gives no count;
* peers are never named or identified: no ids, no minimum or maximum, only the organization's
  percentile, the peers' median and quartiles, and n.

The percentile is the share of peers strictly below the organization's number plus half the
share of peers with the same number, on the numbers as shown (rounded half-even to 2 places), so
a reader can check it by hand (docs/scoring.md, "Peer benchmarks").
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Assessment, AssessmentScore, Workspace
from app.db.session import write_transaction
from app.domain.comparison import rescore_on
from app.domain.enums import SCORED
from app.domain.instrument import Instrument, Method
from app.domain.rounding import half_even
from app.services.assessment_reads import answers_of_many, get_assessment
from app.services.common import audit
from app.services.keys import Principal, WorkspaceView, workspace_of
from app.services.scores import score_summary

MIN_PEERS = 5

State = Literal["shown", "too_few_peers", "not_scored", "not_comparable", "not_sharing"]
Scope = Literal["workspace", "shared"]

REASONS: dict[str, tuple[str, str]] = {
    "too_few_peers": (
        f"fewer than {MIN_PEERS} other organizations of this workspace have a submitted "
        "assessment of this instrument in this round: peers are not shown, so that none can be "
        "recognized",
        f"menos de {MIN_PEERS} otras organizaciones de este espacio de trabajo tienen una "
        "evaluación enviada de este instrumento en esta ronda: no se muestran pares, para que "
        "ninguna pueda ser reconocida",
    ),
    "not_scored": (
        "this assessment has no score yet: submit it to see where it stands among its peers",
        "esta evaluación aún no tiene puntaje: envíela para ver dónde se sitúa entre sus pares",
    ),
    "not_comparable": (
        "this assessment's instrument version is not loaded, so peers cannot be compared",
        "la versión del instrumento de esta evaluación no está cargada; no se pueden comparar "
        "pares",
    ),
    "not_sharing": (
        "this workspace does not share its anonymized scores, so it sees no other workspace's: "
        "an admin can opt in to sharing",
        "este espacio de trabajo no comparte sus puntajes anonimizados, así que no ve los de "
        "otros: un administrador puede optar por compartirlos",
    ),
    "number_few_peers": (
        f"fewer than {MIN_PEERS} peers have this number",
        f"menos de {MIN_PEERS} pares tienen este número",
    ),
}


@dataclass(frozen=True)
class Standing:
    """One number: the organization's value and, when at least MIN_PEERS peers have it, its
    percentile among them with the peers' median and quartiles."""

    key: str
    value: float | None
    n: int | None  # None below MIN_PEERS: a small count is itself identifying
    percentile: float | None
    median: float | None
    q1: float | None
    q3: float | None

    @property
    def shown(self) -> bool:
        return self.n is not None


@dataclass(frozen=True)
class Benchmark:
    assessment_id: uuid.UUID
    organization_id: uuid.UUID
    instrument: Instrument | None
    instrument_id: str
    instrument_version: str
    round: str
    scope: Scope
    state: State
    rescored: bool  # peers on another version: everyone scored again on the common items
    overall: Standing | None
    dimensions: tuple[Standing, ...]
    lens: tuple[Standing, ...]


# --- the arithmetic (pure) -----------------------------------------------------------------------


def percentile_rank(value: float, peers: Sequence[float]) -> float:
    """100 × (peers strictly below + ½ × peers equal) / n."""
    below = sum(1 for p in peers if p < value)
    ties = sum(1 for p in peers if p == value)
    return 100.0 * (below + 0.5 * ties) / len(peers)


def standing(key: str, value: float | None, peers: Sequence[float | None]) -> Standing:
    """The organization's standing on one number, hidden when fewer than MIN_PEERS have it.

    Both sides are compared as shown (half-even, 2 places); quartiles interpolate between the
    ordered values (``statistics.quantiles``, inclusive method, as Excel's QUARTILE.INC)."""
    shown = [half_even(p) for p in peers if p is not None]
    own = None if value is None else half_even(value)
    if len(shown) < MIN_PEERS:
        return Standing(key, own, None, None, None, None, None)
    q1, median, q3 = statistics.quantiles(shown, n=4, method="inclusive")
    rank = None if own is None else percentile_rank(own, shown)
    return Standing(key, own, len(shown), rank, median, q1, q3)


# --- reading the peer set ------------------------------------------------------------------------

_Row = tuple[uuid.UUID, str, Mapping[str, Any]]  # assessment id, version, stored summary


def _related(catalog: Catalog, instrument: Instrument, version: str) -> bool:
    if version == instrument.version:
        return True
    other = catalog.get(instrument.id, version)
    if other is None:
        return False
    new, old = other.instrument, instrument
    return (new.supersedes is not None and new.supersedes.version == old.version) or (
        old.supersedes is not None and old.supersedes.version == new.version
    )


def _peer_rows(session: Session, a: Assessment, scope: Scope) -> dict[uuid.UUID, _Row]:
    """Every other organization's latest current scored assessment of this instrument and round,
    in the workspace or in every sharing workspace, read in one query."""
    workspaces = (
        Assessment.workspace_id == a.workspace_id
        if scope == "workspace"
        else Assessment.workspace_id.in_(
            select(Workspace.id).where(or_(Workspace.id == a.workspace_id, Workspace.shares_scores))
        )
    )
    rows = session.execute(
        select(
            Assessment.organization_id,
            Assessment.id,
            Assessment.instrument_version,
            AssessmentScore.summary,
        )
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(
            workspaces,
            Assessment.instrument_id == a.instrument_id,
            Assessment.round == a.round,
            Assessment.organization_id != a.organization_id,
            Assessment.is_current.is_(True),
            Assessment.status.in_(SCORED),
        )
        .order_by(Assessment.assessed_on, Assessment.created_at)
    )
    return {org: (a_id, version, summary) for org, a_id, version, summary in rows}


def _rescored(
    session: Session, catalog: Catalog, instrument: Instrument, sides: Sequence[_Row]
) -> list[Mapping[str, Any]]:
    """Every side scored again on ``instrument`` on the items all of them can carry."""
    f = catalog.get(instrument.id, instrument.version)
    assert f is not None  # the caller found it
    answers = answers_of_many(session, [r[0] for r in sides])
    given = []
    for a_id, version, _ in sides:
        side = catalog.get(instrument.id, version)
        assert side is not None  # _related found it
        given.append((side.instrument, answers[a_id]))
    scores = rescore_on(instrument, f.compiled, given)
    assert scores is not None  # every side is related to ``instrument``
    return [score_summary(s) for s in scores]


def benchmark(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    scope: Scope = "workspace",
) -> Benchmark:
    """Where this assessment's organization stands among its peers (module doc)."""
    a = get_assessment(session, principal, assessment_id)
    file = catalog.get(a.instrument_id, a.instrument_version)
    own = session.scalar(
        select(AssessmentScore.summary).where(AssessmentScore.assessment_id == a.id)
    )

    def empty(state: State, instrument: Instrument | None) -> Benchmark:
        return Benchmark(
            a.id,
            a.organization_id,
            instrument,
            a.instrument_id,
            a.instrument_version,
            a.round,
            scope,
            state,
            False,
            None,
            (),
            (),
        )

    if file is None:
        return empty("not_comparable", None)
    instrument = file.instrument
    if own is None or a.status not in SCORED:
        return empty("not_scored", instrument)
    if scope == "shared" and not sharing(session, principal):
        return empty("not_sharing", instrument)
    peers = [
        r for r in _peer_rows(session, a, scope).values() if _related(catalog, instrument, r[1])
    ]
    if len(peers) < MIN_PEERS:
        return empty("too_few_peers", instrument)
    rescored = any(version != a.instrument_version for _, version, _ in peers)
    if rescored:
        own, *summaries = _rescored(
            session, catalog, instrument, [(a.id, a.instrument_version, own), *peers]
        )
    else:
        summaries = [summary for _, _, summary in peers]

    def numbers(part: str, key: str) -> Standing:
        return standing(key, own[part].get(key), [s[part].get(key) for s in summaries])

    overall = standing("overall", own["overall"], [s["overall"] for s in summaries])
    return Benchmark(
        a.id,
        a.organization_id,
        instrument,
        a.instrument_id,
        a.instrument_version,
        a.round,
        scope,
        "shown",
        rescored,
        overall,
        tuple(numbers("dimensions", d.key) for d in instrument.dimensions),
        tuple(numbers("lens", key) for key in own.get("lens", {})),
    )


def sharing(session: Session, principal: Principal) -> bool:
    """Whether the principal's workspace shares its anonymized scores."""
    return workspace_of(session, principal).shares_scores


def set_sharing(session: Session, principal: Principal, shares: bool) -> WorkspaceView:
    """Opt the workspace in to (or out of) sharing anonymized scores; the caller checks the
    admin role. Recorded in the audit log when it changes."""
    with write_transaction(session):
        ws = workspace_of(session, principal)
        if ws.shares_scores != shares:
            ws.shares_scores = shares
            audit(session, principal, "workspace.sharing", "workspace", ws.id, {"shares": shares})
    return WorkspaceView.of(ws)


def higher_is_better(instrument: Instrument | None) -> bool:
    """Risk scores (NUPAS-style) are better when lower: the percentile still counts peers
    below, so a reader needs to know which way is good."""
    return instrument is None or instrument.scoring.method is not Method.risk


def benchmark_json(b: Benchmark) -> dict[str, Any]:
    """The read model as the API sends it (rounded at the edge by the caller)."""
    titles = {d.key: d.title.model_dump() for d in b.instrument.dimensions} if b.instrument else {}

    def one(s: Standing, title: dict[str, str] | None = None) -> dict[str, Any]:
        reason = (
            None if s.shown else dict(zip(("en", "es"), REASONS["number_few_peers"], strict=True))
        )
        return {
            "key": s.key,
            **({"title": title} if title is not None else {}),
            "value": s.value,
            "shown": s.shown,
            "n": s.n,
            "percentile": s.percentile,
            "median": s.median,
            "q1": s.q1,
            "q3": s.q3,
            "reason": reason,
        }

    reason = REASONS.get(b.state) if b.state != "shown" else None
    return {
        "assessment_id": str(b.assessment_id),
        "organization_id": str(b.organization_id),
        "instrument": {"id": b.instrument_id, "version": b.instrument_version},
        "round": b.round,
        "peers": b.scope,
        "state": b.state,
        "reason": None if reason is None else {"code": b.state, "en": reason[0], "es": reason[1]},
        "min_peers": MIN_PEERS,
        "rule": "percentile = 100 × (peers strictly below + ½ × peers equal) / n",
        "higher_is_better": higher_is_better(b.instrument),
        "rescored_across_versions": b.rescored,
        "overall": None if b.overall is None else one(b.overall),
        "dimensions": [one(s, titles.get(s.key)) for s in b.dimensions],
        "lens": [one(s) for s in b.lens],
    }
