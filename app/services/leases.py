"""Claiming rows of a work table for a while: the webhook outbox and the job queue share this.

A claim is a lease: a random token and a time until which the row is this runner's. A runner
that dies lets the lease lapse, and whoever looks next may take the row over. PostgreSQL picks
the candidates with ``SELECT … FOR UPDATE SKIP LOCKED``, so runners never wait for each other;
SQLite ignores FOR UPDATE, and its write transactions take turns, so the conditional UPDATE
(the row is still free) is the claim there; the token tells each runner which rows it won."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


def new_token() -> str:
    return secrets.token_hex(16)


def lapsed(claimed_until: InstrumentedAttribute[datetime | None], at: datetime) -> Any:
    """The row is held by nobody at ``at``: never claimed, or its lease has run out."""
    return or_(claimed_until.is_(None), claimed_until < at)


def take(
    session: Session,
    model: Any,
    candidates: Select[Any],
    still_free: Sequence[ColumnElement[bool]],
    values: Mapping[str, Any],
    token: str,
) -> list[uuid.UUID]:
    """Inside a write transaction: claim the rows ``candidates`` selects (ids, ordered, limited)
    that are ``still_free`` when updated, setting ``values`` (which must set ``claim`` to
    ``token``); returns the ids this runner won."""
    ids = session.scalars(candidates.with_for_update(skip_locked=True, of=model)).all()
    if not ids:
        return []
    session.execute(
        update(model)
        .where(model.id.in_(ids), *still_free)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(select(model.id).where(model.claim == token)).all())
