"""Rate limits per API key and per address, shared by every worker through the database.

Requests are counted per client ("key:<id>", "addr:<ip>") and per minute. A database write per
request would cost every request a round trip (and on SQLite, the write lock), so each worker
counts in memory and adds its count to the minute's row (one upsert) when it has gathered a
share of the limit or a second has passed; the row's sum is what every worker decides on. The
limit therefore holds across workers, up to what workers counted but have not yet added: at most
``workers × share`` requests, which the share keeps to a twentieth of the limit per worker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db.errors import Busy
from app.db.models import RateWindow
from app.db.session import write_transaction
from app.domain.errors import Throttled

WINDOW_SECONDS = 60
SYNC_SECONDS = 1.0
KEEP = timedelta(hours=1)  # older minutes are deleted now and then


@dataclass
class _Count:
    window: int  # minute number since the epoch
    shared: int = 0  # the sum over every worker when last added
    pending: int = 0  # counted here, not yet added
    synced_at: float = field(default_factory=time.monotonic)


class RateLimiter:
    """One per worker process; thread-safe. ``limit`` is requests per minute (0: no limit)."""

    def __init__(self, sessionmaker: object) -> None:
        self._sessionmaker = sessionmaker
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()
        self._last_cleanup = 0

    def hit(self, bucket: str, limit: int, *, add: bool = True) -> None:
        """Count one request of ``bucket``; ``Throttled`` when its minute is over the limit.

        Adding the count to the database takes a connection of its own: a caller that holds
        one passes ``add=False`` (the count stays here, and the limit is decided on it just the
        same) and calls ``add_due`` once it has given its connection back."""
        if limit <= 0:
            return
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            count = self._counts.get(bucket)
            if count is None or count.window != window:
                count = _Count(window)
                self._counts[bucket] = count
                if len(self._counts) > 50_000:
                    self._counts = {b: c for b, c in self._counts.items() if c.window == window}
            count.pending += 1
        if add:
            self.add_due(bucket, limit)
        if count.shared + count.pending > limit:
            retry = int((window + 1) * WINDOW_SECONDS - now) + 1
            raise Throttled(
                f"more than {limit} requests in a minute from this client; "
                f"retry after {retry} seconds",
                retry_after=retry,
            )

    def add_due(self, bucket: str, limit: int) -> None:
        """Add what this worker counted of ``bucket`` to the minute's row, when it has gathered a
        share of the limit or a second has passed since it last did (a connection of its own)."""
        if limit <= 0:
            return
        share = max(1, limit // 20)
        with self._lock:
            count = self._counts.get(bucket)
            if count is None or not (
                count.pending >= share or time.monotonic() - count.synced_at >= SYNC_SECONDS
            ):
                return
            window, delta, count.pending = count.window, count.pending, 0
            count.synced_at = time.monotonic()
        try:
            total = self._add(bucket, window, delta)
        except Busy:  # the database is busy: keep the count here and add it next time
            with self._lock:
                count.pending += delta
        else:
            with self._lock:
                if count.window == window:
                    count.shared = max(count.shared, total)

    def _add(self, bucket: str, window: int, delta: int) -> int:
        start = datetime.fromtimestamp(window * WINDOW_SECONDS, UTC)
        with self._sessionmaker() as session:  # type: ignore[operator]
            assert isinstance(session, Session)
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            statement = (
                insert(RateWindow)
                .values(bucket=bucket, window_start=start, count=delta)
                .on_conflict_do_update(
                    index_elements=[RateWindow.bucket, RateWindow.window_start],
                    set_={"count": RateWindow.count + delta},
                )
                .returning(RateWindow.count)
            )
            with write_transaction(session):
                total = int(session.execute(statement).scalar_one())
                if window - self._last_cleanup > 60:
                    self._last_cleanup = window
                    old = start - KEEP
                    session.execute(delete(RateWindow).where(RateWindow.window_start < old))
        return total
