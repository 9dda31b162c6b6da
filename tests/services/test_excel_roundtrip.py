"""Fill a template, import it, export it back in template form, re-import: nothing changes."""

from __future__ import annotations

import random
from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.catalog import Catalog, InstrumentFile, load_catalog
from app.domain.scoring import NA, AnswerValue
from app.excel import Prefill, build_template
from tests.conftest import INSTRUMENTS, Tenant

FILES = list(load_catalog(INSTRUMENTS))


def random_answers(f: InstrumentFile, rnd: random.Random) -> dict[str, AnswerValue]:
    out: dict[str, AnswerValue] = {}
    for key, item in f.instrument.items.items():
        scale = f.instrument.scales[item.scale]
        roll = rnd.random()
        if f.instrument.allows_na(item) and roll < 0.1:
            out[key] = NA
        elif roll < 0.15:
            continue  # left blank: missing
        else:
            out[key] = rnd.choice([v.value for v in scale.values])
    return out


def upload(tenant: Tenant, name: str, data: bytes, **params: str) -> dict:  # type: ignore[type-arg]
    query = "&".join(f"{k}={v}" for k, v in {"create_organizations": "true", **params}.items())
    r = tenant.client.post(
        f"/v1/imports?{query}",
        files=[("files", (name, data, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    result: dict = r.json()["results"][0]  # type: ignore[type-arg]
    return result


@pytest.mark.parametrize("f", FILES, ids=[f.instrument.id for f in FILES])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_round_trip_is_exact(
    f: InstrumentFile, lang: str, tenant: Tenant, client: TestClient, catalog: Catalog
) -> None:
    rnd = random.Random(f"{f.instrument.id}-{lang}")
    answers = random_answers(f, rnd)
    notes = {k: f"=evidence {i} for {k}" for i, k in enumerate(sorted(answers)[:3])}
    prefill = Prefill(
        organization_name=f"Org {f.instrument.id} {lang}",
        organization_external_id=f"ext-{f.instrument.id}-{lang}",
        round="baseline",
        assessed_on=date(2024, 5, 17),
        assessor="Consultora",
        answers=answers,
        notes=notes,
    )
    first = upload(
        tenant, "filled.xlsx", build_template(f.instrument, f.content_hash, lang, prefill)
    )
    assert first["status"] == "created", first
    aid = first["assessment_id"]
    h = tenant.headers()
    before = client.get(f"/v1/assessments/{aid}", headers=h).json()
    expected = {k: ("na" if v is NA else v) for k, v in answers.items()}
    assert {a["item"]: a["value"] for a in before["answers"] if a["value"] is not None} == expected
    assert {a["item"]: a["note"] for a in before["answers"] if a["note"]} == notes
    scores_before = client.get(f"/v1/assessments/{aid}/scores", headers=h)

    # export in template form and import that file again
    exported = client.get(f"/v1/assessments/{aid}/template.xlsx?lang={lang}", headers=h)
    assert exported.status_code == 200
    second = upload(tenant, "exported.xlsx", exported.content)
    assert second["status"] in ("updated", "unchanged"), second
    assert second["assessment_id"] == aid
    after = client.get(f"/v1/assessments/{aid}", headers=h).json()
    assert after["answers"] == before["answers"]
    assert after["round"] == before["round"] and after["assessed_on"] == before["assessed_on"]
    if scores_before.status_code == 200:
        scores_after = client.get(f"/v1/assessments/{aid}/scores", headers=h).json()
        strip = lambda s: {k: v for k, v in s.items() if k != "computed_at"}  # noqa: E731
        assert strip(scores_after) == strip(scores_before.json())
    # uploading the very same file again creates nothing
    third = upload(tenant, "exported-again.xlsx", exported.content)
    assert third["status"] == "unchanged" and third["assessment_id"] == aid


def test_final_assessment_is_never_overwritten(tenant: Tenant, client: TestClient) -> None:
    f = next(x for x in FILES if x.instrument.id == "csa-sustainability")
    answers: dict[str, AnswerValue] = {k: 2.0 for k in f.instrument.item_keys}
    pre = Prefill("Org final", "ext-final", "baseline", date(2024, 1, 1), None, answers, {})
    first = upload(tenant, "a.xlsx", build_template(f.instrument, f.content_hash, "en", pre))
    aid = first["assessment_id"]
    h = tenant.headers()
    assert client.post(f"/v1/assessments/{aid}/finalize", headers=h).status_code == 200
    corrected = Prefill(
        "Org final",
        "ext-final",
        "baseline",
        date(2024, 1, 1),
        None,
        {k: 3.0 for k in f.instrument.item_keys},
        {},
    )
    second = upload(tenant, "b.xlsx", build_template(f.instrument, f.content_hash, "en", corrected))
    assert second["status"] == "revised"
    assert second["assessment_id"] != aid
    old = client.get(f"/v1/assessments/{aid}", headers=h).json()
    new = client.get(f"/v1/assessments/{second['assessment_id']}", headers=h).json()
    assert old["status"] == "final" and {a["value"] for a in old["answers"]} == {2.0}
    assert new["replaces_id"] == aid and {a["value"] for a in new["answers"]} == {3.0}
    assert second["scored"] and second["overall"] == 3.0


def test_dry_run_writes_nothing(tenant: Tenant, client: TestClient) -> None:
    f = next(x for x in FILES if x.instrument.id == "opi")
    pre = Prefill(
        "Org dry",
        None,
        "baseline",
        date(2024, 1, 1),
        None,
        {k: 4.0 for k in f.instrument.item_keys},
        {},
    )
    result = upload(
        tenant, "d.xlsx", build_template(f.instrument, f.content_hash, "es", pre), dry_run="true"
    )
    assert result["status"] == "created" and result["dry_run"] and result["overall"] == 4.0
    h = tenant.headers()
    assert client.get("/v1/organizations", headers=h).json()["items"] == []
    assert client.get("/v1/assessments", headers=h).json()["items"] == []
