"""Entering answers in the browser: a new draft, one dimension at a time, submit and finalize —
the same rules, errors and stored scores as the API."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from app.catalog import Catalog
from app.domain.instrument import Instrument
from tests.conftest import Tenant
from tests.web.conftest import People, csrf_of

_ETAG = re.compile(r'name="etag" value="([^"]+)"')


def etag_of(page: str) -> str:
    found = _ETAG.search(page)
    assert found, "the page carries no row version"
    return html.unescape(found.group(1))


def api(tenant: Tenant, method: str, path: str, **kw: Any) -> Any:
    r = tenant.client.request(method, path, headers=tenant.headers("editor"), **kw)
    assert r.status_code < 300, (path, r.status_code, r.text)
    return r.json()


def organization(tenant: Tenant, name: str) -> str:
    return str(api(tenant, "POST", "/v1/organizations", json={"name": name})["id"])


def new_draft(browser: TestClient, org_id: str, instrument: str, round: str = "baseline") -> str:
    form = browser.get(f"/organizations/{org_id}/assessments/new")
    assert form.status_code == 200
    made = browser.post(
        f"/organizations/{org_id}/assessments/new",
        data={
            "csrf_token": csrf_of(form.text),
            "instrument": instrument,
            "round": round,
            "assessed_on": "2025-03-31",
            "assessor": "A. Consultora",
        },
    )
    assert made.status_code == 303, made.text[:500]
    found = re.fullmatch(r"/assessments/([0-9a-f-]{36})/edit", made.headers["location"])
    assert found
    return found.group(1)


def answers_for(instrument: Instrument) -> dict[str, str]:
    """Varied answers: every level of the scale in turn, N/A where allowed every fifth item."""
    out = {}
    for n, (key, item) in enumerate(instrument.items.items()):
        if n % 5 == 4 and instrument.allows_na(item):
            out[key] = "na"
            continue
        values = instrument.scales[item.scale].values
        v = values[n % len(values)].value
        out[key] = str(int(v)) if v.is_integer() else str(v)
    return out


def fill_dimension(
    browser: TestClient, aid: str, dimension: str, answers: dict[str, str], action: str
) -> Any:
    page = browser.get(f"/assessments/{aid}/edit?dimension={dimension}")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_of(page.text),
        "etag": etag_of(page.text),
        "dimension": dimension,
        "action": action,
    }
    for key, value in answers.items():
        data[f"a.{key}"] = value
        data[f"n.{key}"] = f"nota {key}"
    return browser.post(f"/assessments/{aid}/edit", data=data)


def test_new_assessment_then_answers_in_the_browser_score_as_the_api_does(
    signed_in: People, catalog: Catalog
) -> None:
    tenant = signed_in.tenant
    browser = signed_in("editor")
    f = catalog.latest("cla")
    assert f is not None
    ins = f.instrument
    aid = new_draft(browser, organization(tenant, "Colectivo Web"), f"cla|{ins.version}")
    draft = api(tenant, "GET", f"/v1/assessments/{aid}")
    assert (draft["status"], draft["round"], draft["assessor"]) == (
        "draft",
        "baseline",
        "A. Consultora",
    )

    page = browser.get(f"/assessments/{aid}/edit?lang=es")
    first = ins.dimensions[0]
    assert page.text.count('type="radio"') > len(first.areas[0].items) * 2
    some = first.areas[0].items[0]
    assert some.levels is not None
    assert html.escape(some.levels[1].es, quote=False) in page.text  # level statement beside it
    assert "No aplica" in page.text

    wanted = answers_for(ins)
    keys = [d.key for d in ins.dimensions]
    for i, d in enumerate(ins.dimensions):
        mine = {it.key: wanted[it.key] for a in d.areas for it in a.items}
        last = i == len(keys) - 1
        moved = fill_dimension(browser, aid, d.key, mine, "submit" if last else "next")
        assert moved.status_code == 303, moved.text[:800]
        if not last:
            assert (
                moved.headers["location"]
                == f"/assessments/{aid}/edit?dimension={keys[i + 1]}&saved=1"
            )
    status = browser.get(f"/assessments/{aid}/edit?lang=en")
    assert "submitted" in status.text and "Finalize" in status.text
    assert "Colectivo Web" in status.text

    by_api = api(
        tenant,
        "POST",
        "/v1/assessments",
        json={
            "organization_id": organization(tenant, "Colectivo API"),
            "instrument_id": "cla",
            "instrument_version": ins.version,
            "round": "baseline",
            "assessed_on": "2025-03-31",
            "answers": [
                {"item": k, "value": "na" if v == "na" else float(v), "note": f"nota {k}"}
                for k, v in wanted.items()
            ],
        },
    )
    api(tenant, "POST", f"/v1/assessments/{by_api['id']}/submit")
    web_score = api(tenant, "GET", f"/v1/assessments/{aid}/scores")
    api_score = api(tenant, "GET", f"/v1/assessments/{by_api['id']}/scores")
    assert web_score["overall"] == api_score["overall"]
    assert web_score["dimensions"] == api_score["dimensions"]
    stored = api(tenant, "GET", f"/v1/assessments/{aid}")["answers"]
    assert {x["item"]: x["note"] for x in stored} == {k: f"nota {k}" for k in wanted}

    done = browser.post(
        f"/assessments/{aid}/edit/finalize",
        data={"csrf_token": csrf_of(status.text), "etag": etag_of(status.text)},
    )
    assert done.status_code == 303
    assert api(tenant, "GET", f"/v1/assessments/{aid}")["status"] == "final"
    assert (
        "To correct it, create a revision" in browser.get(f"/assessments/{aid}/edit?lang=en").text
    )


def test_a_stale_row_version_is_refused_and_the_typed_answers_are_kept(
    signed_in: People, catalog: Catalog
) -> None:
    tenant = signed_in.tenant
    ana, beto = signed_in("editor"), signed_in("editor")
    f = catalog.latest("opi")
    assert f is not None
    aid = new_draft(ana, organization(tenant, "Org Dos Manos"), f"opi|{f.instrument.version}")
    d = f.instrument.dimensions[0]
    item = d.areas[0].items[0].key
    page_a = ana.get(f"/assessments/{aid}/edit")
    page_b = beto.get(f"/assessments/{aid}/edit?lang=en")

    def post(browser: TestClient, page: str, value: str) -> Any:
        return browser.post(
            f"/assessments/{aid}/edit?lang=en",
            data={
                "csrf_token": csrf_of(page),
                "etag": etag_of(page),
                "dimension": d.key,
                "action": "save",
                f"a.{item}": value,
            },
        )

    assert post(ana, page_a.text, "2").status_code == 303
    refused = post(beto, page_b.text, "4")
    assert refused.status_code == 409
    assert "Someone else saved this assessment while you were editing it" in refused.text
    assert re.search(rf'name="a\.{item}" value="4" checked', refused.text)  # beto's answer kept
    assert "Saved now by someone else:" in refused.text
    stored = api(tenant, "GET", f"/v1/assessments/{aid}")["answers"]
    assert [(x["item"], x["value"]) for x in stored] == [(item, 2.0)]

    again = post(beto, refused.text, "4")  # a choice made knowingly, with the current version
    assert again.status_code == 303
    stored = api(tenant, "GET", f"/v1/assessments/{aid}")["answers"]
    assert [(x["item"], x["value"]) for x in stored] == [(item, 4.0)]


def test_errors_are_shown_next_to_the_item_and_an_incomplete_submit_is_refused(
    signed_in: People, catalog: Catalog
) -> None:
    tenant = signed_in.tenant
    browser = signed_in("editor")
    f = catalog.latest("opi")
    assert f is not None
    aid = new_draft(browser, organization(tenant, "Org Errores"), f"opi|{f.instrument.version}")
    d = f.instrument.dimensions[0]
    item = d.areas[0].items[0].key
    page = browser.get(f"/assessments/{aid}/edit?lang=es")
    assert 'value="na"' not in page.text  # this scale allows no N/A: none is offered
    base = {"csrf_token": csrf_of(page.text), "etag": etag_of(page.text), "dimension": d.key}

    forged = browser.post(f"/assessments/{aid}/edit", data={**base, f"a.{item}": "9"})
    assert forged.status_code == 422
    assert f'id="err-{item}"' in forged.text
    assert "no se pueden aceptar" in forged.text and "no es un valor de la escala" in forged.text
    assert api(tenant, "GET", f"/v1/assessments/{aid}")["answers"] == []

    early = browser.post(
        f"/assessments/{aid}/edit", data={**base, f"a.{item}": "3", "action": "submit"}
    )
    assert early.status_code == 422
    assert "no está lo bastante completa" in early.text and "faltan" in early.text
    assert api(tenant, "GET", f"/v1/assessments/{aid}")["status"] == "draft"
    stored = api(tenant, "GET", f"/v1/assessments/{aid}")["answers"]
    assert [(x["item"], x["value"]) for x in stored] == [(item, 3.0)]  # the draft was saved


def test_viewers_strangers_and_forged_posts_change_nothing(
    signed_in: People, catalog: Catalog, other_tenant: Tenant
) -> None:
    tenant = signed_in.tenant
    editor = signed_in("editor")
    f = catalog.latest("opi")
    assert f is not None
    org = organization(tenant, "Org Cerrada")
    aid = new_draft(editor, org, f"opi|{f.instrument.version}")
    item = f.instrument.dimensions[0].areas[0].items[0].key
    viewer = signed_in("viewer")
    assert viewer.get(f"/assessments/{aid}/edit").status_code == 403
    assert viewer.get(f"/organizations/{org}/assessments/new").status_code == 403
    page = editor.get(f"/assessments/{aid}/edit")
    data = {"etag": etag_of(page.text), "dimension": "x", f"a.{item}": "2"}
    assert editor.post(f"/assessments/{aid}/edit", data=data).status_code == 403
    token = csrf_of(viewer.get("/").text)
    refused = viewer.post(f"/assessments/{aid}/edit", data={**data, "csrf_token": token})
    assert refused.status_code == 403
    no_token = editor.post(
        f"/organizations/{org}/assessments/new",
        data={"instrument": "opi", "round": "endline", "assessed_on": "2025-01-01"},
    )
    assert no_token.status_code in (400, 403)
    assert len(api(tenant, "GET", "/v1/assessments")["items"]) == 1
    assert api(tenant, "GET", f"/v1/assessments/{aid}")["answers"] == []

    stranger = signed_in("editor", workspace=other_tenant.name)
    assert stranger.get(f"/assessments/{aid}/edit").status_code == 404
    assert stranger.get(f"/organizations/{org}/assessments/new").status_code == 404


def test_the_new_form_says_when_the_round_is_taken_or_the_date_is_in_the_future(
    signed_in: People, catalog: Catalog
) -> None:
    browser = signed_in("editor")
    org = organization(signed_in.tenant, "Org Rondas")
    f = catalog.latest("opi")
    assert f is not None
    choice = f"opi|{f.instrument.version}"
    aid = new_draft(browser, org, choice)
    form = browser.get(f"/organizations/{org}/assessments/new?lang=en")
    base = {"csrf_token": csrf_of(form.text), "instrument": choice, "assessor": ""}
    taken = browser.post(
        f"/organizations/{org}/assessments/new?lang=en",
        data={**base, "round": "baseline", "assessed_on": "2025-01-01"},
    )
    assert taken.status_code == 409
    assert "already has an assessment of this instrument for round" in taken.text
    assert f"/assessments/{aid}/edit" in taken.text
    future = browser.post(
        f"/organizations/{org}/assessments/new?lang=es",
        data={**base, "round": "endline", "assessed_on": "2999-01-01"},
    )
    assert future.status_code == 422 and "2999" in future.text and "fecha" in future.text
    blank = browser.post(
        f"/organizations/{org}/assessments/new?lang=es",
        data={**base, "round": "   ", "assessed_on": "2025-01-01"},
    )
    assert blank.status_code == 422 and "de 1 a 64 caracteres" in blank.text
    assert len(api(signed_in.tenant, "GET", "/v1/assessments")["items"]) == 1


def test_a_nul_in_any_form_field_is_refused_and_nothing_is_written(
    signed_in: People, catalog: Catalog
) -> None:
    """NUL can't be stored in PostgreSQL text: the API refuses it in every schema, and the pages
    refuse it once for every form (it reached the database from the page forms before)."""
    browser = signed_in("editor")
    org = organization(signed_in.tenant, "Org NUL")
    f = catalog.latest("opi")
    assert f is not None
    form = browser.get(f"/organizations/{org}/assessments/new?lang=es")
    base = {
        "csrf_token": csrf_of(form.text),
        "instrument": f"opi|{f.instrument.version}",
        "assessed_on": "2025-01-01",
    }
    for field in ("round", "assessor"):
        data = {**base, "round": "baseline", "assessor": "A. Consultora", field: "base\x00line"}
        refused = browser.post(f"/organizations/{org}/assessments/new?lang=es", data=data)
        assert refused.status_code == 400 and "Solicitud no válida" in refused.text
    assert api(signed_in.tenant, "GET", "/v1/assessments")["items"] == []


def test_a_refusal_without_a_spanish_text_is_still_said_in_spanish(signed_in: People) -> None:
    """Services give their reasons in English (some with a Spanish text too); a Spanish page
    never shows the English reason alone."""
    browser = signed_in("editor")
    stale = browser.get("/organizations?cursor=not-a-cursor&lang=es")
    assert stale.status_code == 422
    assert "No se pudo completar" in stale.text and "(en inglés)" in stale.text
    english = browser.get("/organizations?cursor=not-a-cursor&lang=en")
    assert english.status_code == 422 and "(en inglés)" not in english.text
