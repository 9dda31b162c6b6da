"""Exports: an assessment, an organization's series, a cohort comparison, and raw data.

One module a workbook: ``assessment`` with its ``scores``, ``risk`` and ``score_reading`` sheets,
``series``, ``cohort`` with its ``cohort_summary`` sheet, and ``raw``; the words of them all in
``words``, and the small readings they share in ``common``. What each sheet means lives in its
module: the column specs (``StrEnum``) with their English and Spanish headers, and what goes in
each cell. How cells, tables, charts and CSV fields are written safely is in
``app.excel._export_write``, how they look in ``app.excel.styles``. Every function is pure (bytes
or text out) and takes already-loaded values: the instrument version, and the JSON that
``services.scores`` and ``services.analysis`` produce. Numbers are rounded half-even to two places
here, at the edge (DESIGN §5).
"""

from app.excel.exports.assessment import export_assessment
from app.excel.exports.cohort import export_cohort
from app.excel.exports.inputs import AssessmentInfo, CohortInfo, CohortRow, RawRow
from app.excel.exports.raw import RAW_NA, RawColumn, export_raw, export_raw_csv
from app.excel.exports.series import export_series

__all__ = [
    "RAW_NA",
    "AssessmentInfo",
    "CohortInfo",
    "CohortRow",
    "RawColumn",
    "RawRow",
    "export_assessment",
    "export_cohort",
    "export_raw",
    "export_raw_csv",
    "export_series",
]
