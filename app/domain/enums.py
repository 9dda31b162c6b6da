"""The closed sets of values that rows, use cases and pages share: who a person is in a
workspace, where an assessment stands, how far evidence has been checked."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    editor = "editor"
    viewer = "viewer"


class Status(StrEnum):
    draft = "draft"
    submitted = "submitted"
    final = "final"


# the statuses of an assessment that has a stored score: what reads, comparisons and reports use
SCORED = (Status.submitted.value, Status.final.value)


class EvidenceStatus(StrEnum):
    self_reported = "self_reported"
    reviewed = "reviewed"
    verified = "verified"
