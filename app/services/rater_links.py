"""A rater's own link (issue 12): the facilitator hands each rater a personal link; through it,
with no account, the rater reads the instrument's items and their own ratings, and saves them.

The link is a random secret shown once; only its SHA-256 is kept on the rater's row, like the
people's invitation links (``people.digest``). Unlike those it is used many times: it holds until
it expires, the facilitator revokes it (or issues a new one), or the assessment stops being a
draft. Whoever holds it reaches one rater of one assessment and nothing else: never the other
raters' ratings, the distribution, the consensus or the scores. docs/raters.md.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, Organization, Rater, Role, Status
from app.db.session import write_transaction
from app.domain.answers import RawAnswer, parse_answers
from app.domain.errors import Forbidden, Invalid, NotFound
from app.services.assessment_reads import get_assessment
from app.services.common import audit, aware, now
from app.services.instruments import resolve_instrument
from app.services.keys import Principal
from app.services.owned_instruments import workspace_catalog
from app.services.people import digest
from app.services.rating_models import OwnRatingsRead, RaterLinkIssued
from app.services.ratings import (
    RaterInput,
    check_code,
    check_draft,
    find_rater,
    rater_read,
    require_facilitator,
    store_rater,
)

TOKEN_PREFIX: Final = "ocr_"  # noqa: S105 (a prefix, not a secret) tells a rater's link from an API key (oca_) at a glance
DEFAULT_DAYS: Final = 14
MAX_DAYS: Final = 90

REFUSED_EN: Final = (
    "this rating link does not work (any more): it was revoked or replaced, it expired, or the "
    "assessment is no longer open for ratings; ask your facilitator for a new one"
)
REFUSED_ES: Final = (
    "Este enlace de calificación no funciona (ya): fue revocado o reemplazado, venció, o la "
    "evaluación ya no está abierta a calificaciones; pida uno nuevo a quien facilita."
)


def _refused() -> Forbidden:
    return Forbidden(REFUSED_EN, detail_es=REFUSED_ES)


# --- the facilitator's side ----------------------------------------------------------------------


def issue_link(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    code: str,
    days: int = DEFAULT_DAYS,
) -> RaterLinkIssued:
    """A new link for the rater ``code`` of a draft (the rater is added when new); any earlier
    link of theirs stops working. The secret is returned once."""
    require_facilitator(principal)
    normalized = check_code(code)
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"a link lasts 1 to {MAX_DAYS} days", errors=[{"pointer": "/days"}])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_draft(a)
        moment = now()
        rater = find_rater(session, a.id, normalized)
        if rater is None:
            rater = Rater(assessment_id=a.id, code=normalized, created_at=moment, updated_at=moment)
            session.add(rater)
        rater.link_hash = digest(token)
        rater.link_expires_at = moment + timedelta(days=days)
        rater.link_revoked_at = None
        expires = rater.link_expires_at
        audit(
            session,
            principal,
            "rating.link",
            "assessment",
            a.id,
            {"rater": normalized, "expires_at": expires},
        )
    return RaterLinkIssued(code=normalized, token=token, path=f"/rate/{token}", expires_at=expires)


def revoke_link(
    session: Session, principal: Principal, assessment_id: uuid.UUID, code: str
) -> None:
    """The rater's link stops working at once (their ratings stay)."""
    require_facilitator(principal)
    normalized = check_code(code)
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        rater = find_rater(session, a.id, normalized)
        if rater is None:
            raise NotFound(f"assessment {assessment_id} has no rater {normalized}")
        if rater.link_hash is not None:
            rater.link_hash = None
            rater.link_revoked_at = now()
            audit(
                session, principal, "rating.link_revoke", "assessment", a.id, {"rater": normalized}
            )


# --- the rater's side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """The one rater a link opens, on its draft assessment."""

    rater: Rater
    assessment: Assessment
    file: InstrumentFile
    organization: str
    expires_at: datetime


def _held(session: Session, token: str, *, lock: bool = False) -> tuple[Rater, Assessment] | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    query = select(Rater).where(Rater.link_hash == digest(token))
    rater = session.scalar(query.with_for_update() if lock else query)
    if rater is None or rater.link_expires_at is None or rater.link_revoked_at is not None:
        return None
    a = session.get(Assessment, rater.assessment_id)
    if aware(rater.link_expires_at) <= now() or a is None or a.status != Status.draft:
        return None
    return rater, a


def link_holds(session: Session, token: str) -> bool:
    """Is this a rater's link that works now (known, not revoked or replaced, not expired, its
    assessment a draft)?"""
    return _held(session, token) is not None


def holder(session: Session, library: Catalog, token: str, *, lock: bool = False) -> Holder:
    """The rater a link opens; ``Forbidden`` when it is unknown, revoked, replaced, expired, or
    its assessment is no longer a draft (one refusal for all, so nothing is learnt from it).
    ``library`` is the shipped catalog: the assessment's workspace's own versions are added
    here, since a rater has no key to say which workspace they belong to."""
    found = _held(session, token, lock=lock)
    if found is None:
        raise _refused()
    rater, a = found
    org = session.get(Organization, a.organization_id)
    catalog = workspace_catalog(session, library, a.workspace_id)
    return Holder(
        rater,
        a,
        resolve_instrument(catalog, a.instrument_id, a.instrument_version),
        org.name if org is not None else "",
        aware(rater.link_expires_at or now()),
    )


def own_read(h: Holder) -> OwnRatingsRead:
    """What the rater sees: their code, the assessment's organization and instrument, their
    ratings."""
    own = rater_read(h.rater)
    return OwnRatingsRead(
        code=own.code,
        organization=h.organization,
        instrument_id=h.assessment.instrument_id,
        instrument_version=h.assessment.instrument_version,
        answered=own.answered,
        na=own.na,
        finished=h.rater.finished_at is not None,
        expires_at=h.expires_at,
        ratings=own.ratings,
    )


def own_ratings(session: Session, catalog: Catalog, token: str) -> OwnRatingsRead:
    """The link holder's own ratings."""
    return own_read(holder(session, catalog, token))


def save_own(
    session: Session,
    catalog: Catalog,
    token: str,
    answers: Sequence[RawAnswer],
    *,
    finished: bool,
) -> OwnRatingsRead:
    """Replace the link holder's ratings, checked by the assessment's answer rule (every invalid
    rating listed at once, nothing written); ``finished`` says they are done (a later save
    without it says they are not)."""
    with write_transaction(session):
        h = holder(session, catalog, token, lock=True)
        instrument = h.file.instrument
        parsed = parse_answers(instrument, answers)  # raises AnswersInvalid (422)
        # the audit log names the rater by code, in the assessment's workspace; this principal
        # reaches nothing else (it is never handed to another service)
        code = h.rater.code
        actor = Principal(h.assessment.workspace_id, None, code, Role.viewer, rater=code)
        given = RaterInput(h.rater.code, None, (), keep_name=True)
        store_rater(session, actor, h.assessment, instrument, given, parsed, "link")
        h.rater.finished_at = now() if finished else None
        return own_read(h)
