"""Errors of the infrastructure under the use cases (not of the domain)."""

from __future__ import annotations


class Busy(Exception):
    """The database or the workbook parsers are saturated; nothing was done; retry shortly."""

    code, title = "busy", "Service busy"
    retry_after_seconds = 5

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
