"""Failed authentication slows down: guessing API keys or passwords from one address, or a
password for one e-mail, is refused for a while after a few failures.

Failures are rows in the database (``sign_in_attempt``), so the count is shared by every worker
and every process on the same database. The happy path costs nothing: a request with a valid key
reads no count (a key's secret has 256 bits: a guess never succeeds, so a valid key is never
refused for its address's failures). A password is checked only when neither its account nor its
address is over the limit. A worker that has seen an address over the limit remembers it until
the block ends (``Blocklist``), so a flood of wrong keys is refused without a write each; another
worker that has not seen it yet records one failure more and refuses just the same.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import SignInAttempt
from app.db.session import write_transaction
from app.domain.errors import Throttled
from app.services.common import aware, now


@dataclass(frozen=True)
class Limits:
    window: timedelta = timedelta(minutes=15)
    per_email: int = 5  # passwords tried for one account
    per_address: int = 30  # keys or passwords tried from one address


def limits_of(settings: Settings) -> Limits:
    return Limits(
        window=timedelta(minutes=settings.auth_failure_window_minutes),
        per_email=settings.sign_in_failures_per_email,
        per_address=settings.auth_failures_per_address,
    )


API_KEY = ""  # the e-mail column of a failed API key: no account is named


def _refusal(oldest: datetime, limits: Limits) -> Throttled:
    wait = aware(oldest) + limits.window - now()
    seconds = max(1, int(wait.total_seconds()) + 1)
    return Throttled(
        f"too many failed attempts; try again in {(seconds + 59) // 60} minute(s)",
        retry_after=seconds,
    )


def check(session: Session, *, address: str, email: str | None, limits: Limits) -> None:
    """Raise ``Throttled`` when the address or the account has failed too often lately."""
    since = now() - limits.window
    failed = SignInAttempt.succeeded.is_(False)
    checks = [(SignInAttempt.address, address[:64], limits.per_address)]
    if email:
        checks.append((SignInAttempt.email, email, limits.per_email))
    for column, value, limit in checks:
        count, oldest = session.execute(
            select(func.count(), func.min(SignInAttempt.at)).where(
                column == value, failed, SignInAttempt.at > since
            )
        ).one()
        if count >= limit:
            raise _refusal(oldest, limits)


def record(session: Session, *, address: str, email: str, succeeded: bool) -> None:
    """Add one attempt inside the caller's write transaction."""
    session.add(SignInAttempt(email=email, address=address[:64], succeeded=succeeded, at=now()))


def failed_api_key(session: Session, address: str, limits: Limits) -> Throttled | None:
    """Record a wrong API key from ``address``; the refusal to give when it has now failed too
    often (None: answer 401 as usual)."""
    with write_transaction(session):
        record(session, address=address, email=API_KEY, succeeded=False)
    try:
        check(session, address=address, email=None, limits=limits)
    except Throttled as refused:
        return refused
    return None


class Blocklist:
    """Addresses this worker knows to be blocked, until when (a small, self-cleaning map)."""

    MAX = 10_000

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def block(self, address: str, refusal: Throttled) -> None:
        with self._lock:
            if len(self._until) >= self.MAX:
                moment = now()
                self._until = {a: t for a, t in self._until.items() if t > moment}
            self._until[address] = now() + timedelta(seconds=refusal.retry_after)

    def refusal(self, address: str) -> Throttled | None:
        """The refusal for a wrong key from a known-blocked address (None: go and count)."""
        until = self._until.get(address)
        if until is None:
            return None
        left = (until - now()).total_seconds()
        if left <= 0:
            with self._lock:
                self._until.pop(address, None)
            return None
        return Throttled(
            "too many failed attempts from this address; try again later",
            retry_after=int(left) + 1,
        )
