"""Cached reads: answers kept while nothing changed, never stale after a change, never shared
across workspaces, revalidated by ETag, and the same whichever door answers them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session

from app.api import reads
from app.api.reads import ENTRY_OVERHEAD, ReadCache, make_entry
from app.config import Settings
from app.db.changes import NoClock, make_change_clock
from app.db.models import Organization
from app.db.session import make_engine
from app.main import create_app
from app.services import analysis
from tests.api.factories import (
    add_member,
    assert_problem,
    create_assessment,
    create_cohort,
    create_org,
    get,
    scored,
    submit,
)
from tests.conftest import Tenant


@pytest.fixture(scope="module")
def cached_client(settings: Settings) -> Iterator[TestClient]:
    """An app as deployed: keys trusted for a minute, so the middleware's door is open."""
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def t(session: Session, cached_client: TestClient) -> Tenant:
    return Tenant(session, cached_client)


def counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, spy)
    return calls


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """For PostgreSQL, where another process's change arrives as a notification."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the change never reached the cache"
        time.sleep(0.02)


def test_repeated_reads_are_computed_once(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    org = create_org(t)
    scored(t, org["id"], round="baseline", value=2)
    calls = counting(monkeypatch, analysis, "series")
    url = f"/v1/organizations/{org['id']}/series?instrument_id=oca"
    first = [get(t, url) for _ in range(5)]
    assert calls == [1]
    assert all(body == first[0] for body in first)
    assert len(first[0]["points"]) == 1


def test_a_change_through_the_api_shows_at_once(t: Tenant) -> None:
    org = create_org(t)
    scored(t, org["id"], round="baseline", value=2)
    url = f"/v1/organizations/{org['id']}/series?instrument_id=oca"
    assert len(get(t, url)["points"]) == 1
    assert len(get(t, url)["points"]) == 1  # now from the cache
    scored(t, org["id"], round="endline", value=4, assessed_on="2025-01-10")
    points = get(t, url)["points"]
    assert [p["round"] for p in points] == ["baseline", "endline"]


def test_a_change_by_another_process_shows(t: Tenant, engine: Engine) -> None:
    """A commit through another engine (as the CLI or another worker would make it)."""
    org = create_org(t, name="Before")
    cohort = create_cohort(t)
    add_member(t, cohort["id"], org["id"])
    scored(t, org["id"], round="baseline", value=2)
    scored(t, org["id"], round="endline", value=3, assessed_on="2025-01-10")
    url = f"/v1/cohorts/{cohort['id']}/comparison?instrument_id=oca"
    assert get(t, url)["organizations"][0]["name"] == "Before"
    assert get(t, url)["organizations"][0]["name"] == "Before"
    with Session(engine) as other, other.begin():
        other.execute(
            update(Organization).where(Organization.id == uuid.UUID(org["id"])).values(name="After")
        )

    def renamed() -> bool:
        return bool(get(t, url)["organizations"][0]["name"] == "After")

    if engine.dialect.name == "sqlite":
        assert renamed()  # PRAGMA data_version: the very next read
    else:
        eventually(renamed)


def test_etag_revalidation(t: Tenant) -> None:
    org = create_org(t)
    a = scored(t, org["id"], value=2)
    url = f"/v1/assessments/{a['id']}/scores"
    h = t.headers("viewer")
    r = t.client.get(url, headers=h)
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "private, no-cache"
    for _ in range(2):  # the router's door, then the middleware's
        again = t.client.get(url, headers={**h, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
    weak = t.client.get(url, headers={**h, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = t.client.get(url, headers={**h, "If-None-Match": '"not-it"'})
    assert stale.status_code == 200 and stale.json() == r.json()


def test_both_doors_answer_alike(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    org = create_org(t)
    cohort = create_cohort(t)
    add_member(t, cohort["id"], org["id"])
    scored(t, org["id"], round="baseline", value=2)
    scored(t, org["id"], round="endline", value=3, assessed_on="2025-01-10")
    from app.api.routes import cohorts

    routed = counting(monkeypatch, cohorts, "cached_json")
    url = f"/v1/cohorts/{cohort['id']}/comparison?instrument_id=oca"
    first = t.client.get(url, headers=t.headers("viewer"))
    second = t.client.get(url, headers=t.headers("viewer"))
    assert routed == [1]  # the second never reached the router
    assert (second.status_code, second.content) == (first.status_code, first.content)
    for name in ("content-type", "content-length", "etag", "cache-control"):
        assert second.headers[name] == first.headers[name]
    # Another spelling of the same request goes through the router, to the same entry.
    spelled = t.client.get(url + "&baseline=baseline", headers=t.headers("viewer"))
    assert routed == [1, 1] and spelled.content == first.content


def test_never_shared_across_workspaces(t: Tenant, session: Session) -> None:
    other = Tenant(session, t.client)
    org = create_org(t)
    a = scored(t, org["id"], value=2)
    for url in (
        f"/v1/assessments/{a['id']}/scores",
        f"/v1/organizations/{org['id']}/series?instrument_id=oca",
    ):
        get(t, url)
        get(t, url)  # cached for the owner, under both doors
        assert_problem(t.client.get(url, headers=other.headers("admin")), 404)


def test_a_revoked_key_is_not_answered_from_the_cache(t: Tenant) -> None:
    org = create_org(t)
    a = scored(t, org["id"], value=2)
    url = f"/v1/assessments/{a['id']}/scores"
    get(t, url)
    get(t, url)
    keys = get(t, "/v1/keys", role="admin")["items"]
    viewer = next(k for k in keys if k["role"] == "viewer")
    r = t.client.delete(f"/v1/keys/{viewer['id']}", headers=t.headers("admin"))
    assert r.status_code == 200
    assert_problem(t.client.get(url, headers=t.headers("viewer")), 401)


def test_errors_are_not_cached(t: Tenant) -> None:
    org = create_org(t)
    draft = create_assessment(t, org["id"], value=2)
    url = f"/v1/assessments/{draft['id']}/scores"
    assert_problem(t.client.get(url, headers=t.headers("viewer")), 409)
    assert_problem(t.client.get(url, headers=t.headers("viewer")), 409)
    submit(t, draft["id"])
    assert get(t, url)["overall"]["score"] is not None


def test_cache_off_still_answers(settings: Settings, session: Session) -> None:
    off = settings.model_copy(update={"read_cache_mb": 0, "auth_cache_seconds": 60})
    with TestClient(create_app(off)) as c:
        t = Tenant(session, c)
        org = create_org(t)
        a = scored(t, org["id"], value=2)
        url = f"/v1/assessments/{a['id']}/scores"
        assert get(t, url) == get(t, url)
        assert len(c.app.state.read_cache) == 0  # type: ignore[attr-defined]


# --- the pieces ----------------------------------------------------------------------------------


class FixedClock(NoClock):
    def __init__(self) -> None:
        self.reading = 1

    def now(self) -> int | None:
        return self.reading


def test_read_cache_is_bounded_and_follows_the_clock() -> None:
    clock = FixedClock()
    one = 90 + ENTRY_OVERHEAD  # what an entry of a 90-byte body costs
    cache = ReadCache(clock, max_bytes=4 * one + 40)
    reading = cache.now()
    assert reading == 1
    assert cache.get("a", reading) is None
    for key in "abcd":
        cache.put(key, reading, make_entry("x" * 90))
    assert cache.get("a", reading) is not None  # a is now the most recent
    cache.put("e", reading, make_entry("y" * 90))  # over the budget: evict the oldest (b)
    assert cache.get("b", reading) is None
    assert all(cache.get(k, reading) is not None for k in "acde")
    before = cache._size
    cache.put("e", reading, make_entry("y" * 90), key_bytes=7)  # a key's bytes count too
    assert cache._size == before + 7
    cache.put("big", reading, make_entry("z" * one))  # over a quarter of the budget: not kept
    assert cache.get("big", reading) is None
    cache.put("late", 0, make_entry("{}"))  # computed under an older reading: not kept
    assert cache.get("late", reading) is None
    clock.reading = 2
    assert cache.get("a", 2) is None and len(cache) == 0  # a change empties it
    assert ReadCache(clock, max_bytes=0).now() is None  # off


def test_query_spellings_cannot_outgrow_the_budget(settings: Settings, session: Session) -> None:
    """Unknown query parameters are ignored by the router: each spelling is a new raw key."""
    small = settings.model_copy(update={"read_cache_mb": 0.25, "auth_cache_seconds": 60})
    with TestClient(create_app(small)) as c:
        t = Tenant(session, c)
        org = create_org(t)
        scored(t, org["id"], value=2)
        url = f"/v1/organizations/{org['id']}/series?instrument_id=oca"
        pad = "p" * 400
        for i in range(400):
            assert c.get(f"{url}&{i}={pad}", headers=t.headers("viewer")).status_code == 200
        cache: ReadCache = c.app.state.read_cache  # type: ignore[attr-defined]
        assert cache._size <= cache.max_bytes
        assert len(cache) < 400


def test_entries_carry_a_strong_etag_of_their_bytes() -> None:
    one, same, other = make_entry('{"a":1}'), make_entry(b'{"a":1}'), make_entry('{"a":2}')
    assert one == same and one.etag != other.etag
    assert one.etag.startswith('"') and one.etag.endswith('"')
    assert reads._matches(f"W/{one.etag}", one.etag) and reads._matches("*", one.etag)
    assert not reads._matches(None, one.etag) and not reads._matches('"x"', one.etag)


def test_the_clock_moves_on_a_commit_elsewhere(engine: Engine, t: Tenant) -> None:
    clock = make_change_clock(engine)
    try:
        before = clock.now()
        assert before is not None
        assert clock.now() == before  # nothing changed
        create_org(t)  # committed by the app's own engine
        eventually(lambda: clock.now() != before)
    finally:
        clock.close()


def test_memory_databases_are_not_cached() -> None:
    from sqlalchemy import create_engine

    assert make_change_clock(create_engine("sqlite://")).now() is None


def test_a_failing_clock_never_fails_a_read(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    org = create_org(t)
    a = scored(t, org["id"], value=2)
    url = f"/v1/assessments/{a['id']}/scores"
    expected = get(t, url)
    get(t, url)  # in the cache, under both doors

    def broken() -> int:
        raise RuntimeError("clock down")

    cache: ReadCache = t.client.app.state.read_cache  # type: ignore[attr-defined]
    monkeypatch.setattr(cache.clock, "now", broken)
    assert get(t, url) == expected  # computed afresh
    assert get(t, "/v1/organizations")["items"]


def test_the_clock_pauses_when_it_cannot_watch(engine: Engine, tmp_path: Any) -> None:
    """PostgreSQL: the listening connection is killed, the clock reads None, then recovers.
    SQLite: a database missing one of the counting triggers is never cached."""
    if engine.dialect.name == "postgresql":
        clock = make_change_clock(engine)
        try:
            first = clock.now()
            assert first is not None
            with engine.connect() as conn:
                killed = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'oca-change-clock' AND pid <> pg_backend_pid()"
                    )
                ).all()
                conn.commit()
            assert killed
            eventually(lambda: clock.now() is None)
            eventually(lambda: (clock.now() or 0) > first)  # back, and everything cached is void
        finally:
            clock.close()
    else:
        from app.db import migrate

        url = f"sqlite:///{tmp_path / 'partial.db'}"
        migrate.upgrade(url)
        scratch = make_engine(url)
        try:
            with scratch.begin() as conn:
                conn.execute(text("DROP TRIGGER count_update_cohort"))
            assert isinstance(make_change_clock(scratch), NoClock)
        finally:
            scratch.dispose()


def test_concurrent_misses_compute_once() -> None:
    import asyncio

    cache = ReadCache(FixedClock(), max_bytes=1 << 20)
    runs: list[int] = []

    async def slow() -> Any:
        runs.append(1)
        await asyncio.sleep(0.05)
        return make_entry('{"a":1}')

    async def failing() -> Any:
        runs.append(1)
        await asyncio.sleep(0.05)
        raise LookupError("gone")

    async def main() -> None:
        results = await asyncio.gather(*(cache.single_flight("k", 1, slow) for _ in range(10)))
        assert runs == [1] and len(set(results)) == 1
        # One caller going away does not cancel the computation for the others.
        first = asyncio.ensure_future(cache.single_flight("j", 1, slow))
        second = asyncio.ensure_future(cache.single_flight("j", 1, slow))
        await asyncio.sleep(0.01)
        first.cancel()
        assert (await second).body == b'{"a":1}'
        # A failure reaches every caller, and the next miss computes again.
        outcomes = await asyncio.gather(
            *(cache.single_flight("f", 1, failing) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(o, LookupError) for o in outcomes) and runs == [1, 1, 1]
        await cache.single_flight("k", 2, slow)  # another reading: computed afresh
        assert runs == [1, 1, 1, 1]

    asyncio.run(main())
