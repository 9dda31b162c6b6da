"""A workbook's cover finds its organization by the stored name key (case and spacing folded),
by index instead of reading every name; and an import reads the next workbooks in the parser
pool while one is written, with the results of reading and writing each in turn."""

from __future__ import annotations

import threading
import uuid
from datetime import date

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Assessment, Organization
from app.excel import Limits, Prefill, ProblemCode, build_template
from app.excel.problems import Problem
from app.services import imports
from app.services.imports import Upload
from tests.api.factories import call, create_org, ok
from tests.conftest import Tenant


def workbook(catalog: Catalog, org: str, value: float = 3.0) -> bytes:
    f = catalog.latest("oca")
    assert f is not None
    answers = {k: value for k in f.instrument.item_keys}
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
    return build_template(f.instrument, f.content_hash, "en", pre)


def import_one(tenant: Tenant, data: bytes) -> dict[str, object]:
    r = tenant.client.post(
        "/v1/imports?create_organizations=true",
        files=[("files", ("a.xlsx", data, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    assert r.status_code in (200, 422), r.text  # 422: no workbook could be imported
    (result,) = r.json()["results"]
    return dict(result)


def test_the_name_key_follows_the_name(tenant: Tenant, engine: Engine) -> None:
    org = create_org(tenant, name="  ÑANDÚ   Verde ")
    url = f"/v1/organizations/{org['id']}"
    with engine.connect() as conn:
        key = conn.execute(
            select(Organization.name_key).where(Organization.id == uuid.UUID(org["id"]))
        ).scalar_one()
    assert key == "ñandú verde"
    etag = call(tenant, "GET", url).headers["ETag"]
    ok(call(tenant, "PATCH", url, json={"name": "Río Claro"}, headers={"If-Match": etag}))
    with engine.connect() as conn:
        key = conn.execute(
            select(Organization.name_key).where(Organization.id == uuid.UUID(org["id"]))
        ).scalar_one()
    assert key == "río claro"


def test_a_cover_finds_its_organization_with_case_and_spacing_folded(
    tenant: Tenant, catalog: Catalog
) -> None:
    org = create_org(tenant, name="Ñandú Verde")
    result = import_one(tenant, workbook(catalog, "  ñANDÚ    verde"))
    assert (result["status"], result["organization_id"]) == ("created", org["id"])
    assert result["organization_created"] is False


def test_a_renamed_organization_is_found_by_its_new_name_only(
    tenant: Tenant, catalog: Catalog
) -> None:
    org = create_org(tenant, name="Old Name")
    url = f"/v1/organizations/{org['id']}"
    etag = call(tenant, "GET", url).headers["ETag"]
    ok(call(tenant, "PATCH", url, json={"name": "New Name"}, headers={"If-Match": etag}))
    found = import_one(tenant, workbook(catalog, "new name"))
    assert found["organization_id"] == org["id"]
    other = import_one(tenant, workbook(catalog, "Old Name", 2.0))
    assert other["organization_created"] is True
    assert other["organization_id"] != org["id"]


def test_an_organization_written_without_a_name_key_is_still_found(
    tenant: Tenant, catalog: Catalog, engine: Engine
) -> None:
    """A row written by SQL outside the application has no key: it is compared all the same."""
    org = create_org(tenant, name="Keyless Org")
    with engine.begin() as conn:
        conn.execute(
            update(Organization)
            .where(Organization.id == uuid.UUID(org["id"]))
            .values(name_key=None)
        )
    result = import_one(tenant, workbook(catalog, "KEYLESS org"))
    assert (result["organization_id"], result["organization_created"]) == (org["id"], False)


def test_two_organizations_of_one_name_are_still_ambiguous(
    tenant: Tenant, catalog: Catalog, engine: Engine
) -> None:
    create_org(tenant, name="Twin")
    twin = create_org(tenant, name="TWIN ")
    with engine.begin() as conn:  # one of them keyless: both are still found
        conn.execute(
            update(Organization)
            .where(Organization.id == uuid.UUID(twin["id"]))
            .values(name_key=None)
        )
    result = import_one(tenant, workbook(catalog, "twin"))
    assert result["status"] == "rejected"
    assert [e["code"] for e in result["errors"]] == ["ambiguous_organization"]  # type: ignore[attr-defined]


def uploads(catalog: Catalog, tag: str) -> list[Upload]:
    a = workbook(catalog, f"{tag} A")  # the same bytes twice: the second is "unchanged"
    return [
        Upload("a.xlsx", a),
        Upload("broken.xlsx", b"PK\x03\x04 not a workbook"),
        Upload("b.xlsx", workbook(catalog, f"{tag} B", 2.0)),
        Upload("unpacked.xlsx", b"", Problem(ProblemCode.not_accepted, "unsafe", "inseguro")),
        Upload("a-again.xlsx", a),
        Upload("c.xlsx", workbook(catalog, f"{tag} C", 1.0)),
    ]


def summary(results: list[imports.WorkbookResult]) -> list[tuple[object, ...]]:
    return [
        (r.file, r.status, r.overall, r.organization_created, [p.code for p in r.problems])
        for r in results
    ]


def test_reading_ahead_gives_the_results_of_one_at_a_time(
    session: Session, tenant: Tenant, other_tenant: Tenant, catalog: Catalog
) -> None:
    tag = uuid.uuid4().hex[:8]
    ahead = imports.import_workbooks(
        session, tenant.principal, catalog, uploads(catalog, tag),
        create_organizations=True, limits=Limits(),
    )  # fmt: skip
    one_by_one = [
        imports.import_workbook(
            session,
            other_tenant.principal,
            catalog,
            u,
            dry_run=False,
            create_organizations=True,
            limits=Limits(),
        )
        for u in uploads(catalog, tag)
    ]
    assert summary(ahead) == summary(one_by_one)
    assert [r.status for r in ahead] == [
        "created", "rejected", "created", "rejected", "unchanged", "created",
    ]  # fmt: skip


def test_a_caller_that_stops_early_leaves_nothing_reading(
    session: Session, tenant: Tenant, catalog: Catalog
) -> None:
    tag = uuid.uuid4().hex[:8]
    files = [Upload(f"{n}.xlsx", workbook(catalog, f"{tag} {n}")) for n in range(6)]
    each = imports.import_each(
        session, tenant.principal, catalog, files, create_organizations=True, limits=Limits()
    )
    first = next(each)
    each.close()
    assert first.status == "created"
    assert not [t for t in threading.enumerate() if t.name.startswith("oca-read-ahead")]
    written = session.scalar(
        select(func.count())
        .select_from(Assessment)
        .where(Assessment.workspace_id == tenant.principal.workspace_id)
    )
    session.rollback()
    assert written == 1
