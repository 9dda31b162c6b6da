"""The pages serve a workspace's own versions to its members, and to nobody else; editors make
drafts (adapt, upload, replace, try, delete) and admins publish them, through the API's service."""

from __future__ import annotations

import io
import uuid
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.factories import answers_for, call, create_org, get, ok
from tests.conftest import Tenant
from tests.web.conftest import People, csrf_of, form_token


def _label() -> str:
    return f"2015.2-local.{uuid.uuid4().hex[:8]}"


def _adapt(browser: TestClient, label: str) -> str:
    token = form_token(browser, "/instruments/oca/2015.2/adapt")
    r = browser.post("/instruments/oca/2015.2/adapt", data={"csrf_token": token, "label": label})
    assert r.status_code == 303, r.text[:500]
    return str(r.headers["location"])


def _edited(browser: TestClient, draft: str, edit: Any) -> bytes:
    """The draft's authoring workbook, downloaded from its page and changed by ``edit``."""
    r = browser.get(f"{draft.removesuffix('/draft')}/authoring.xlsx")
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(browser: TestClient, url: str, page: str, data: bytes) -> Any:
    token = csrf_of(browser.get(page).text)
    files = {"file": ("edited.xlsx", data, "application/octet-stream")}
    return browser.post(url, data={"csrf_token": token}, files=files)


def _heavy(book: Any) -> None:
    """A question's weight that is not a number."""
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    row = next(r for r in survey.iter_rows(min_row=2) if str(r[0].value).startswith("select_one"))
    row[header.index("weight")].value = "heavy"


def _drop_one(book: Any) -> str:
    """Remove the first area with its only question (and its crosswalk row); return its key."""
    survey = book["survey"]
    for row in survey.iter_rows(min_row=2):
        if str(row[0].value).startswith("select_one"):
            key = str(row[1].value)
            survey.delete_rows(row[0].row - 1, 3)  # begin_group, the question, end_group
            crosswalk = book["supersedes"]
            for r in crosswalk.iter_rows(min_row=2):
                if r[0].value == key:
                    crosswalk.delete_rows(r[0].row)
                    break
            return key
    raise AssertionError("no question")


def _own(tenant: Tenant, label: str) -> dict[str, Any]:
    items = get(tenant, "/v1/instruments/own")["items"]
    return next(v for v in items if v["version"] == label)


def test_adapt_replace_publish_and_assess(signed_in: People) -> None:
    tenant = signed_in.tenant
    editor, admin = signed_in("editor"), signed_in("admin")
    admin.get("/", params={"lang": "en"})
    listing = editor.get("/instruments", params={"lang": "en"}).text
    assert "Your workspace&#39;s versions" in listing
    assert 'href="/instruments/oca/2015.2/adapt"' in listing
    assert 'action="/instruments/authoring"' in listing

    taken = editor.post(
        "/instruments/oca/2015.2/adapt",
        data={"csrf_token": form_token(editor, "/instruments"), "label": "2015.2-mine"},
    )
    assert taken.status_code == 422 and "local" in taken.text  # the label rule, explained

    label = _label()
    draft = f"/instruments/oca/{label}/draft"
    assert _adapt(editor, label) == draft
    page = editor.get(draft)
    assert page.status_code == 200
    assert 'href="/instruments/oca/2015.2"' in page.text and "Items dropped: 0" in page.text
    assert f'href="/instruments/oca/{label}/authoring.xlsx"' in page.text
    assert "Publish" not in page.text  # an editor is told only admins publish
    assert f"/instruments/oca/{label}/draft" in editor.get("/instruments").text

    before = _own(tenant, label)["content_hash"]
    bad = _upload(editor, f"{draft}/authoring", draft, _edited(editor, draft, _heavy))
    assert bad.status_code == 422
    assert "<td>survey</td>" in bad.text and "heavy" in bad.text
    assert _own(tenant, label)["content_hash"] == before  # nothing stored

    dropped: list[str] = []
    good = _edited(editor, draft, lambda book: dropped.append(_drop_one(book)))
    r = _upload(editor, f"{draft}/authoring", draft, good)
    assert r.status_code == 303, r.text[:2000]
    page = editor.get(r.headers["location"]).text
    assert "Items dropped: 1" in page and f"<code>{dropped[0]}</code>" in page
    assert _own(tenant, label)["dropped_items"] == dropped

    trial = editor.get(f"{draft}/trial", params={"score": "1", "every": "3", "gls.legal.1": "1"})
    assert trial.status_code == 200 and "Overall score" in trial.text
    assert f"{len(_keys(tenant, label))} answered, 0 missing" in trial.text
    assert '<option value="1" selected>' in trial.text  # the one chosen keeps its answer

    assert editor.get(f"{draft}/publish").status_code == 403
    token = csrf_of(page)
    assert editor.post(f"{draft}/publish", data={"csrf_token": token}).status_code == 403
    assert _own(tenant, label)["status"] == "draft"

    confirm = admin.get(f"{draft}/publish")
    assert confirm.status_code == 200
    assert "immutable" in confirm.text and "instrument.published" in confirm.text
    done = admin.post(f"{draft}/publish", data={"csrf_token": csrf_of(confirm.text)})
    assert (done.status_code, done.headers["location"]) == (303, f"/instruments/oca/{label}")
    assert admin.get(done.headers["location"]).status_code == 200
    assert _own(tenant, label)["status"] == "published"
    assert "Published" in admin.get("/instruments").text
    assert admin.get(draft).status_code == 303  # a published version is no draft any more

    org = create_org(tenant)
    answers = answers_for("oca", 3, only=[k for k in _keys(tenant, label)])
    body = {
        "organization_id": org["id"],
        "instrument_id": "oca",
        "instrument_version": label,
        "round": "baseline",
        "assessed_on": "2024-01-10",
        "answers": answers,
    }
    ok(call(tenant, "POST", "/v1/assessments", json=body), 201)


def _keys(tenant: Tenant, label: str) -> list[str]:
    d = get(tenant, f"/v1/instruments/oca/versions/{label}")["definition"]
    return [i["key"] for dim in d["dimensions"] for a in dim["areas"] for i in a["items"]]


def test_a_workbook_becomes_a_draft_and_a_bad_one_changes_nothing(signed_in: People) -> None:
    editor = signed_in("editor")
    editor.get("/", params={"lang": "en"})
    label = _label()

    def relabel(book: Any) -> None:
        settings = book["settings"]
        header = [c.value for c in settings[1]]
        settings.cell(2, header.index("version") + 1, label)
        book["variants"].delete_rows(2, book["variants"].max_row)  # derive those instead

    library = "/instruments/oca/2015.2/draft"  # not a draft: only its authoring.xlsx is used
    data = _edited(editor, library, relabel)
    bad = _edited(editor, library, lambda b: (relabel(b), _heavy(b)))
    r = _upload(editor, "/instruments/authoring", "/instruments", bad)
    assert r.status_code == 422 and "heavy" in r.text and "<caption" in r.text
    assert label not in editor.get("/instruments").text
    r = _upload(editor, "/instruments/authoring", "/instruments", data)
    assert r.status_code == 303, r.text[-3000:]
    assert (r.status_code, r.headers["location"]) == (303, f"/instruments/oca/{label}/draft")

    confirm = editor.get(f"/instruments/oca/{label}/draft/delete")
    assert confirm.status_code == 200
    r = editor.post(
        f"/instruments/oca/{label}/draft/delete", data={"csrf_token": csrf_of(confirm.text)}
    )
    assert r.status_code == 303
    assert editor.get(f"/instruments/oca/{label}/draft").status_code == 404


def test_viewers_read_and_other_workspaces_see_nothing(
    signed_in: People, session: Session, other_tenant: Tenant
) -> None:
    label = _adapt(signed_in("editor"), _label()).split("/")[3]
    draft = f"/instruments/oca/{label}/draft"

    viewer = signed_in("viewer")
    page = viewer.get(draft)
    assert page.status_code == 200
    assert 'method="post" action="/instruments' not in page.text
    assert "/adapt" not in viewer.get("/instruments").text
    token = csrf_of(page.text)  # the sign-out form's
    for url in ("/draft/authoring", "/draft/delete", "/draft/publish"):
        assert (
            viewer.post(draft.removesuffix("/draft") + url, data={"csrf_token": token}).status_code
            == 403
        )
    r = viewer.post("/instruments/oca/2015.2/adapt", data={"csrf_token": token, "label": _label()})
    assert r.status_code == 403
    assert viewer.get(f"{draft}/trial").status_code == 403

    stranger = People(session, signed_in.client, other_tenant)("admin")
    assert stranger.get(draft).status_code == 404
    assert stranger.get(f"{draft}/publish").status_code == 404
    assert label not in stranger.get("/instruments").text


def test_the_draft_pages_speak_spanish(signed_in: People) -> None:
    admin = signed_in("admin")
    label = _adapt(admin, _label()).split("/")[3]
    draft = f"/instruments/oca/{label}/draft"
    page = admin.get(draft, params={"lang": "es"}).text
    assert "Borrador" in page and "Preguntas quitadas: 0" in page and "Reemplazar" in page
    assert "Versiones de su espacio de trabajo" in admin.get("/instruments").text
    confirm = admin.get(f"{draft}/publish").text
    assert "inmutable" in confirm and "instrument.published" in confirm
    r = admin.post(
        "/instruments/oca/2015.2/adapt", data={"csrf_token": csrf_of(confirm), "label": label}
    )
    assert r.status_code == 422 and "ya está en uso" in r.text  # the service's own Spanish


def test_members_see_their_own_version_and_others_do_not(
    signed_in: People, session: Session, other_tenant: Tenant
) -> None:
    tenant = signed_in.tenant
    label = _label()
    derive = "/v1/instruments/oca/versions/2015.2/derive"
    ok(call(tenant, "POST", derive, json={"version": label}), 201)
    ok(call(tenant, "POST", f"/v1/instruments/oca/versions/{label}/publish", "admin"))

    own = signed_in("viewer")
    assert f'href="/instruments/oca/{label}"' in own.get("/instruments").text
    assert own.get(f"/instruments/oca/{label}").status_code == 200
    assert own.get(f"/instruments/oca/{label}/template.xlsx").status_code == 200

    stranger = People(session, signed_in.client, other_tenant)("viewer")
    assert f'href="/instruments/oca/{label}"' not in stranger.get("/instruments").text
    assert stranger.get(f"/instruments/oca/{label}").status_code == 404
