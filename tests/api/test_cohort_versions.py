"""A cohort whose rounds used different versions of an instrument: every number is on the latest
version, reached through its supersedes map; organizations it cannot reach are left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from tests.api.factories import add_member, create_cohort, create_org, get, ok
from tests.conftest import DATA, Tenant

ID = "mini-versions"


def _write(root: Path, version: str, change: Any = None) -> None:
    data = yaml.safe_load((DATA / "instruments" / "mini" / "1.0.yaml").read_text())
    data["id"], data["version"] = ID, version
    if change:
        change(data)
    (root / ID).mkdir(parents=True, exist_ok=True)
    (root / ID / f"{version}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))


def _v2(data: dict[str, Any]) -> None:
    data["dimensions"][0]["areas"][0]["items"][0]["key"] = "gov.vision.written"
    data["supersedes"] = {
        "version": "1.0",
        "items": {"gov.vision.1": "gov.vision.written", "gov.board.1": None},
    }


@pytest.fixture(scope="module")
def versions_client(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("instruments")
    _write(root, "0.9")  # nothing links 2.0 to it
    _write(root, "1.0")
    _write(root, "2.0", _v2)
    app = create_app(settings.model_copy(update={"instruments_dir": root}))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _scored(t: Tenant, org: str, version: str, round_label: str, value: int, board: int) -> None:
    body = {
        "organization_id": org,
        "instrument_id": ID,
        "instrument_version": version,
        "round": round_label,
        "assessed_on": "2024-01-10" if round_label == "baseline" else "2025-01-10",
        "answers": [{"item": k, "value": v} for k, v in answers(version, value, board).items()],
    }
    a = ok(t.client.post("/v1/assessments", json=body, headers=t.headers()), 201)
    ok(t.client.post(f"/v1/assessments/{a['id']}/submit", headers=t.headers()))


def answers(version: str, value: int, board: int) -> dict[str, int]:
    """Every item at ``value`` but the board; 2.0 renamed the first vision item."""
    vision = "gov.vision.written" if version == "2.0" else "gov.vision.1"
    return {vision: value, "gov.vision.2": value, "gov.board.1": board, "fin.budget.1": value}


def test_rounds_on_older_versions_are_scored_on_the_latest(
    session: Session, versions_client: TestClient
) -> None:
    t = Tenant(session, versions_client)
    cohort = create_cohort(t)
    orgs = {}
    for name in ("A cross", "B latest", "C older", "D unrelated"):
        orgs[name] = create_org(t, name=name)["id"]
        add_member(t, cohort["id"], orgs[name])
    _scored(t, orgs["A cross"], "1.0", "baseline", 1, board=4)
    _scored(t, orgs["A cross"], "2.0", "endline", 3, board=1)
    _scored(t, orgs["B latest"], "2.0", "baseline", 2, board=2)
    _scored(t, orgs["B latest"], "2.0", "endline", 4, board=4)
    _scored(t, orgs["C older"], "1.0", "baseline", 2, board=4)
    _scored(t, orgs["C older"], "1.0", "endline", 2, board=4)
    _scored(t, orgs["D unrelated"], "0.9", "baseline", 1, board=1)
    _scored(t, orgs["D unrelated"], "2.0", "endline", 4, board=4)

    c = get(t, f"/v1/cohorts/{cohort['id']}/comparison?instrument_id={ID}")
    assert c["compared_on_version"] == "2.0" and c["versions_mixed"] is True
    assert c["rescored_on_latest"] == sorted([orgs["A cross"], orgs["C older"]])
    assert c["not_comparable"] == [orgs["D unrelated"]]
    both = sorted(orgs[n] for n in ("A cross", "B latest", "C older"))
    assert sorted(c["organizations_with_both"]) == both
    gov = next(k for k in c["keys"] if k["key"] == "gov")
    # The board item is not comparable: A and C are scored without it (vision only), B with it.
    # baseline: A 1, B 2, C 2 -> 5/3; endline: A 3, B 4, C 2 -> 3
    assert gov["baseline"]["mean"] == pytest.approx(1.67, abs=0.01)
    assert gov["endline"]["mean"] == pytest.approx(3.0)
    assert gov["baseline"]["n"] == 3  # D is in no number
    assert orgs["D unrelated"] not in gov["endline"]["organizations"]
    assert sorted(gov["change"]["improved"]) == sorted([orgs["A cross"], orgs["B latest"]])


def test_one_version_throughout_is_not_flagged(
    session: Session, versions_client: TestClient
) -> None:
    t = Tenant(session, versions_client)
    cohort = create_cohort(t)
    org = create_org(t)["id"]
    add_member(t, cohort["id"], org)
    _scored(t, org, "2.0", "baseline", 2, board=2)
    _scored(t, org, "2.0", "endline", 3, board=3)
    c = get(t, f"/v1/cohorts/{cohort['id']}/comparison?instrument_id={ID}")
    assert (c["versions_mixed"], c["rescored_on_latest"], c["not_comparable"]) == (False, [], [])
    xlsx = t.client.get(
        f"/v1/cohorts/{cohort['id']}/comparison.xlsx?instrument_id={ID}", headers=t.headers()
    )
    assert xlsx.status_code == 200
