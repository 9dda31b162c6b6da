"""XLSForm downloads of instrument versions, for field collection in KoboToolbox or ODK Central.

One entry point for the API, the instrument page and the CLI, so all three hand out the same form.
"""

from __future__ import annotations

from app.catalog import Catalog
from app.excel.xlsform import build_xlsform
from app.services.instruments import get_file


def xlsform_workbook(catalog: Catalog, instrument_id: str, version: str) -> tuple[str, bytes]:
    """The XLSForm of one version (both languages in one form) and its file name."""
    f = get_file(catalog, instrument_id, version)
    return f"{instrument_id}-{version}-xlsform.xlsx", build_xlsform(f.instrument, f.content_hash)
