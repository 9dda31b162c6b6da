"""Comparison reports: the page and the PDF show the API's numbers, in both languages; the
anonymized cohort report names no organization; another workspace's cohort is a 404 page.

PDF text and page counts are read from the real bytes with poppler's ``pdftotext``/``pdfinfo``
(poppler-utils, installed by scripts/ensure-test-tools), not from our own rendering code.
"""

from __future__ import annotations

import html
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.web import i18n
from app.web.pdf import Refused, static_only
from tests.api.factories import (
    add_member,
    answers_for,
    call,
    create_assessment,
    create_cohort,
    create_org,
    get,
    instrument,
    ok,
    scored,
)
from tests.web.conftest import People


def _base(i: int) -> Any:
    return lambda key, n: 1 + (n + i) % 3


def _end(i: int) -> Any:
    return lambda key, n: min(4, 2 + (n * (i + 1)) % 3)


@pytest.fixture()
def data(signed_in: People) -> dict[str, Any]:
    """A cohort of four: three with baseline and endline, one with a baseline only."""
    tenant = signed_in.tenant
    tag = uuid.uuid4().hex[:6]
    cohort = create_cohort(tenant, name=f"Donantes {tag}")
    orgs, baselines = [], []
    for i in range(4):
        org = create_org(tenant, name=f"Fundación Ñandú {i} {tag}")
        add_member(tenant, cohort["id"], org["id"])
        orgs.append(org)
        baselines.append(
            scored(tenant, org["id"], "oca", "baseline", _base(i), assessed_on="2024-01-10")
        )
        if i < 3:
            answers = answers_for("oca", _end(i))
            answers[0]["note"] = f"Nota de evidencia {i}"
            scored(tenant, org["id"], "oca", "endline", answers=answers, assessed_on="2025-01-10")
    return {"cohort": cohort, "orgs": orgs, "baselines": baselines, "tenant": tenant}


def _rows(page: str, level: str) -> list[list[str]]:
    """The cells (text) of the table rows of one level: overall, dim, area."""
    out = []
    for body in re.findall(rf'<tr class="level-{level}">(.*?)</tr>', page, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", body, re.S)
        out.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return out


def _n(value: float | None, signed: bool = False) -> str:
    return i18n.number(value, 2, signed=signed) if value is not None else "—"


def _outcome(lang: i18n.Lang, outcome: str | None) -> str:
    return i18n.translate(lang, f"report.outcome.{outcome or 'none'}")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_organization_report_shows_the_api_numbers(
    signed_in: People, data: dict[str, Any], lang: i18n.Lang
) -> None:
    org = data["orgs"][1]
    api = get(
        data["tenant"],
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "oca", "baseline": "baseline", "endline": "endline"},
    )
    browser = signed_in("viewer")
    page = browser.get(f"/organizations/{org['id']}/report?lang={lang}")
    assert page.status_code == 200, page.text[:500]
    text = page.text
    expected = {
        "overall": [api["overall"]],
        "dim": api["dimensions"],
        "area": [a for d in api["dimensions"] for a in d["areas"]],
    }
    for level, deltas in expected.items():
        shown = _rows(text, level)
        assert len(shown) == len(deltas), level
        for cells, d in zip(shown, deltas, strict=True):
            assert cells[0] == d["title"][lang]
            assert cells[1:4] == [_n(d["baseline"]), _n(d["endline"]), _n(d["delta"], True)]
            assert cells[5] == _outcome(lang, d["outcome"])
    # the rule in the API's own words, and the note written at endline
    assert html.escape(api["improvement_rule"][lang].split(".")[0], quote=True) in text
    assert "Nota de evidencia 1" in text
    assert i18n.translate(lang, "report.rules") in text


def test_cohort_report_shows_the_api_numbers(signed_in: People, data: dict[str, Any]) -> None:
    cohort, orgs = data["cohort"], data["orgs"]
    api = get(
        data["tenant"],
        f"/v1/cohorts/{cohort['id']}/comparison",
        params={"instrument_id": "oca", "baseline": "baseline", "endline": "endline"},
    )
    text = signed_in("viewer").get(f"/cohorts/{cohort['id']}/report?lang=es").text
    overall = api["keys"][0]
    assert overall["key"] == "overall" and len(overall["paired"]) == 3
    facts = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", text)
    assert ("Organizaciones con ambas rondas", "3") in facts
    assert ("Promedio general en «baseline»", _n(overall["paired_baseline"]["mean"])) in facts
    assert ("Promedio general en «endline»", _n(overall["paired_endline"]["mean"])) in facts
    share = overall["outcomes"]["share_improved"] * 100
    assert ("Proporción que mejoró", f"{i18n.number(share, 0)} %") in facts
    # each organization's overall at both rounds, as the API gives it
    for o in api["organizations"]:
        if o["baseline"] and o["endline"]:
            b, e = o["baseline"]["scores"]["overall"], o["endline"]["scores"]["overall"]
            row = re.search(
                rf">{re.escape(o['name'])}</a></th>\s*<td class=\"num\">(.*?)</td>"
                r"<td class=\"num\">(.*?)</td>",
                text,
            )
            assert row is not None, o["name"]
            assert row.groups() == (_n(b), _n(e))
    # the dimension table: the paired means and how many improved
    line = _rows(text, "overall")[0]
    assert line[1:5] == [
        "3",
        _n(overall["paired_baseline"]["mean"]),
        _n(overall["paired_endline"]["mean"]),
        _n(overall["mean_delta"], True),
    ]
    assert line[5].startswith(str(len(overall["outcomes"]["improved"])))
    # the one with a baseline only is left out, with the reason
    assert orgs[3]["name"] in text.split("Organizaciones fuera de la comparación")[1]
    assert "Tiene «baseline» pero no «endline»." in text


def _pdf_text(content: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def _pages(content: bytes, tmp_path: Path) -> int:
    path = tmp_path / "r.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    found = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert found
    return int(found.group(1))


@pytest.mark.parametrize(
    ("lang", "words"), [("es", ("Página 2 de", "Reglas usadas")), ("en", ("Page 2 of", "Rules"))]
)
def test_organization_pdf(
    signed_in: People, data: dict[str, Any], tmp_path: Path, lang: str, words: tuple[str, str]
) -> None:
    org = data["orgs"][0]
    answer = signed_in("viewer").get(f"/organizations/{org['id']}/report.pdf?lang={lang}")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    assert answer.content.startswith(b"%PDF-")
    text = _pdf_text(answer.content)
    assert org["name"] in text
    assert "baseline" in text and "endline" in text
    for word in words:
        assert word in text
    assert _pages(answer.content, tmp_path) > 1


def test_cohort_pdf_has_contents_and_pages(
    signed_in: People, data: dict[str, Any], tmp_path: Path
) -> None:
    cohort = data["cohort"]
    browser = signed_in("viewer")
    answer = browser.get(f"/cohorts/{cohort['id']}/report.pdf?lang=es")
    assert answer.status_code == 200
    text = _pdf_text(answer.content)
    assert cohort["name"] in text and "Contenido" in text
    # the table of contents gives each section's page number (target-counter)
    assert re.search(r"Reglas usadas[ .]*\d+", text)
    assert _pages(answer.content, tmp_path) > 2
    assert "Cohort report" in _pdf_text(
        browser.get(f"/cohorts/{cohort['id']}/report.pdf?lang=en").content
    )


def test_anonymized_cohort_report_names_no_organization(
    signed_in: People, data: dict[str, Any]
) -> None:
    cohort, orgs = data["cohort"], data["orgs"]
    browser = signed_in("viewer")
    url = f"/cohorts/{cohort['id']}/report?anonymized=1&lang=en"
    page = browser.get(url).text
    pdf = _pdf_text(browser.get(url.replace("/report?", "/report.pdf?")).content)
    for shown in (page, pdf):
        assert "ORG-01" in shown and "ORG-04" in shown
        for org in orgs:
            assert org["name"] not in shown
            assert "Ñandú" not in shown
            assert org["id"] not in shown
    # the named form does name them (the test can fail)
    assert orgs[0]["name"] in browser.get(url.replace("anonymized=1&", "")).text


def _plan(tenant: Any, assessment_id: str, areas: list[str], done: bool) -> None:
    priorities = [
        {"area": area, "actions": [{"what": f"Acción para {area}", "due_on": "2024-06-01"}]}
        for area in areas
    ]
    made = call(
        tenant, "POST", f"/v1/assessments/{assessment_id}/plan", json={"priorities": priorities}
    )
    tag, plan = made.headers["ETag"], ok(made, 201)
    if done:
        action = plan["priorities"][0]["actions"][0]
        ok(
            call(
                tenant,
                "PATCH",
                f"/v1/assessments/{assessment_id}/plan/actions/{action['id']}",
                json={"status": "done"},
                headers={"If-Match": tag},
            )
        )


@pytest.mark.parametrize("lang", ["es", "en"])
def test_reports_close_the_first_rounds_plans_against_the_second(
    signed_in: People, data: dict[str, Any], tmp_path: Path, lang: i18n.Lang
) -> None:
    tenant, orgs, base = data["tenant"], data["orgs"], data["baselines"]
    _plan(tenant, base[0]["id"], ["fmi.audit", "gls.board"], done=True)
    _plan(tenant, base[1]["id"], ["fmi.audit"], done=False)
    browser = signed_in("viewer")
    heading = i18n.translate(lang, "report.plan.heading")

    # the organization report shows the API's outcome of the plan, area by area
    outcome = get(tenant, f"/v1/assessments/{base[0]['id']}/plan/outcome")
    page = browser.get(f"/organizations/{orgs[0]['id']}/report?lang={lang}").text
    section = page[page.index('id="plan"') : page.index('id="items"')]
    assert heading in html.unescape(section)
    for area in outcome["areas"]:
        cells = re.search(
            rf"<tr><th scope=\"row\">{re.escape(html.escape(area['title'][lang]))}</th>(.*?)</tr>",
            section,
            re.S,
        )
        assert cells, area["area"]
        text = html.unescape(re.sub(r"<[^>]+>", " ", cells.group(1)))
        assert _n(area["delta"], signed=True) in text
        assert i18n.translate(lang, f"plan.outcome.{area['outcome']}") in text
    done = [
        re.sub(r"<[^>]+>", "", row).split()[-3:]
        for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", section, re.S)
    ]
    of = i18n.translate(lang, "report.plan.done_short").split()[1]
    assert done == [["1", of, "1"], ["0", of, "1"]]  # the first area's action was done
    # an organization without a plan has no such section
    other = browser.get(f"/organizations/{orgs[2]['id']}/report?lang={lang}").text
    assert 'id="plan"' not in other

    # the cohort report tallies both plans: fmi.audit chosen by two organizations
    cohort = browser.get(f"/cohorts/{data['cohort']['id']}/report?lang={lang}").text
    plans = html.unescape(cohort[cohort.index('id="plans"') : cohort.index('id="left-out"')])
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
            for r in re.findall(r"<tr>(.*?)</tr>", plans, re.S)[1:]
        )
    }
    audit = next(a for a in outcome["areas"] if a["area"] == "fmi.audit")["title"][lang]
    assert rows[audit][0] == "2"
    assert rows[audit][-1] == i18n.translate(lang, "report.plan.done_short").format(done=1, total=2)
    assert sum(int(v[0]) for v in rows.values()) == 3  # three priorities in all
    pdf = _pdf_text(browser.get(f"/cohorts/{data['cohort']['id']}/report.pdf?lang={lang}").content)
    toc = pdf[
        : pdf.index(
            i18n.translate(lang, "report.rules"), pdf.index(i18n.translate(lang, "report.toc"))
        )
        + 40
    ]
    assert i18n.translate(lang, "report.cohort.plans") in toc


def _page_sizes(content: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "sized.pdf"
    path.write_bytes(content)
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(path)], capture_output=True, check=True, text=True
    ).stdout
    return re.findall(r"^Page\s+\d+ size:\s+(.+?) pts", info, re.M)


@pytest.mark.parametrize(("paper", "size"), [("a4", "595.276 x 841.89"), ("letter", "612 x 792")])
def test_reports_print_on_a4_or_letter(
    signed_in: People, data: dict[str, Any], tmp_path: Path, paper: str, size: str
) -> None:
    browser = signed_in("viewer")
    org, cohort = data["orgs"][0], data["cohort"]
    page = browser.get(f"/organizations/{org['id']}/report?lang=es&paper={paper}").text
    assert f'<option value="{paper}" selected>' in page
    assert f"&amp;paper={paper}&amp;lang=es" in page
    for url in (
        f"/organizations/{org['id']}/report.pdf?paper={paper}",
        f"/cohorts/{cohort['id']}/report.pdf?paper={paper}&lang=en",
    ):
        content = browser.get(url).content
        sizes = _page_sizes(content, tmp_path)
        assert len(sizes) > 1 and set(sizes) == {size}, (url, sizes)
        # the cover fills exactly its own page: no page is left blank by an overflowing cover
        pages = _pdf_text(content).split("\f")
        assert all(text.strip() for text in pages[: len(sizes)]), url
    assert browser.get(f"/organizations/{org['id']}/report.pdf?paper=legal").status_code == 400


def test_cohort_pages(signed_in: People, data: dict[str, Any]) -> None:
    cohort = data["cohort"]
    browser = signed_in("viewer")
    listing = browser.get("/cohorts?lang=en").text
    assert cohort["name"] in listing
    assert re.search(rf"{re.escape(cohort['name'])}</a></th><td class=\"num\">4<", listing)
    one = browser.get(f"/cohorts/{cohort['id']}?lang=es").text
    assert all(o["name"] in one for o in data["orgs"])
    assert "instrument=oca&amp;from=baseline&amp;to=endline" in one
    assert "4 organizaciones" in one  # members with a baseline


def test_another_workspace_is_a_404_page(
    signed_in: People, data: dict[str, Any], other_tenant: Any
) -> None:
    theirs = create_cohort(other_tenant, name="Ajena")
    org = create_org(other_tenant, name="Organización ajena")
    add_member(other_tenant, theirs["id"], org["id"])
    browser = signed_in("viewer")
    for path in (
        f"/cohorts/{theirs['id']}",
        f"/cohorts/{theirs['id']}/report",
        f"/cohorts/{theirs['id']}/report.pdf",
        f"/organizations/{org['id']}/report",
        f"/organizations/{org['id']}/report.pdf",
    ):
        answer = browser.get(path)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]
        assert "Ajena" not in answer.text and "ajena" not in answer.text


def test_nothing_to_compare_says_so(signed_in: People, data: dict[str, Any]) -> None:
    org = data["orgs"][3]  # a baseline only
    browser = signed_in("viewer")
    page = browser.get(f"/organizations/{org['id']}/report?lang=en")
    assert page.status_code == 200
    assert i18n.translate("en", "report.nothing") in page.text
    assert browser.get(f"/organizations/{org['id']}/report.pdf").status_code == 422


def test_signed_out_goes_to_sign_in(signed_in: People, data: dict[str, Any]) -> None:
    answer = signed_in.browser().get(f"/cohorts/{data['cohort']['id']}/report.pdf")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=")


def test_pdf_fetches_only_static_files() -> None:
    assert static_only((Path("app/web/static/report.css").resolve()).as_uri())["string"]
    for url in (
        "http://example.org/x.css",
        "https://127.0.0.1/",
        "file:///etc/passwd",
        (Path("app/web/static").resolve() / ".." / "kit.py").as_uri(),
        "data:text/css,body{}",
    ):
        with pytest.raises(Refused):
            static_only(url)


def test_organization_report_shows_peer_standing_and_the_raters_disagreement(
    signed_in: People,
) -> None:
    """The report adds where the second round stands among the workspace's peers (the API's
    benchmark) and, for the facilitator's roles only, the items the raters disagreed on."""
    tenant = signed_in.tenant
    round_b = f"endline {uuid.uuid4().hex[:6]}"
    for i in range(5):
        peer = create_org(tenant, name=f"Peer {uuid.uuid4().hex[:6]}")
        scored(tenant, peer["id"], "oca", round_b, _end(i))
    org = create_org(tenant, name=f"Ñandú rated {uuid.uuid4().hex[:6]}")
    scored(tenant, org["id"], "oca", "baseline", _base(0))
    keys = list(answers_for("oca", 3))
    b = create_assessment(tenant, org["id"], "oca", round_b, 3, assessed_on="2025-01-10")
    item = keys[0]["item"]
    for code, value in (("R01", 1), ("R02", 2), ("R03", 4), ("R04", 2)):
        body = {"answers": [{"item": item, "value": value}]}
        ok(call(tenant, "PUT", f"/v1/assessments/{b['id']}/ratings/{code}", json=body))
    ok(call(tenant, "POST", f"/v1/assessments/{b['id']}/submit"))
    bench = get(tenant, f"/v1/assessments/{b['id']}/benchmark")
    assert bench["state"] == "shown"
    item_title = next(
        i.text.en for d in instrument("oca").dimensions for a in d.areas for i in a.items
        if i.key == item
    )  # fmt: skip
    url = f"/organizations/{org['id']}/report?instrument=oca&from=baseline&to={round_b}&lang=en"

    editor = signed_in("editor").get(url)
    assert editor.status_code == 200, editor.text[:300]
    peers = re.search(r'id="peers".*?</section>', editor.text, re.S)
    assert peers, "a peer section"
    overall = re.search(r"Overall score</th>(.*?)</tr>", peers.group(0), re.S)
    assert overall and f"<strong>{i18n.number(bench['overall']['percentile'], 0)}</strong>" in (
        overall.group(1)
    )
    raters = re.search(r'id="raters-1".*?</section>', editor.text, re.S)
    assert raters and f"Where the raters disagreed at &#39;{round_b}&#39;" in raters.group(0)
    assert "4 raters rated on their own; 1 items" in raters.group(0)
    assert html.escape(item_title, quote=True) in raters.group(0)

    viewer = signed_in("viewer").get(url)
    assert viewer.status_code == 200 and 'id="peers"' in viewer.text
    assert 'id="raters-' not in viewer.text and "R01" not in viewer.text


@pytest.mark.parametrize("lang", ["es", "en"])
def test_organization_report_shows_the_verification_gap(signed_in: People, lang: str) -> None:
    """A round with verified items gets a section of the self-assessed score, the verified one
    and the gap, overall and per dimension, as ``GET …/verification`` gives them."""
    tenant = signed_in.tenant
    org = create_org(tenant, name=f"Verificada {uuid.uuid4().hex[:6]}")
    scored(tenant, org["id"], "oca", "baseline", _base(1))
    b = scored(tenant, org["id"], "oca", "endline", 4, assessed_on="2025-01-10")
    keys = [a["item"] for a in answers_for("oca", 4)[:3]]
    body = {"answers": [{"item": k, "value": 2, "note": "acta revisada"} for k in keys]}
    ok(call(tenant, "PATCH", f"/v1/assessments/{b['id']}/verification", json=body))
    api = get(tenant, f"/v1/assessments/{b['id']}/verification")["scores"]
    assert api["overall"]["gap"] > 0

    page = signed_in("viewer").get(f"/organizations/{org['id']}/report?instrument=oca&lang={lang}")
    assert page.status_code == 200
    section = re.search(r'id="verified-1".*?</section>', page.text, re.S)
    assert section, "a verification section"
    rows = [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
        for cells in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", section.group(0), re.S)
        )
    ]
    overall = rows[1]  # the first row after the header
    pair = api["overall"]
    assert overall[1:] == [_n(pair["self"]), _n(pair["verified"]), _n(pair["gap"], True)]
    dims = {r[0]: r[1:] for r in rows[2:]}
    for d in api["dimensions"]:
        assert [
            _n(d["self"]),
            _n(d["verified"]),
            _n(d["gap"], True) if d["gap"] is not None else "—",
        ] in dims.values()
    assert "3" in section.group(0) and ("acta" not in section.group(0))  # counts, never the notes
