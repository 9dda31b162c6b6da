"""openpyxl adapter: templates, checked reading of filled workbooks, annotated error workbooks."""

from app.excel.annotate import annotate
from app.excel.exports import (
    AssessmentInfo,
    CohortInfo,
    CohortRow,
    RawRow,
    export_assessment,
    export_cohort,
    export_raw,
    export_raw_csv,
    export_series,
)
from app.excel.layout import FORMAT_VERSION, CoverField, workbook_layout
from app.excel.problems import Problem, ProblemCode, WorkbookRejected
from app.excel.reader import (
    Cover,
    FilledItem,
    FilledWorkbook,
    Resolver,
    TemplateMeta,
    read_filled_workbook,
)
from app.excel.safety import DEFAULT_LIMITS, Limits, check_upload
from app.excel.template import Prefill, build_template

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "AssessmentInfo",
    "CohortInfo",
    "CohortRow",
    "Cover",
    "CoverField",
    "FilledItem",
    "FilledWorkbook",
    "Limits",
    "Prefill",
    "Problem",
    "ProblemCode",
    "RawRow",
    "Resolver",
    "TemplateMeta",
    "WorkbookRejected",
    "annotate",
    "build_template",
    "check_upload",
    "export_assessment",
    "export_cohort",
    "export_raw",
    "export_raw_csv",
    "export_series",
    "read_filled_workbook",
    "workbook_layout",
]
