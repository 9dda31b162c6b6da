"""Field submissions: ODK Central and KoboToolbox data exports of our XLSForm become assessments.

The fixtures follow the tools' own layouts: ODK Central's CSV (``SubmissionDate`` first, groups
joined with ``-``, ``meta-instanceID``, then ``KEY``, ``SubmitterID``… ``FormVersion``; see
central-backend's export tests) and Kobo's (``;``-separated CSV or XLSX, groups joined with ``/``,
then ``_id``, ``_uuid``, ``_submission_time``…). Column paths are walked from the form itself,
as the tools walk it, and one literal header per tool pins the convention.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
from fastapi.testclient import TestClient

from app.catalog import Catalog, InstrumentFile
from app.excel.xlsform import xlsform_rows
from tests.conftest import Tenant

CENTRAL_TAIL = [
    "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected",
    "Status", "ReviewState", "DeviceID", "Edits", "FormVersion",
]  # fmt: skip
KOBO_TAIL = [
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
    "_submitted_by", "__version__", "_tags", "_index",
]  # fmt: skip


def _paths(f: InstrumentFile) -> list[tuple[tuple[str, ...], str]]:
    """(group path, name) of every data field of the form, in form order (as exports list them)."""
    survey = xlsform_rows(f.instrument, f.content_hash)[0]
    groups: list[str] = []
    out: list[tuple[tuple[str, ...], str]] = []
    for row in survey[1:]:
        kind, name = str(row[0]), str(row[1])
        if kind == "begin_group":
            groups.append(name)
        elif kind == "end_group":
            groups.pop()
        else:
            out.append((tuple(groups), name))
    return out


def _values(f: InstrumentFile, org: str, answer: Any, hidden: bool = True) -> dict[str, Any]:
    ins = f.instrument
    values: dict[str, Any] = {
        "organization_name": org,
        "round": "baseline",
        "assessment_date": "2025-03-14",
    }
    if hidden:
        values |= {
            "oca_instrument": ins.id,
            "oca_version": ins.version,
            "oca_content_hash": f.content_hash,
        }
    for key in ins.item_keys:
        values[key] = answer(key) if callable(answer) else answer
        values[key + "_note"] = f"evidence for {key}"
    return values


def central_csv(f: InstrumentFile, submissions: list[tuple[str, dict[str, Any]]]) -> bytes:
    paths = _paths(f)
    header = ["SubmissionDate", *("-".join((*g, n)) for g, n in paths)]
    header += ["meta-instanceID", "meta-instanceName", *CENTRAL_TAIL]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for instance_id, values in submissions:
        row = ["2025-03-15T10:11:12.000Z", *(values.get(n, "") for _, n in paths)]
        row += [instance_id, "x", instance_id, "5", "Alice", "0", "0", "", "", "", "0", "v1"]
        writer.writerow(row)
    return out.getvalue().encode()


def kobo_rows(
    f: InstrumentFile, submissions: list[tuple[str, dict[str, Any]]], group_names: bool = True
) -> list[list[Any]]:
    paths = _paths(f)
    header = ["start", "end", *("/".join((*g, n)) if group_names else n for g, n in paths)]
    rows: list[list[Any]] = [[*header, *KOBO_TAIL]]
    for index, (uuid, values) in enumerate(submissions, start=1):
        row = ["2025-03-14T09:00:00.000-05:00", "2025-03-14T11:00:00.000-05:00"]
        row += [values.get(n, "") for _, n in paths]
        row += [str(100 + index), uuid, "2025-03-15T10:11:12", "", "", "submitted_via_web"]
        row += ["", "vXyz", "", str(index)]
        rows.append(row)
    return rows


def kobo_csv(f: InstrumentFile, submissions: list[tuple[str, dict[str, Any]]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL).writerows(kobo_rows(f, submissions))
    return out.getvalue().encode("utf-8-sig")


def kobo_xlsx(f: InstrumentFile, rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f.instrument.title.en[:31]
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post(tenant: Tenant, name: str, data: bytes, query: str = "") -> Any:
    return tenant.client.post(
        f"/v1/imports/submissions{query}",
        files={"file": (name, data, "application/octet-stream")},
        headers=tenant.headers(),
    )


def assessments(tenant: Tenant) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = tenant.client.get(
        "/v1/assessments", headers=tenant.headers()
    ).json()["items"]
    return items


def _opi(catalog: Catalog) -> InstrumentFile:
    f = catalog.get("opi", "2015.2")
    assert f is not None
    return f


def test_central_export_imports_each_submission_on_its_own(
    catalog: Catalog, tenant: Tenant
) -> None:
    f = _opi(catalog)
    keys = sorted(f.instrument.item_keys)
    bad_key = keys[3]
    good = _values(f, "Asociación Río Claro", 3)
    bad = _values(f, "Fundación Sol", lambda k: "7" if k == bad_key else "2")
    data = central_csv(f, [("uuid:aaaa-1", good), ("uuid:bbbb-2", bad)])
    header = next(csv.reader(io.StringIO(data.decode())))
    assert "about-organization_name" in header and "meta-instanceID" in header

    dry = post(tenant, "opi.csv", data, "?create_organizations=true&dry_run=true")
    assert dry.status_code == 200, dry.text
    assert [r["status"] for r in dry.json()["results"]] == ["created", "rejected"]
    assert assessments(tenant) == []

    r = post(tenant, "opi.csv", data, "?create_organizations=true")
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "created" and first["scored"] and first["overall"] == 3
    assert second["status"] == "rejected" and second["assessment_id"] is None
    [error] = second["errors"]
    column = header.index(next(h for h in header if h.endswith("-" + bad_key)))
    assert error["item"] == bad_key and error["code"] == "not_on_scale"
    assert error["cell"] == f"{openpyxl.utils.get_column_letter(column + 1)}3"
    assert error["sheet"] == "opi.csv"
    [made] = assessments(tenant)
    assert made["round"] == "baseline" and made["assessed_on"] == "2025-03-14"
    detail = tenant.client.get(f"/v1/assessments/{made['id']}", headers=tenant.headers()).json()
    assert detail["source"] == "xlsform"

    again = post(tenant, "opi.csv", data, "?create_organizations=true")
    assert [x["status"] for x in again.json()["results"]] == ["unchanged", "rejected"]
    assert len(assessments(tenant)) == 1


def test_kobo_export_of_the_same_submission_is_unchanged(catalog: Catalog, tenant: Tenant) -> None:
    f = _opi(catalog)
    values = _values(f, "Red Andina", 4)
    central = post(
        tenant, "c.csv", central_csv(f, [("uuid:cafe-01", values)]), "?create_organizations=true"
    )
    assert central.json()["results"][0]["status"] == "created"
    kobo = post(tenant, "k.csv", kobo_csv(f, [("cafe-01", values)]))
    assert kobo.status_code == 200, kobo.text
    assert kobo.json()["results"][0]["status"] == "unchanged"


def test_kobo_xlsx_with_labels_and_bare_names(catalog: Catalog, tenant: Tenant) -> None:
    f = catalog.get("csa-sustainability", "2020.1")
    assert f is not None
    keys = sorted(f.instrument.item_keys)
    scale = next(iter(f.instrument.scales.values()))
    two = scale.by_value(2)
    assert two is not None
    # Kobo "with labels": the choice labels of the form, N/A included
    labels = {k: "Not applicable (N/A)" if k == keys[0] else f"2 — {two.label.en}" for k in keys}
    rows = kobo_rows(f, [("dead-beef", _values(f, "Colectivo Verde", labels.get))], False)
    r = post(tenant, "kobo.xlsx", kobo_xlsx(f, rows), "?create_organizations=true")
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["status"] == "created" and result["overall"] == 2
    answers = tenant.client.get(
        f"/v1/assessments/{result['assessment_id']}", headers=tenant.headers()
    ).json()["answers"]
    by_item = {a["item"]: a for a in answers}
    assert by_item[keys[0]]["value"] == "na"
    assert by_item[keys[1]]["note"] == f"evidence for {keys[1]}"


def test_problems_name_their_cells_and_write_nothing(catalog: Catalog, tenant: Tenant) -> None:
    f = _opi(catalog)
    values = _values(f, "Nadie Conocido", 2)
    values["assessment_date"] = "14/03/2025"
    values["round"] = ""
    data = central_csv(f, [("uuid:1", values)])
    header = next(csv.reader(io.StringIO(data.decode())))
    r = post(tenant, "c.csv", data)
    assert r.status_code == 422
    errors = {e["code"]: e["cell"] for e in r.json()["errors"]}
    letter = openpyxl.utils.get_column_letter
    assert errors["invalid_date"] == f"{letter(header.index('about-assessment_date') + 1)}2"
    assert errors["missing_cover_value"] == f"{letter(header.index('about-round') + 1)}2"
    values = _values(f, "Nadie Conocido", 2)
    r = post(tenant, "c.csv", central_csv(f, [("uuid:1", values)]))
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["code"] == "unknown_organization"
    assert error["cell"] == f"{letter(header.index('about-organization_name') + 1)}2"
    assert assessments(tenant) == []


def test_a_file_that_is_not_such_an_export_is_refused(client: TestClient, tenant: Tenant) -> None:
    r = post(tenant, "x.csv", b"name,age\nAna,3\n")
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "not_a_template"
    viewer = client.post(
        "/v1/imports/submissions",
        files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")},
        headers=tenant.headers("viewer"),
    )
    assert viewer.status_code == 403
