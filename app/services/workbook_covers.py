"""A workbook's cover checked against the workspace: the organization it names, found by its
external id and then by its name (compared with case and spacing folded), and its date."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db.models import Organization
from app.domain.names import name_key
from app.excel import CoverField, ProblemCode
from app.excel.layout import COVER_SHEET, cover_cell
from app.excel.problems import Problem, problem
from app.excel.reader import Cover
from app.services.common import latest_assessment_date
from app.services.keys import Principal


def _find_organization(
    session: Session, principal: Principal, cover: Cover, lang: str
) -> tuple[Organization | None, Problem | None]:
    sheet = COVER_SHEET[lang]
    if cover.organization_external_id:
        org = session.scalar(
            select(Organization).where(
                Organization.workspace_id == principal.workspace_id,
                Organization.external_id == cover.organization_external_id,
            )
        )
        if org is not None:
            return org, None
    if cover.organization_name:
        # casefold in Python: SQL lower() leaves accented capitals alone on SQLite ("ÑANDÚ")
        wanted = name_key(cover.organization_name)
        # the stored key narrows it by index; a row written without one (by SQL outside the
        # ORM) is still compared, and the names are compared here either way
        rows = session.execute(
            select(Organization.id, Organization.name).where(
                Organization.workspace_id == principal.workspace_id,
                or_(Organization.name_key == wanted, Organization.name_key.is_(None)),
            )
        ).all()
        ids = [row_id for row_id, name in rows if name_key(name) == wanted]
        matches = [org for org in (session.get(Organization, i) for i in ids) if org]
        if len(matches) == 1 and (
            not cover.organization_external_id or matches[0].external_id is None
        ):
            return matches[0], None
        if len(matches) > 1:
            return None, Problem(
                ProblemCode.ambiguous_organization,
                f"{len(matches)} organizations are named '{cover.organization_name}'; write the "
                "organization's external id on the cover",
                f"{len(matches)} organizaciones se llaman '{cover.organization_name}'; escriba el "
                "identificador externo de la organización en la portada",
                sheet=sheet,
                cell=cover_cell(CoverField.organization_external_id),
            )
    return None, None


def _unknown_organization(cover: Cover, lang: str) -> Problem:
    name = cover.organization_name or cover.organization_external_id or "?"
    return Problem(
        ProblemCode.unknown_organization,
        f"no organization '{name}' in this workspace; create it first or allow the import to "
        "create organizations",
        f"no existe la organización '{name}' en este espacio de trabajo; créela primero o permita "
        "que la carga cree organizaciones",
        sheet=COVER_SHEET[lang],
        cell=cover_cell(CoverField.organization_name),
    )


def _future_date(cover: Cover, lang: str) -> Problem | None:
    if cover.assessed_on is None or cover.assessed_on <= latest_assessment_date():
        return None
    return problem(
        ProblemCode.future_date,
        sheet=COVER_SHEET[lang],
        cell=cover_cell(CoverField.assessed_on),
        found=cover.assessed_on.isoformat(),
        latest=latest_assessment_date().isoformat(),
    )


def cover_problems(
    session: Session,
    principal: Principal,
    cover: Cover,
    lang: str,
    *,
    create_organizations: bool,
) -> tuple[Organization | None, list[Problem]]:
    """The cover checked against the workspace: the organization and the date."""
    org, found = _find_organization(session, principal, cover, lang)
    problems = [found] if found is not None else []
    if org is None and found is None and not create_organizations:
        problems.append(_unknown_organization(cover, lang))
    late = _future_date(cover, lang)
    return org, problems + ([late] if late else [])
