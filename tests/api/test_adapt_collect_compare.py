"""Issue 11 from end to end, as a program would live it: a workspace adapts the OCA in Excel
(the authoring workbook of a draft derived from the library's 2015.2, one item reworded for its
context), publishes it, exports it as an XLSForm that the reference converter accepts, collects
the endline in the field (a KoboToolbox CSV export of that form), imports it, and compares it
with a baseline taken on the library version; a partner's receiver gets every step as a signed
event."""

from __future__ import annotations

import io
import uuid
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from pyxform.xls2xform import convert
from sqlalchemy.orm import Session, sessionmaker

from app.catalog import Catalog
from app.config import Settings
from app.services.common import now
from app.services.webhooks_delivery import http_client
from tests.api.factories import call, create_org, get, ok, scored
from tests.api.test_own_instruments import _derive, _label, _own_catalog, _publish
from tests.api.test_submissions import kobo_csv, post
from tests.api.test_webhooks import ALL, subscribe
from tests.api.test_webhooks_delivery import drain
from tests.api.webhooks_receiver import (  # noqa: F401 - fixtures
    Receiver,
    receiver_fixture,
    sessions_fixture,
    verify,
    wh_client_fixture,
    wh_settings_fixture,
)
from tests.conftest import Tenant

REWORDED = "The organization's founding documents are registered with the state authority"


def _reword_in_excel(workbook: bytes) -> tuple[bytes, str]:
    """What an author does in Excel: the first question's English label rewritten."""
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    kind, name, label = (header.index(h) for h in ("type", "name", "label::English (en)"))
    row = next(r for r in survey.iter_rows(min_row=2) if str(r[kind].value).startswith("select_"))
    row[label].value = REWORDED
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), str(row[name].value)


def test_adapt_in_excel_publish_collect_in_the_field_and_compare(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
    catalog: Catalog,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url, [*ALL, "instrument.published"])
    version = _label()
    _derive(tenant, version)
    base = f"/v1/instruments/oca/versions/{version}"

    # adapted in Excel, uploaded again, published
    edited, item = _reword_in_excel(call(tenant, "GET", f"{base}/authoring.xlsx").content)
    files = {"file": ("oca-local.xlsx", edited, "application/octet-stream")}
    ok(call(tenant, "PUT", f"{base}/authoring", files=files))
    _publish(tenant, version)
    published = get(tenant, base)
    texts = {
        i["key"]: i["text"]["en"]
        for d in published["definition"]["dimensions"]
        for a in d["areas"]
        for i in a["items"]
    }
    assert texts[item] == REWORDED and published["status"] == "published"

    # the form for the field tool, and the field team's export of its submissions
    form = call(tenant, "GET", f"{base}/xlsform.xlsx")
    warnings: list[str] = []
    xform = convert(form.content, warnings=warnings, file_type=".xlsx").xform
    assert warnings == [] and REWORDED in xform
    f = next(x for x in _own_catalog(tenant, catalog) if x.instrument.version == version)
    org = create_org(tenant, name=f"Asociación Campo {uuid.uuid4().hex[:6]}")
    baseline = scored(tenant, org["id"], "oca", "baseline", 2, assessed_on="2024-02-01")
    values: dict[str, Any] = {
        "organization_name": org["name"],
        "round": "endline",
        "assessment_date": "2025-02-01",
        "oca_instrument": "oca",
        "oca_version": version,
        "oca_content_hash": f.content_hash,
    }
    values |= {k: 3 for k in f.instrument.item_keys}
    imported = post(tenant, "kobo.csv", kobo_csv(f, [("uuid-endline", values)]))
    assert imported.status_code == 200, imported.text

    # one series and one comparison across the library and the adapted version
    series = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "oca"})
    assert [p["instrument_version"] for p in series["points"]] == [
        baseline["instrument_version"],
        version,
    ]
    c = get(
        tenant,
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "oca", "baseline": "baseline", "endline": "endline"},
    )
    assert c["cross_version"] is True and c["excluded_items"] == []
    assert c["comparable_items"] == len(f.instrument.item_keys)
    assert c["overall"]["delta"] > 0

    # the partner's receiver: each step, signed
    with http_client(wh_settings) as client:
        drain(sessions, wh_settings, client, now())
    events = receiver.events()
    assert events.count("instrument.published") == 1 and "import.completed" in events
    assert events.count("assessment.submitted") >= 1
    for got in receiver.received:
        assert verify(hook["secret"], got.headers, got.body)
    published_event = next(r.json for r in receiver.received if r.json["type"].startswith("instr"))
    assert published_event["data"]["version"] == version
