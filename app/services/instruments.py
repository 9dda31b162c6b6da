"""Instrument versions in the database: record each version's hash once, refuse later changes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import InstrumentVersion
from app.db.session import write_transaction
from app.domain.errors import Invalid, NotFound


class InstrumentChanged(Exception):
    """A published instrument file changed under the same version (refused at start)."""

    def __init__(self, detail: str, files: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.files = files


def sync_catalog(session: Session, catalog: Catalog) -> list[str]:
    """Record unseen versions; raise InstrumentChanged naming every file whose content changed.

    Returns the 'id version' labels of newly recorded versions. Nothing is written on refusal.
    """
    with write_transaction(session):
        known = {
            (row.instrument_id, row.version): row
            for row in session.scalars(
                select(InstrumentVersion).where(InstrumentVersion.workspace_id.is_(None))
            )
        }
        changed: list[str] = []
        added: list[str] = []
        for f in catalog:
            ins = f.instrument
            row = known.get((ins.id, ins.version))
            if row is None:
                session.add(
                    InstrumentVersion(
                        instrument_id=ins.id,
                        version=ins.version,
                        content_hash=f.content_hash,
                        title=ins.title.en,
                        loaded_at=datetime.now(UTC),
                    )
                )
                added.append(f"{ins.id} {ins.version}")
            elif row.content_hash != f.content_hash:
                changed.append(
                    f"{f.path} ({ins.id} {ins.version}): recorded hash {row.content_hash[:12]}…, "
                    f"file now {f.content_hash[:12]}…"
                )
        if changed:
            raise InstrumentChanged(
                "published instrument versions are immutable; these files changed since they were "
                "first loaded (publish the change as a new version file instead): "
                + "; ".join(changed),
                files=changed,
            )
    return added


def version_row(session: Session, instrument_id: str, version: str) -> InstrumentVersion:
    row = session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_id == instrument_id, InstrumentVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"instrument {instrument_id} version {version} is not loaded")
    return row


_VERSION_ID = select(InstrumentVersion.id).where(
    InstrumentVersion.instrument_id == bindparam("instrument_id"),
    InstrumentVersion.version == bindparam("version"),
)


def version_id(session: Session, instrument_id: str, version: str) -> int:
    """``version_row``'s id, in one Core query (every new assessment needs it)."""
    found = (
        session.connection()
        .execute(_VERSION_ID, {"instrument_id": instrument_id, "version": version})
        .scalar()
    )
    if found is None:
        raise NotFound(f"instrument {instrument_id} version {version} is not loaded")
    return int(found)


def resolve_instrument(catalog: Catalog, instrument_id: str, version: str | None) -> InstrumentFile:
    """The pinned version (or the latest); unknown ones are invalid input, not a missing URL."""
    f = catalog.latest(instrument_id) if version is None else catalog.get(instrument_id, version)
    if f is None:
        known = catalog.versions(instrument_id)
        if not known:
            raise Invalid(
                f"unknown instrument '{instrument_id}'",
                errors=[{"pointer": "/instrument_id", "detail": "unknown instrument"}],
            )
        raise Invalid(
            f"instrument '{instrument_id}' has no version '{version}'; known: "
            + ", ".join(v.instrument.version for v in known),
            errors=[{"pointer": "/instrument_version", "detail": "unknown version"}],
        )
    return f


def get_file(catalog: Catalog, instrument_id: str, version: str) -> InstrumentFile:
    f = catalog.get(instrument_id, version)
    if f is None:
        if not catalog.versions(instrument_id):
            raise NotFound(f"unknown instrument '{instrument_id}'")
        raise NotFound(f"instrument '{instrument_id}' has no version '{version}'")
    return f


def template_workbook(
    catalog: Catalog, instrument_id: str, version: str, lang: str
) -> tuple[str, bytes]:
    """The locked Excel template of one version in ``lang``, and its file name (the API and the
    instrument page both download it through here)."""
    from app.excel import build_template

    f = get_file(catalog, instrument_id, version)
    data = build_template(f.instrument, f.content_hash, lang)
    return f"{instrument_id}-{version}-{lang}.xlsx", data
