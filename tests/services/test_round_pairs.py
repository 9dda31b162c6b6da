"""Two rounds' numbers on their common items are made when a round is scored and stored
(``round_pairs``); the cohort comparison reads them while they are up to date and compares the
rounds itself otherwise, so the answer is the same with the stored pairs, without them, and
after any change to either round."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import AssessmentScore, RoundPair
from app.excel import Prefill, build_template
from app.services.owned_instruments import every_published_catalog
from app.services.round_pairs import refresh_pairs, refresh_pairs_in_processes
from app.services.scores import ENGINE_VERSION
from app.services.stale_scores import (
    _recomputed,
    _write,
    refresh_in_processes,
    refresh_stale_scores,
)
from tests.api.factories import (
    add_member,
    answers_for,
    call,
    create_cohort,
    create_org,
    get,
    item_keys,
    ok,
    scored,
)
from tests.conftest import INSTRUMENTS, statements_sent


def _cohort(tenant: Any) -> tuple[str, dict[str, str], dict[str, tuple[str, str]]]:
    """Three organizations: the same items in both rounds; items swapped (A empty at baseline,
    B at endline); an item N/A at endline only. Returns the cohort, the organizations and each
    one's (baseline, endline) assessment ids."""
    keys = item_keys("oca")
    a, b, c = keys[0], keys[1], keys[2]
    cohort = create_cohort(tenant, name=f"Pairs {uuid.uuid4().hex[:6]}")
    orgs = {n: create_org(tenant, name=n)["id"] for n in ("Same", "Swapped", "Dropped")}
    for oid in orgs.values():
        add_member(tenant, cohort["id"], oid)
    base = answers_for("oca", lambda k, _: 4 if k == b else 1, only=[k for k in keys if k != a])
    end = answers_for("oca", lambda k, _: 4 if k == a else 1, only=[k for k in keys if k != b])
    rounds = {
        "Same": (
            scored(tenant, orgs["Same"], "oca", "baseline", 2)["id"],
            scored(tenant, orgs["Same"], "oca", "endline", 3)["id"],
        ),
        "Swapped": (
            scored(tenant, orgs["Swapped"], "oca", "baseline", answers=base)["id"],
            scored(tenant, orgs["Swapped"], "oca", "endline", answers=end)["id"],
        ),
        "Dropped": (
            scored(tenant, orgs["Dropped"], "oca", "baseline", lambda k, _: 4 if k == c else 2)[
                "id"
            ],
            scored(tenant, orgs["Dropped"], "oca", "endline", lambda k, _: "na" if k == c else 2)[
                "id"
            ],
        ),
    }
    return cohort["id"], orgs, rounds


def _comparison(tenant: Any, cohort_id: str) -> dict[str, Any]:
    return get(tenant, f"/v1/cohorts/{cohort_id}/comparison", params={"instrument_id": "oca"})


def _pair(session: Session, x: str, y: str) -> Any:
    """The stored pair of two assessments, as it is now (a row, not an ORM object)."""
    first, second = sorted((uuid.UUID(x), uuid.UUID(y)), key=lambda u: u.int)
    found = session.execute(
        select(
            RoundPair.numbers,
            RoundPair.compared_on,
            RoundPair.first_scored_at,
            RoundPair.second_scored_at,
        ).where(RoundPair.first_id == first, RoundPair.second_id == second)
    ).one_or_none()
    session.rollback()
    return found


def _pairs_of(session: Session, ids: list[str]) -> dict[tuple[uuid.UUID, uuid.UUID], Any]:
    wanted = [uuid.UUID(i) for i in ids]
    rows = session.execute(
        select(RoundPair.first_id, RoundPair.second_id, RoundPair.numbers).where(
            RoundPair.first_id.in_(wanted)
        )
    ).all()
    session.rollback()
    return {(f, s): n for f, s, n in rows}


def _forget(engine: Engine, ids: list[str]) -> None:
    with Session(engine) as s, s.begin():
        s.execute(delete(RoundPair).where(RoundPair.first_id.in_([uuid.UUID(i) for i in ids])))


def test_submit_stores_the_pairs_of_rounds_that_answered_different_items(
    tenant: Any, session: Session
) -> None:
    _, _, rounds = _cohort(tenant)
    assert _pair(session, *rounds["Same"]) is None  # compared on their stored scores
    swapped = _pair(session, *rounds["Swapped"])
    dropped = _pair(session, *rounds["Dropped"])
    assert swapped is not None and dropped is not None
    keys = item_keys("oca")
    # on the items answered in both every answer is 1 in both rounds
    assert swapped.numbers["first"]["overall"] == swapped.numbers["second"]["overall"] == 1.0
    codes = {k: c for k, c in swapped.numbers["left_out"]}
    baseline_first = uuid.UUID(rounds["Swapped"][0]).int < uuid.UUID(rounds["Swapped"][1]).int
    assert codes == (
        {keys[0]: "missing_at_baseline", keys[1]: "missing_at_endline"}
        if baseline_first
        else {keys[0]: "missing_at_endline", keys[1]: "missing_at_baseline"}
    )
    assert dropped.compared_on == "2015.2"


def test_the_comparison_is_the_same_with_stored_pairs_and_without(
    tenant: Any, engine: Engine, session: Session
) -> None:
    cohort_id, _, rounds = _cohort(tenant)
    ids = [i for pair in rounds.values() for i in pair]
    with_pairs = _comparison(tenant, cohort_id)
    stored = _pairs_of(session, ids)
    assert len(stored) == 2
    _forget(engine, ids)
    assert _pairs_of(session, ids) == {}
    assert _comparison(tenant, cohort_id) == with_pairs  # compared from the answers
    with Session(engine) as s:
        made = refresh_pairs(s, tenant.client.app.state.catalog, tenant.principal.workspace_id)
    assert made >= 2
    assert _pairs_of(session, ids) == stored  # the same numbers submitting stored
    assert _comparison(tenant, cohort_id) == with_pairs
    with Session(engine) as s:
        assert refresh_pairs(s, tenant.client.app.state.catalog, tenant.principal.workspace_id) == 0


def test_the_comparison_reads_a_stored_pair_only_while_it_is_up_to_date(
    tenant: Any, engine: Engine
) -> None:
    cohort_id, _, rounds = _cohort(tenant)
    true = _comparison(tenant, cohort_id)
    first, second = sorted((uuid.UUID(i) for i in rounds["Swapped"]), key=lambda u: u.int)
    planted = {
        "first": {"overall": 3.25, **{k: 3.25 for k in _dimensions(true)}},
        "second": {"overall": 3.5, **{k: 3.5 for k in _dimensions(true)}},
        "left_out": [],
    }
    key = (RoundPair.first_id == first) & (RoundPair.second_id == second)
    with Session(engine) as s, s.begin():
        s.execute(update(RoundPair).where(key).values(numbers=planted))
    org = _org(_comparison(tenant, cohort_id), "Swapped")
    shown = sorted([org["baseline"]["scores"]["overall"], org["endline"]["scores"]["overall"]])
    assert shown == [3.25, 3.5]  # the read used the stored numbers
    assert org["left_out"] == []
    # one side's score is no longer the one the pair was made from: compared again, exactly
    with Session(engine) as s, s.begin():
        at = s.scalar(select(RoundPair.first_scored_at).where(key))
        assert at is not None
        s.execute(update(RoundPair).where(key).values(first_scored_at=at - timedelta(seconds=1)))
    assert _comparison(tenant, cohort_id) == true
    # made on another version than the one compared on: not used either
    with Session(engine) as s, s.begin():
        s.execute(update(RoundPair).where(key).values(compared_on="2015.1"))
    assert _comparison(tenant, cohort_id) == true


def test_a_round_scored_again_replaces_its_pairs(tenant: Any, session: Session) -> None:
    cohort_id, _, rounds = _cohort(tenant)
    base_id, end_id = rounds["Swapped"]
    before = _pair(session, base_id, end_id)
    assert before is not None
    ok(call(tenant, "POST", f"/v1/assessments/{end_id}/reopen"))
    keys = item_keys("oca")
    changes = [{"item": k, "value": 2} for k in keys[2:]]
    url = f"/v1/assessments/{end_id}"
    etag = call(tenant, "GET", url).headers["ETag"]
    ok(call(tenant, "PATCH", url, json={"answers": changes}, headers={"If-Match": etag}))
    ok(call(tenant, "POST", f"/v1/assessments/{end_id}/submit"))
    after = _pair(session, base_id, end_id)
    assert after is not None
    assert after.numbers != before.numbers
    # made from the endline's new score; the baseline's is the one it was made from before
    scored_at = {after.first_scored_at, after.second_scored_at}
    assert len(scored_at & {before.first_scored_at, before.second_scored_at}) == 1
    org = _org(_comparison(tenant, cohort_id), "Swapped")
    assert org["endline"]["scores"]["overall"] == 2.0  # the new answers, on common items
    assert org["baseline"]["scores"]["overall"] == 1.0


def test_refresh_drops_the_pairs_of_rounds_no_longer_scored(
    tenant: Any, engine: Engine, session: Session
) -> None:
    _, _, rounds = _cohort(tenant)
    base_id, end_id = rounds["Dropped"]
    ok(call(tenant, "POST", f"/v1/assessments/{end_id}/reopen"))
    assert _pair(session, base_id, end_id) is not None  # left until the next refresh
    with Session(engine) as s:
        refresh_pairs(s, tenant.client.app.state.catalog, tenant.principal.workspace_id)
    assert _pair(session, base_id, end_id) is None
    assert _pair(session, *rounds["Swapped"]) is not None


def test_an_imported_endline_stores_its_pair_with_the_baseline(
    tenant: Any, catalog: Catalog, session: Session
) -> None:
    org = create_org(tenant, name=f"Imported {uuid.uuid4().hex[:6]}")
    keys = item_keys("oca")
    base = scored(
        tenant, org["id"], "oca", "baseline", answers=answers_for("oca", 2, only=keys[1:])
    )
    f = catalog.latest("oca")
    assert f is not None
    answers = {k: 3 for k in f.instrument.item_keys}
    pre = Prefill(org["name"], None, "endline", date(2025, 2, 2), None, answers, {})  # type: ignore[arg-type]
    data = build_template(f.instrument, f.content_hash, "en", pre)
    r = tenant.client.post(
        "/v1/imports",
        files=[("files", ("endline.xlsx", data, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    assert r.status_code in (200, 201), r.text
    [result] = r.json()["results"]
    assert result["status"] == "created", result
    pair = _pair(session, base["id"], result["assessment_id"])
    assert pair is not None
    assert [k for k, _ in pair.numbers["left_out"]] == [keys[0]]


def _dimensions(comparison: dict[str, Any]) -> list[str]:
    return [k["key"] for k in comparison["keys"] if k["key"] != "overall"]


def _org(comparison: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in comparison["organizations"] if o["name"] == name)


def test_pairs_are_made_again_on_every_core_as_oca_serve_does(
    tenant: Any, engine: Engine, session: Session, database_url: str
) -> None:
    """``refresh_pairs_in_processes`` (what ``oca serve`` runs at start) shares the pairs among
    spawned processes: they, not this process, write them, and write what submitting wrote."""
    _, _, rounds = _cohort(tenant)
    ids = [i for pair in rounds.values() for i in pair]
    submitted = _pairs_of(session, ids)
    _forget(engine, ids)
    with statements_sent() as here:
        made = refresh_pairs_in_processes(database_url, INSTRUMENTS, 2, min_share=1)
    assert made >= 2
    assert not [s for s in here if "INSERT INTO round_pair" in s], here
    assert _pairs_of(session, ids) == submitted


def _made_stale(engine: Engine, ids: list[str]) -> None:
    """The assessments' stored scores marked as made by the previous engine."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(AssessmentScore)
            .where(AssessmentScore.assessment_id.in_([uuid.UUID(i) for i in ids]))
            .values(engine_version=ENGINE_VERSION - 1)
        )


@pytest.mark.parametrize("processes", [1, 2])
def test_a_rescoring_makes_the_pairs_of_the_rounds_it_scores_again(
    tenant: Any, engine: Engine, session: Session, database_url: str, processes: int
) -> None:
    """Scores of an older engine computed again (at ``oca serve``'s start, here or in spawned
    processes) come with their rounds' pairs, made from the same answers and scores: what
    submitting stored, and up to date, so the refresh after it finds nothing to make."""
    _, _, rounds = _cohort(tenant)
    ids = [i for pair in rounds.values() for i in pair]
    submitted = _pairs_of(session, ids)
    _forget(engine, ids)
    _made_stale(engine, ids)
    library = tenant.client.app.state.catalog
    if processes == 1:
        with Session(engine) as s:
            assert refresh_stale_scores(s, every_published_catalog(s, library), library=library)
    else:
        assert refresh_in_processes(database_url, INSTRUMENTS, 2, min_share=1)
    assert _pairs_of(session, ids) == submitted
    with Session(engine) as s:
        assert refresh_pairs(s, library, tenant.principal.workspace_id) == 0


def test_a_late_rescoring_batch_leaves_the_pairs_of_scores_it_did_not_write(
    tenant: Any, engine: Engine, session: Session
) -> None:
    """Two workers starting at once both rescore: the one whose batch finds its scores done
    meanwhile writes none of them, and none of its pairs either (they would name times the
    stored scores do not have, over the good pairs the other worker stored)."""
    _, _, rounds = _cohort(tenant)
    ids = [i for pair in rounds.values() for i in pair]
    submitted = _pairs_of(session, ids)
    _made_stale(engine, ids)
    library = tenant.client.app.state.catalog
    with Session(engine) as late:
        every = every_published_catalog(late, library)
        with late.begin():  # the late worker reads its batch ...
            params, pairs = _recomputed(late, every, [uuid.UUID(i) for i in ids], library, {})
    assert pairs
    with Session(engine) as first:  # ... the other one does it all ...
        assert refresh_stale_scores(first, every, library=library)
    _write(engine, params, pairs)  # ... and the late one writes its batch
    assert _pairs_of(session, ids) == submitted
    with Session(engine) as s:
        assert refresh_pairs(s, library, tenant.principal.workspace_id) == 0
