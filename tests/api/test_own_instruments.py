"""A workspace's own instruments through the real app: derive the OCA, adapt it, publish it,
assess with it beside the library version, and keep it invisible to every other workspace."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pyxform.xls2xform import convert
from sqlalchemy import Engine, text

from app.catalog import Catalog
from app.catalog.loader import parse_instrument
from app.catalog.owned import canonical
from app.config import Settings
from app.excel import Prefill, build_template
from app.main import create_app
from app.services.assessment_scoring import rescore_all
from app.services.owned_instruments import every_published_catalog, workspace_catalog
from tests.api.factories import (
    add_member,
    assert_problem,
    call,
    create_cohort,
    create_org,
    db_counts,
    get,
    ok,
    submit,
)
from tests.api.test_jobs import job_settings, wait
from tests.api.test_jobs import post as jobs_post
from tests.api.test_submissions import kobo_csv, post
from tests.api.webhooks_receiver import (  # noqa: F401 - fixtures
    sessions_fixture,
    wh_client_fixture,
    wh_settings_fixture,
)
from tests.conftest import ContractClient, Tenant


def _label() -> str:
    """A fresh version label: labels are unique service-wide, and the tests share a database."""
    return f"2015.2-local.{uuid.uuid4().hex[:8]}"


def _derive(tenant: Tenant, version: str) -> dict[str, Any]:
    r = call(
        tenant, "POST", "/v1/instruments/oca/versions/2015.2/derive", json={"version": version}
    )
    return ok(r, 201)  # type: ignore[no-any-return]


def _definition(tenant: Tenant, version: str) -> dict[str, Any]:
    body = get(tenant, f"/v1/instruments/oca/versions/{version}")
    return body["definition"]  # type: ignore[no-any-return]


def _put(tenant: Tenant, definition: dict[str, Any], version: str) -> Any:
    return call(
        tenant,
        "PUT",
        f"/v1/instruments/oca/versions/{version}",
        content=json.dumps(definition),
        headers={"Content-Type": "application/json"},
    )


def _publish(tenant: Tenant, version: str) -> dict[str, Any]:
    r = call(tenant, "POST", f"/v1/instruments/oca/versions/{version}/publish", "admin")
    return ok(r)  # type: ignore[no-any-return]


def _adapt(definition: dict[str, Any]) -> tuple[dict[str, Any], list[str], str]:
    """Drop the last area of the first dimension, reword one item, add a local item."""
    first = definition["dimensions"][0]
    dropped_area = first["areas"].pop()
    dropped = [i["key"] for i in dropped_area["items"]]
    item = first["areas"][0]["items"][0]
    item["text"] = {"en": "Reworded for our context", "es": "Redactado para nuestro contexto"}
    local = {
        **item,
        "key": "local.legal.1",
        "text": {"en": "Legal registration current", "es": "Registro legal vigente"},
    }
    first["areas"][0]["items"].append(local)
    return definition, dropped, item["key"]


def _answers(definition: dict[str, Any], value: float) -> list[dict[str, Any]]:
    return [
        {"item": i["key"], "value": value}
        for d in definition["dimensions"]
        for a in d["areas"]
        for i in a["items"]
    ]


def _assess(tenant: Tenant, org_id: str, version: str, round: str, answers: Any, day: str) -> Any:
    body = {
        "organization_id": org_id,
        "instrument_id": "oca",
        "instrument_version": version,
        "round": round,
        "assessed_on": day,
        "answers": answers,
    }
    return call(tenant, "POST", "/v1/assessments", json=body)


def _own_rows(engine: Engine) -> int:
    """Rows of workspaces' own instrument versions (``db_counts`` leaves out the table: the
    library's rows are recorded at start)."""
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM instrument_version WHERE workspace_id IS NOT NULL")
        )
        return int(found.scalar_one())


def _published_events(engine: Engine, workspace_id: object) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT data FROM webhook_event WHERE type = 'instrument.published'"
                    " AND workspace_id = :w"
                ),
                {"w": workspace_id.hex if engine.dialect.name == "sqlite" else workspace_id},  # type: ignore[attr-defined]
            ).scalars()
        )


def test_adapt_the_oca_publish_and_compare_with_the_library(
    tenant: Tenant, catalog: Catalog, engine: Engine, wh_client: TestClient, sessions: Any
) -> None:
    LOCAL = _label()
    r = wh_client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["instrument.published"]},
        headers=tenant.headers("admin"),
    )
    ok(r, 201)
    draft = _derive(tenant, LOCAL)
    assert (draft["status"], draft["derived_from"], draft["supersedes"]) == (
        "draft",
        "oca 2015.2",
        "2015.2",
    )
    assert draft["dropped_items"] == [] and draft["new_items"] == []

    definition, dropped, reworded = _adapt(_definition(tenant, LOCAL))
    saved = ok(_put(tenant, definition, LOCAL))
    assert saved["dropped_items"] == sorted(dropped)
    assert saved["new_items"] == ["local.legal.1"]
    # a draft is previewed but never assessed
    assert _assess(
        tenant, "00000000-0000-0000-0000-000000000000", LOCAL, "x", [], "2024-01-10"
    ).status_code in (404, 422)
    trial = ok(
        call(
            tenant,
            "POST",
            f"/v1/instruments/oca/versions/{LOCAL}/score-trial",
            json={"answers": _answers(definition, 3)},
        )
    )
    assert trial["score"]["overall"]["score"] == 3.0
    wrong = call(
        tenant,
        "POST",
        f"/v1/instruments/oca/versions/{LOCAL}/score-trial",
        json={"answers": [{"item": "local.legal.1", "value": 9}, {"item": "nope", "value": 1}]},
    )
    assert len(assert_problem(wrong, 422)["errors"]) == 2
    template = call(tenant, "GET", f"/v1/instruments/oca/versions/{LOCAL}/template.xlsx")
    assert template.status_code == 200

    published = _publish(tenant, LOCAL)
    assert published["status"] == "published" and published["published_by"]
    events = _published_events(engine, tenant.principal.workspace_id)
    assert len(events) == 1
    data = events[0] if isinstance(events[0], dict) else json.loads(events[0])
    assert (data["instrument_id"], data["version"], data["derived_from"]) == (
        "oca",
        LOCAL,
        "oca 2015.2",
    )

    listing = get(tenant, "/v1/instruments")
    oca = next(x for x in listing["items"] if x["id"] == "oca")
    owners = {v["version"]: v["owner"] for v in oca["versions"]}
    assert owners[LOCAL] == "workspace" and owners["2015.2"] == "library"
    assert oca["latest_version"] == "2015.2"  # a workspace version is never the default

    org = create_org(tenant)
    library = catalog.get("oca", "2015.2")
    assert library is not None
    base_answers = [{"item": k, "value": 3} for k in sorted(library.instrument.item_keys)]
    baseline = ok(_assess(tenant, org["id"], "2015.2", "baseline", base_answers, "2024-01-10"), 201)
    submit(tenant, baseline["id"])
    endline = ok(
        _assess(tenant, org["id"], LOCAL, "endline", _answers(definition, 4), "2025-01-10"), 201
    )
    submit(tenant, endline["id"])

    series = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "oca"})
    assert [p["instrument_version"] for p in series["points"]] == ["2015.2", LOCAL]

    c = get(
        tenant,
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "oca", "baseline": "baseline", "endline": "endline"},
    )
    assert c["cross_version"] is True
    assert c["compared_on_version"] in ("2015.2", LOCAL)
    shared = len(library.instrument.item_keys) - len(dropped)
    assert c["comparable_items"] == shared
    assert set(c["excluded_items"]) == {*dropped, "local.legal.1"}
    assert reworded in {i["key"] for i in c["items"]}
    assert {d["delta"] for d in c["dimensions"]} == {1.0}

    # the cohort report compares across the library and the adapted version too: on the library
    # version (a workspace version is never the default, as for the OCA without NUPAS items),
    # with the adapted round carried onto the items the two share
    cohort = create_cohort(tenant)
    add_member(tenant, cohort["id"], org["id"])
    params = {"instrument_id": "oca", "baseline": "baseline", "endline": "endline"}
    cc = get(tenant, f"/v1/cohorts/{cohort['id']}/comparison", params=params)
    assert (cc["compared_on_version"], cc["versions_mixed"], cc["not_comparable"]) == (
        "2015.2",
        True,
        [],
    )
    assert len(cc["rescored_on_latest"]) == 1 and len(cc["organizations_with_both"]) == 1
    report = call(tenant, "GET", f"/v1/cohorts/{cohort['id']}/comparison.xlsx", params=params)
    assert report.status_code == 200, report.text


def test_published_is_immutable_and_drafts_are_deleted(tenant: Tenant) -> None:
    LOCAL = _label()
    _derive(tenant, LOCAL)
    definition = _definition(tenant, LOCAL)
    _publish(tenant, LOCAL)
    definition["title"]["en"] = "Changed"
    assert_problem(_put(tenant, definition, LOCAL), 409)
    assert_problem(call(tenant, "DELETE", f"/v1/instruments/oca/versions/{LOCAL}"), 409)
    assert_problem(
        call(tenant, "POST", f"/v1/instruments/oca/versions/{LOCAL}/publish", "admin"), 409
    )
    _derive(tenant, LOCAL + "x")
    ok(call(tenant, "DELETE", f"/v1/instruments/oca/versions/{LOCAL}x"), 204)
    assert_problem(call(tenant, "GET", f"/v1/instruments/oca/versions/{LOCAL}x"), 404)


def test_publishing_needs_an_admin(tenant: Tenant) -> None:
    LOCAL = _label()
    _derive(tenant, LOCAL)
    assert_problem(call(tenant, "POST", f"/v1/instruments/oca/versions/{LOCAL}/publish"), 403)


def test_another_workspace_sees_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    LOCAL = _label()
    _derive(tenant, LOCAL)
    _publish(tenant, LOCAL)
    definition = _definition(tenant, LOCAL)
    org = create_org(other_tenant)
    for url in (
        f"/v1/instruments/oca/versions/{LOCAL}",
        f"/v1/instruments/oca/versions/{LOCAL}/template.xlsx",
        f"/v1/instruments/oca/versions/{LOCAL}/xlsform.xlsx",
    ):
        assert_problem(call(other_tenant, "GET", url), 404)
    listing = get(other_tenant, "/v1/instruments")
    oca = next(x for x in listing["items"] if x["id"] == "oca")
    assert LOCAL not in {v["version"] for v in oca["versions"]}
    r = _assess(other_tenant, org["id"], LOCAL, "baseline", _answers(definition, 3), "2024-01-10")
    assert r.status_code in (404, 422), r.text
    assert_problem(
        call(
            other_tenant,
            "PUT",
            f"/v1/instruments/oca/versions/{LOCAL}",
            content=json.dumps(definition),
            headers={"Content-Type": "application/json"},
        ),
        404,
    )
    assert get(other_tenant, "/v1/instruments/own")["items"] == []
    # the label is taken service-wide, without saying by whom
    assert_problem(
        call(
            other_tenant,
            "POST",
            "/v1/instruments/oca/versions/2015.2/derive",
            json={"version": LOCAL},
        ),
        409,
    )


def test_library_labels_are_refused_and_every_problem_is_named(
    tenant: Tenant, catalog: Catalog, engine: Engine
) -> None:
    library = catalog.get("oca", "2015.2")
    assert library is not None
    before = (db_counts(engine), _own_rows(engine))
    text_ = canonical(library.instrument)  # the library's own label: refused, nothing stored
    r = call(
        tenant,
        "POST",
        "/v1/instruments/own",
        content=text_,
        headers={"Content-Type": "application/yaml"},
    )
    body = assert_problem(r, 422)
    assert any("'local'" in e["detail"] and "'local'" in e["detail_es"] for e in body["errors"])
    assert body["detail_es"].startswith("el texto no es una versión de instrumento válida")
    data = json.loads(json.dumps(parse_instrument(text_, "x").model_dump(mode="json")))
    data["version"] = "9-local"
    data["dimensions"][0]["areas"][0]["items"][0]["scale"] = "nope"
    data["dimensions"][1]["areas"][0]["items"][0]["weight"] = -1
    r = call(
        tenant,
        "POST",
        "/v1/instruments/own",
        content=json.dumps(data),
        headers={"Content-Type": "application/json"},
    )
    body = assert_problem(r, 422)
    details = " | ".join(e["detail"] for e in body["errors"])
    assert "dimensions[1]" in details and "weight" in details, details
    assert all(e["detail_es"] for e in body["errors"])  # every problem said in Spanish too
    del data["dimensions"][0]["title"]  # the model's own words, translated
    r = call(
        tenant,
        "POST",
        "/v1/instruments/own",
        content=json.dumps(data),
        headers={"Content-Type": "application/json"},
    )
    spanish = [e["detail_es"] for e in assert_problem(r, 422)["errors"]]
    assert any(d.endswith(".title: falta este campo") for d in spanish), spanish
    assert (db_counts(engine), _own_rows(engine)) == before


def test_a_new_instrument_from_a_workbook_exports_as_xlsform_and_imports_kobo(
    tenant: Tenant, catalog: Catalog
) -> None:
    local = f"local-{uuid.uuid4().hex[:8]}"
    r = call(tenant, "GET", "/v1/instruments/opi/versions/2015.2/authoring.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    settings = book["settings"]
    header = [c.value for c in settings[1]]
    settings.cell(2, header.index("form_id") + 1, "opi-acme")
    settings.cell(2, header.index("version") + 1, local)
    settings.cell(2, header.index("supersedes") + 1).value = None  # a new instrument
    book["supersedes"].delete_rows(2, book["supersedes"].max_row)
    out = io.BytesIO()
    book.save(out)
    created = ok(
        call(
            tenant,
            "POST",
            "/v1/instruments/own/authoring",
            files={"file": ("opi.xlsx", out.getvalue(), "application/octet-stream")},
        ),
        201,
    )
    assert (created["id"], created["version"], created["status"]) == (
        "opi-acme",
        local,
        "draft",
    )
    ok(call(tenant, "POST", f"/v1/instruments/opi-acme/versions/{local}/publish", "admin"))

    xlsform = call(tenant, "GET", f"/v1/instruments/opi-acme/versions/{local}/xlsform.xlsx")
    assert xlsform.status_code == 200
    warnings: list[str] = []  # the reference converter turns it into an ODK XForm
    xform = convert(xlsform.content, warnings=warnings, file_type=".xlsx").xform
    assert warnings == [] and f"'{local}'" in xform  # the hidden version field

    # a field team's KoboToolbox export of that form becomes an assessment
    f = next(
        x
        for x in _own_catalog(tenant, catalog)
        if (x.instrument.id, x.instrument.version) == ("opi-acme", local)
    )
    org = create_org(tenant, name="Asociación Campo")
    values = {
        "organization_name": org["name"],
        "round": "baseline",
        "assessment_date": "2025-03-14",
        "oca_instrument": "opi-acme",
        "oca_version": local,
        "oca_content_hash": f.content_hash,
    }
    values |= {k: 3 for k in f.instrument.item_keys}
    r = post(tenant, "kobo.csv", kobo_csv(f, [("uuid-1", values)]))
    assert r.status_code == 200, r.text
    listed = get(tenant, "/v1/assessments")["items"]
    assert [(a["instrument_id"], a["instrument_version"]) for a in listed] == [("opi-acme", local)]


def _own_catalog(tenant: Tenant, catalog: Catalog) -> Catalog:
    with tenant.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        return workspace_catalog(session, catalog, tenant.principal.workspace_id)


def test_the_command_line_derives_and_publishes(
    tenant: Tenant, database_url: str, engine: Engine, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from app.cli import app as cli_app

    env = {"OCA_DATABASE_URL": database_url}
    label = _label()
    target = tmp_path / "adapted.yaml"
    run = CliRunner().invoke(
        cli_app,
        ["instruments", "derive", "oca", "2015.2", label, "-w", tenant.name, "--out", str(target)],
        env=env,
    )
    assert run.exit_code == 0, run.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(target.read_text().replace("weight: 1", "weight: -1", 1))
    before = (db_counts(engine), _own_rows(engine))
    refused = CliRunner().invoke(
        cli_app, ["instruments", "publish", str(bad), "-w", tenant.name], env=env
    )
    assert refused.exit_code != 0 and "weight" in refused.output, refused.output
    assert (db_counts(engine), _own_rows(engine)) == before
    done = CliRunner().invoke(
        cli_app, ["instruments", "publish", str(target), "-w", tenant.name], env=env
    )
    assert done.exit_code == 0, done.output
    listed = CliRunner().invoke(
        cli_app, ["instruments", "list", "-w", tenant.name, "--json"], env=env
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert {"version": label, "owner": "workspace", "status": "published"}.items() <= next(
        r for r in rows if r["version"] == label
    ).items()


@pytest.fixture()
def runner_client(settings: Settings) -> Iterator[TestClient]:
    """An app with a running job runner (tests/api/test_jobs.py)."""
    with ContractClient(create_app(job_settings(settings)), raise_server_exceptions=False) as c:
        yield c


def test_an_import_job_and_a_rescore_see_the_workspace_version(
    runner_client: TestClient, tenant: Tenant, catalog: Catalog, session: Any
) -> None:
    label = _label()
    ok(
        call(tenant, "POST", "/v1/instruments/opi/versions/2015.2/derive", json={"version": label}),
        201,
    )
    ok(call(tenant, "POST", f"/v1/instruments/opi/versions/{label}/publish", "admin"))
    f = _own_catalog(tenant, catalog).get("opi", label)
    assert f is not None
    answers = {k: 3.0 for k in f.instrument.item_keys}
    pre = Prefill("Org job", None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
    data = build_template(f.instrument, f.content_hash, "en", pre)
    accepted = jobs_post(runner_client, tenant, [("own.xlsx", data)])
    assert accepted.status_code == 202, accepted.text
    done = wait(runner_client, tenant, accepted.headers["Location"])
    assert done["status"] == "succeeded", done
    assert [r["status"] for r in done["result"]["results"]] == ["created"], done

    # scores of an older engine are recomputed at start with every workspace's versions
    report = rescore_all(session, every_published_catalog(session, catalog), write=False)
    # (other tests of this database tamper with stored scores on purpose: only this one's count)
    mine = done["result"]["results"][0]["assessment_id"]
    assert report.checked >= 1 and mine not in [a for a, _, _ in report.changed]
    assert rescore_all(session, catalog, write=False).checked < report.checked
