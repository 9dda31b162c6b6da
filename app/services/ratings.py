"""Individual ratings of a facilitated assessment (issue 12): each rater's own answers, their
distribution per item, disagreement flags, and a consensus proposed from them.

The assessment's own answers are the consensus, and scores come from them alone: ratings never
enter scoring. Ratings are validated by the same rule as answers (``parse_answers``), change only
while the assessment is a draft, and are seen by editors and admins only (the facilitator's
roles); a distribution of fewer than ``MIN_RATERS`` raters is withheld. docs/raters.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, Rater, Rating, Status
from app.db.session import write_transaction
from app.domain.answers import ParsedAnswers, RawAnswer, parse_answers, stored_answers
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.instrument import Instrument
from app.domain.ratings import (
    CODE_PATTERN,
    MIN_RATERS,
    WIDE_STEPS,
    Distribution,
    distribution,
    propose,
)
from app.domain.rounding import half_even
from app.domain.scoring import NA, AnswerValue
from app.services.assessment_reads import answers_of, assessment_etag, get_assessment
from app.services.assessments import update_assessment
from app.services.common import audit, aware, now
from app.services.instruments import resolve_instrument
from app.services.keys import Principal
from app.services.rating_models import (
    ConsensusItem,
    ConsensusRead,
    DisagreementRule,
    ItemDistribution,
    LinkStatus,
    RaterRead,
    RaterSummary,
    RatingRead,
    RatingsSummary,
    Value,
)

RULE: Final = DisagreementRule(
    min_raters=MIN_RATERS,
    wide_steps=WIDE_STEPS,
    en=f"An item's distribution is shown when at least {MIN_RATERS} raters rated it. The group "
    f"disagrees on an item when its highest and lowest ratings are {WIDE_STEPS} or more scale "
    "values apart (on a yes/no scale: any split).",
    es=f"La distribución de un ítem se muestra cuando al menos {MIN_RATERS} participantes lo "
    f"calificaron. El grupo discrepa en un ítem cuando su calificación más alta y la más baja "
    f"están a {WIDE_STEPS} o más valores de distancia en la escala (en una escala sí/no: "
    "cualquier división).",
)


@dataclass(frozen=True)
class RaterInput:
    """One rater's ratings as given (by the API, a workbook sheet or a page)."""

    code: str
    name: str | None
    answers: Sequence[RawAnswer]
    keep_name: bool = False  # a workbook names no one: keep the stored name


# --- checks --------------------------------------------------------------------------------------


def check_code(code: str) -> str:
    """A rater code: 1-16 letters, digits, '-', '_' or '.', starting with a letter or digit;
    stored upper-cased, so "r07" and "R07" are one rater."""
    if not CODE_PATTERN.match(code):
        raise Invalid(
            f"rater code {code!r} is not valid: 1 to 16 letters, digits, '-', '_' or '.', "
            "starting with a letter or a digit (e.g. R07)",
            errors=[{"pointer": "/code", "code": "invalid_code", "detail": "not a rater code"}],
        )
    return code.upper()


def require_facilitator(principal: Principal) -> None:
    """Individual ratings and their distribution are for editors and admins only."""
    if not principal.can_write:
        raise Forbidden(
            "individual ratings are seen by editors and admins only (the facilitator's roles)"
        )


def check_draft(a: Assessment) -> None:
    """Ratings change only while the assessment is a draft (409 otherwise)."""
    if a.status != Status.draft:
        raise Conflict(
            f"assessment is {a.status}; ratings change only while it is a draft"
            + (" — reopen it first" if a.status == Status.submitted else ""),
            status_now=a.status,
        )


def _file(catalog: Catalog, a: Assessment) -> InstrumentFile:
    return resolve_instrument(catalog, a.instrument_id, a.instrument_version)


def _item_order(instrument: Instrument) -> list[str]:
    return [i.key for d in instrument.dimensions for x in d.areas for i in x.items]


# --- reading -------------------------------------------------------------------------------------


def raters_of(session: Session, assessment_id: uuid.UUID) -> list[Rater]:
    return list(
        session.scalars(
            select(Rater)
            .where(Rater.assessment_id == assessment_id)
            .options(selectinload(Rater.ratings))
            .order_by(Rater.code)
        )
    )


def find_rater(session: Session, assessment_id: uuid.UUID, code: str) -> Rater | None:
    return session.scalar(
        select(Rater).where(Rater.assessment_id == assessment_id, Rater.code == code)
    )


def _value(value: float | None, is_na: bool) -> Value:
    return "na" if is_na else value


def _shown(value: AnswerValue | None) -> Value:
    return "na" if value is NA else (None if value is None else float(value))  # type: ignore[arg-type]


def rater_values(rater: Rater) -> dict[str, AnswerValue]:
    out: dict[str, AnswerValue] = {}
    for r in rater.ratings:
        if r.is_na:
            out[r.item_key] = NA
        elif r.value is not None:
            out[r.item_key] = r.value
    return out


def link_status(rater: Rater) -> LinkStatus:
    """The state of a rater's own link: none issued, active, expired or revoked."""
    if rater.link_revoked_at is not None:
        return "revoked"
    if rater.link_hash is None or rater.link_expires_at is None:
        return "none"
    return "active" if aware(rater.link_expires_at) > now() else "expired"


def summary_of(rater: Rater) -> RaterSummary:
    return RaterSummary(
        code=rater.code,
        answered=sum(1 for r in rater.ratings if r.value is not None),
        na=sum(1 for r in rater.ratings if r.is_na),
        link=link_status(rater),
        link_expires_at=rater.link_expires_at,
        finished=rater.finished_at is not None,
    )


def rater_read(rater: Rater) -> RaterRead:
    counts = summary_of(rater)
    return RaterRead(
        code=rater.code,
        name=rater.name,
        answered=counts.answered,
        na=counts.na,
        ratings=[
            RatingRead(item=r.item_key, value=_value(r.value, r.is_na), note=r.note)
            for r in rater.ratings
        ],
        created_at=rater.created_at,
        updated_at=rater.updated_at,
    )


def get_rater(
    session: Session, principal: Principal, assessment_id: uuid.UUID, code: str
) -> RaterRead:
    """One rater's own ratings, by code."""
    require_facilitator(principal)
    a = get_assessment(session, principal, assessment_id)
    rater = find_rater(session, a.id, check_code(code))
    if rater is None:
        raise NotFound(f"assessment {assessment_id} has no rater {code.upper()}")
    return rater_read(rater)


def _rounded(value: float | None) -> float | None:
    return None if value is None else half_even(value)


def _withheld_reason(rated: int) -> tuple[str, str]:
    return (
        f"{rated} rater(s) rated this item; its distribution is shown from {MIN_RATERS} on, so "
        "that no one's rating can be told",
        f"{rated} participante(s) calificaron este ítem; su distribución se muestra a partir de "
        f"{MIN_RATERS}, para que no se pueda saber la calificación de nadie",
    )


def _distributions(
    instrument: Instrument, raters: list[Rater]
) -> list[tuple[str, str, str, Distribution]]:
    values = [rater_values(r) for r in raters]
    out = []
    for d in instrument.dimensions:
        for area in d.areas:
            for item in area.items:
                given = [v[item.key] for v in values if item.key in v]
                scale = instrument.scales[item.scale]
                out.append((item.key, d.key, area.key, distribution(scale, given)))
    return out


def summary(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID
) -> RatingsSummary:
    """Per item: the distribution of the ratings and whether the group disagrees."""
    require_facilitator(principal)
    a = get_assessment(session, principal, assessment_id)
    instrument = _file(catalog, a).instrument
    raters = raters_of(session, a.id)
    current = answers_of(a)
    items: list[ItemDistribution] = []
    for key, dimension, area, dist in _distributions(instrument, raters):
        reason = _withheld_reason(dist.rated) if dist.withheld else (None, None)
        items.append(
            ItemDistribution(
                item=key,
                dimension=dimension,
                area=area,
                rated=dist.rated,
                withheld=dist.withheld,
                reason=reason[0],
                reason_es=reason[1],
                n=dist.n,
                n_na=dist.n_na,
                min=dist.minimum,
                max=dist.maximum,
                median=_rounded(dist.median),
                mean=_rounded(dist.mean),
                spread=_rounded(dist.spread),
                spread_steps=dist.spread_steps,
                disagreement=dist.disagreement,
                na_split=dist.na_split,
                consensus=_shown(current.get(key)),
            )
        )
    return RatingsSummary(
        assessment_id=a.id,
        status=a.status,
        raters=[summary_of(r) for r in raters],
        rule=RULE,
        disagreements=sum(1 for x in items if x.disagreement),
        withheld=sum(1 for x in items if x.withheld),
        items=items,
    )


# --- writing -------------------------------------------------------------------------------------


def _rating_rows(instrument: Instrument, parsed: ParsedAnswers) -> list[Rating]:
    return [Rating(**vars(x)) for x in stored_answers(_item_order(instrument), parsed)]


def store_rater(
    session: Session,
    principal: Principal,
    a: Assessment,
    instrument: Instrument,
    given: RaterInput,
    parsed: ParsedAnswers,
    source: str,
) -> Rater:
    """Inside a write transaction: create or replace one rater's ratings, with an audit entry
    (the rater's code and counts; never the name)."""
    code = check_code(given.code)
    rater = find_rater(session, a.id, code)
    ts = now()
    created = rater is None
    if rater is None:
        rater = Rater(assessment_id=a.id, code=code, created_at=ts)
        session.add(rater)
    name_changed = not created and not given.keep_name and rater.name != given.name
    if not given.keep_name:
        rater.name = given.name
    rater.updated_at = ts
    rater.ratings = _rating_rows(instrument, parsed)
    session.flush()
    audit(
        session,
        principal,
        "rating.put",
        "assessment",
        a.id,
        {
            "rater": code,
            "created": created,
            "name_changed": name_changed,
            "ratings": len(parsed.values),
            "na": sum(1 for v in parsed.values.values() if v is NA),
            "source": source,
        },
    )
    return rater


def put_rater(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    given: RaterInput,
) -> RaterRead:
    """Create or replace one rater's ratings (only on a draft); every invalid rating is listed
    at once and nothing is written."""
    code = check_code(given.code)
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_draft(a)
        instrument = _file(catalog, a).instrument
        parsed = parse_answers(instrument, given.answers)  # raises AnswersInvalid (422)
        rater = store_rater(
            session, principal, a, instrument, RaterInput(code, given.name, ()), parsed, "api"
        )
        return rater_read(rater)


def delete_rater(
    session: Session, principal: Principal, assessment_id: uuid.UUID, code: str
) -> None:
    """Remove one rater and their ratings (only on a draft)."""
    normalized = check_code(code)
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        rater = find_rater(session, a.id, normalized)
        if rater is None:
            raise NotFound(f"assessment {assessment_id} has no rater {normalized}")
        check_draft(a)
        session.delete(rater)
        audit(session, principal, "rating.delete", "assessment", a.id, {"rater": normalized})


# --- consensus -----------------------------------------------------------------------------------


def _proposals(
    instrument: Instrument, a: Assessment, raters: list[Rater], only: set[str] | None
) -> list[ConsensusItem]:
    current = answers_of(a)
    out: list[ConsensusItem] = []
    for key, _, _, dist in _distributions(instrument, raters):
        if only is not None and key not in only:
            continue
        scale = instrument.scales[instrument.items[key].scale]
        proposed = propose(scale, dist)
        reason = None
        if dist.withheld:
            reason = _withheld_reason(dist.rated)[0]
        elif proposed is None:
            reason = "no rater gave this item a value"
        now_value = current.get(key)
        out.append(
            ConsensusItem(
                item=key,
                proposed=_shown(proposed),
                current=_shown(now_value),
                changes=proposed is not None and proposed != now_value,
                reason=reason,
            )
        )
    return out


def consensus(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    *,
    apply: bool,
    items: Sequence[str] | None,
    if_match: str | None,
) -> ConsensusRead:
    """Propose a consensus from the ratings (the median rounded to a scale value, N/A when most
    raters said N/A); with ``apply``, write the proposals that change an answer into the draft's
    answers (keeping their notes) through the assessment's own update, under its ETag."""
    require_facilitator(principal)
    a = get_assessment(session, principal, assessment_id)
    instrument = _file(catalog, a).instrument
    only = set(items) if items is not None else None
    unknown = sorted((only or set()) - set(instrument.items))
    if unknown:
        raise Invalid(
            f"not items of {instrument.id} {instrument.version}: {', '.join(unknown)}",
            errors=[
                {"pointer": "/items", "code": "unknown_item", "item": k, "detail": "not an item"}
                for k in unknown
            ],
        )
    proposals = _proposals(instrument, a, raters_of(session, a.id), only)
    if not apply:
        return ConsensusRead(
            applied=False, applied_items=[], etag=assessment_etag(a), items=proposals
        )
    check_draft(a)
    notes = {x.item_key: x.note for x in a.answers}
    changes = [RawAnswer(p.item, p.proposed, notes.get(p.item)) for p in proposals if p.changes]
    # the assessment's own update checks the ETag and the status again, in its transaction
    updated = update_assessment(session, principal, catalog, a.id, {}, changes or None, if_match)
    if changes:
        with write_transaction(session):
            audit(
                session,
                principal,
                "rating.consensus",
                "assessment",
                a.id,
                {"items": [c.item for c in changes]},
            )
    return ConsensusRead(
        applied=True,
        applied_items=[c.item for c in changes],
        etag=updated.etag,
        items=proposals,
    )
