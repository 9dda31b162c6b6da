from __future__ import annotations

from pydantic import BaseModel

from app.domain.instrument import Instrument, Method, Text


class VersionSummary(BaseModel):
    version: str
    content_hash: str
    title: Text
    method: Method
    items: int


class InstrumentSummary(BaseModel):
    id: str
    title: Text
    latest_version: str
    versions: list[VersionSummary]


class InstrumentVersionRead(BaseModel):
    """The instrument file's content as validated (the contract of DESIGN §4) and its hash."""

    content_hash: str
    definition: Instrument


class AuthoringCheckRead(BaseModel):
    """An authoring workbook that reads into a valid instrument version (nothing was stored)."""

    id: str
    version: str
    title: Text
    method: Method
    dimensions: int
    areas: int
    items: int
    scales: int
    known_version: bool  # the catalog already publishes this id and version
