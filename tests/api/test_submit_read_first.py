"""A submit reads and scores its draft before the write transaction (SQLite's one writer waits for
none of that), then writes only if the draft has not moved since. Here another request changes
the draft in that gap, through the real app: the submit must store what the draft now holds,
or refuse as it would have refused had the change come first — never the score of answers it no
longer has, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.services import assessments
from tests.api.factories import (
    answers_for,
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_org,
    get,
    ok,
)


@pytest.fixture()
def in_the_gap(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], Any]], None]:
    """``in_the_gap(change)``: the next submit runs ``change`` (a real request) after reading its
    draft and before its write transaction begins."""

    def arm(change: Callable[[], Any]) -> None:
        real = assessments.write_transaction
        pending = [change]

        @contextmanager
        def gap_first(session: Session) -> Iterator[Session]:
            while pending:
                pending.pop()()
            with real(session) as s:
                yield s

        monkeypatch.setattr(assessments, "write_transaction", gap_first)

    return arm


def _patch(tenant: Any, a: dict[str, Any], **changes: Any) -> Callable[[], Any]:
    """A change of the draft ``a`` as a real PATCH, to run in the gap."""
    return lambda: ok(
        call(
            tenant,
            "PATCH",
            f"/v1/assessments/{a['id']}",
            json=changes,
            headers={"If-Match": a["etag"]},
        )
    )


def test_answers_changed_in_the_gap_are_the_ones_scored(
    tenant: Any, in_the_gap: Callable[[Callable[[], Any]], None]
) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "oca", "baseline", 1)
    in_the_gap(_patch(tenant, a, answers=answers_for("oca", 4)))
    submitted = ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/submit"))
    assert submitted["status"] == "submitted"
    assert {x["value"] for x in submitted["answers"]} == {4}
    scores = get(tenant, f"/v1/assessments/{a['id']}/scores")
    assert scores["overall"]["score"] == 4.0  # the answers now held, not the 1s read first
    assert [e["action"] for e in audit_events(tenant, object_id=a["id"])].count(
        "assessment.submit"
    ) == 1


def test_submitted_in_the_gap_is_a_conflict(
    tenant: Any, in_the_gap: Callable[[Callable[[], Any]], None]
) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "oca", "baseline", 2)
    url = f"/v1/assessments/{a['id']}/submit"
    in_the_gap(lambda: ok(call(tenant, "POST", url)))
    body = assert_problem(call(tenant, "POST", url), 409)
    assert body["status_now"] == "submitted"
    events = [e["action"] for e in audit_events(tenant, object_id=a["id"])]
    assert events.count("assessment.submit") == 1


def test_if_match_checked_against_the_draft_as_it_now_is(
    tenant: Any, in_the_gap: Callable[[Callable[[], Any]], None]
) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "oca", "baseline", 2)
    in_the_gap(_patch(tenant, a, assessor="someone else"))
    r = call(tenant, "POST", f"/v1/assessments/{a['id']}/submit", headers={"If-Match": a["etag"]})
    assert_problem(r, 412)
    assert get(tenant, f"/v1/assessments/{a['id']}")["status"] == "draft"
