"""Authoring workbooks: an instrument version as an editable XLSForm-style workbook, and the
check of an edited one (a dry run: publishing it as a draft needs workspace-owned instruments).

One entry point for the API, the instrument page and the CLI, so all three hand out the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.catalog import Catalog
from app.domain.instrument import Instrument
from app.excel.authoring import build_authoring
from app.excel.authoring_reader import AUTHORING_LIMITS, read_authoring
from app.excel.safety import Limits
from app.services.instruments import get_file


@dataclass(frozen=True)
class AuthoringSummary:
    """What an authoring workbook holds, once read and validated."""

    id: str
    version: str
    title_en: str
    title_es: str
    method: str
    dimensions: int
    areas: int
    items: int
    scales: int
    instrument: Instrument


def authoring_workbook(catalog: Catalog, instrument_id: str, version: str) -> tuple[str, bytes]:
    """The authoring workbook of one version and its file name."""
    f = get_file(catalog, instrument_id, version)
    return f"{instrument_id}-{version}-authoring.xlsx", build_authoring(f.instrument)


def authoring_limits(max_bytes: int | None = None) -> Limits:
    return AUTHORING_LIMITS if max_bytes is None else replace(AUTHORING_LIMITS, max_bytes=max_bytes)


def check_authoring(data: bytes, limits: Limits = AUTHORING_LIMITS) -> AuthoringSummary:
    """Read an uploaded authoring workbook; raise WorkbookRejected listing every problem."""
    instrument = read_authoring(data, limits)
    return AuthoringSummary(
        id=instrument.id,
        version=instrument.version,
        title_en=instrument.title.en,
        title_es=instrument.title.es,
        method=instrument.scoring.method.value,
        dimensions=len(instrument.dimensions),
        areas=sum(len(d.areas) for d in instrument.dimensions),
        items=len(instrument.items),
        scales=len(instrument.scales),
        instrument=instrument,
    )
