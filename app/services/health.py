"""Readiness: can this process serve requests right now? Each check is cheap and says why not."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select, text

from app.catalog import Catalog, recorded_hash
from app.db import migrate
from app.db.models import InstrumentVersion
from app.services.evidence_store import Probed

if TYPE_CHECKING:
    from app.services.jobs_runner import JobRunner


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # False: reported, but a failure leaves the worker in rotation


@lru_cache(maxsize=1)
def _head() -> str | None:
    return migrate.head_revision()


def readiness(
    engine: Engine,
    catalog: Catalog,
    runner: JobRunner | None = None,
    store: Probed | None = None,
) -> list[Check]:
    """The database answers, its schema is at this code's newest migration, every instrument
    file still has the bytes recorded for its version, this process's job runner (if it has
    one) is alive, and the evidence store (when given: an S3 bucket) answers (advisory)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            at = migrate.current_revision(conn)
            recorded = {
                (row.instrument_id, row.version): row.content_hash
                for row in conn.execute(
                    select(
                        InstrumentVersion.instrument_id,
                        InstrumentVersion.version,
                        InstrumentVersion.content_hash,
                    ).where(InstrumentVersion.workspace_id.is_(None))
                )
            }
    except Exception as exc:
        return [Check("database", False, f"cannot query the database: {type(exc).__name__}")]
    checks = [Check("database", True, "reachable")]
    head = _head()
    checks.append(
        Check("migrations", True, f"at {at}")
        if at == head
        else Check(
            "migrations", False, f"database at {at}, code expects {head}: run oca db upgrade"
        )
    )
    changed: list[str] = []
    for f in catalog:
        key = (f.instrument.id, f.instrument.version)
        try:
            on_disk = recorded_hash(f, f.path.read_bytes())
        except OSError:
            changed.append(f"{f.path.name} is unreadable")
            continue
        if recorded.get(key) not in (None, f.content_hash) or on_disk != f.content_hash:
            changed.append(f"{f.instrument.id} {f.instrument.version} ({f.path.name})")
    checks.append(
        Check(
            "instruments",
            not changed,
            "unchanged" if not changed else "changed: " + ", ".join(changed),
        )
    )
    if runner is None:
        checks.append(Check("jobs", True, "no runner in this process (OCA_JOBS_ENABLED=false)"))
    else:
        alive, detail = runner.alive()
        checks.append(Check("jobs", alive, detail))
    if store is not None:
        why = store.probe()
        # advisory: evidence requests answer 503 on their own while the store is down; taking
        # every worker out of rotation for it would stop scores, imports and pages as well
        checks.append(Check("evidence_store", why is None, why or "reachable", required=False))
    return checks
