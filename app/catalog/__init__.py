"""The instrument catalog: the only code that knows the layout of ``instruments/``."""

from app.catalog.loader import (
    Catalog,
    CatalogError,
    InstrumentFile,
    content_hash,
    load_catalog,
    load_file,
    recorded_hash,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "InstrumentFile",
    "content_hash",
    "load_catalog",
    "load_file",
    "recorded_hash",
]
