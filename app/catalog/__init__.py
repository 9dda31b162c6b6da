"""The instrument catalog: the only code that knows the layout of ``instruments/``."""

from app.catalog.loader import (
    Catalog,
    CatalogError,
    InstrumentFile,
    content_hash,
    is_local_version,
    load_catalog,
    load_file,
    parse_instrument,
    recorded_hash,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "InstrumentFile",
    "content_hash",
    "is_local_version",
    "load_catalog",
    "load_file",
    "parse_instrument",
    "recorded_hash",
]
