"""The instrument catalog: the only code that knows the layout of ``instruments/``."""

from app.catalog.loader import (
    Catalog,
    CatalogError,
    InstrumentFile,
    content_hash,
    load_catalog,
    load_file,
)

__all__ = ["Catalog", "CatalogError", "InstrumentFile", "content_hash", "load_catalog", "load_file"]
