"""A workspace's own instrument versions: drafts, derivation, publication, and the catalog that
each request of the workspace sees (the shipped library plus its published versions).

They are rows of ``instrument_version`` with a workspace, holding the canonical YAML of
``app.catalog.owned``. A draft can be replaced, previewed and deleted; publishing makes it
immutable, exactly like a library file: its content hash is fixed and every assessment made with
it is scored by that text. Another workspace's versions are absent (404). Their labels carry the
word ``local``, which library versions never do, so the two can never collide; a label is unique
service-wide, so one another workspace took is refused without saying whose it is.

A derived version keeps the id of the version it comes from and supersedes it: its crosswalk
(``supersedes.items``, old item key -> new key or null when dropped) is completed on every save,
so series, comparisons and cohort reports compare the items the two share and name the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, CatalogError, InstrumentFile, content_hash
from app.catalog.owned import OwnedRejected, cached_file, canonical, check_owned, owned_file
from app.db.models import InstrumentVersion
from app.db.session import write_transaction
from app.domain.answers import RawAnswer, parse_answers
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.instrument import Instrument, Supersedes
from app.excel.authoring_reader import read_authoring
from app.excel.safety import Limits
from app.services.assessment_scoring import score_answers
from app.services.common import audit, now
from app.services.keys import Principal
from app.services.scores import score_payload
from app.services.webhooks import emit

DRAFT, PUBLISHED = "draft", "published"


# --- the catalog a workspace sees -----------------------------------------------------------------


def owned_files(
    session: Session, workspace_id: object, *, drafts: bool = False
) -> list[InstrumentFile]:
    """The workspace's versions as catalog entries: one indexed query for their hashes, and their
    text only for those this process has not parsed yet (the cache is keyed by content hash)."""
    statuses = (PUBLISHED, DRAFT) if drafts else (PUBLISHED,)
    rows = session.execute(
        select(InstrumentVersion.id, InstrumentVersion.content_hash).where(
            InstrumentVersion.workspace_id == workspace_id,
            InstrumentVersion.status.in_(statuses),
        )
    ).all()
    if not rows:
        return []
    found = {row_id: cached_file(digest) for row_id, digest in rows}
    missing = [row_id for row_id, f in found.items() if f is None]
    if missing:
        texts = session.execute(
            select(
                InstrumentVersion.id, InstrumentVersion.content, InstrumentVersion.content_hash
            ).where(InstrumentVersion.id.in_(missing))
        )
        for row_id, text, digest in texts:
            found[row_id] = owned_file((text or "").encode(), digest)
    return [f for f in found.values() if f is not None]


def workspace_catalog(
    session: Session, library: Catalog, workspace_id: object, *, drafts: bool = False
) -> Catalog:
    """The library plus the workspace's published versions (and its drafts when asked); the
    library itself, untouched, for a workspace without versions of its own."""
    owned = owned_files(session, workspace_id, drafts=drafts)
    return library.with_owned(owned) if owned else library


def every_published_catalog(session: Session, library: Catalog) -> Catalog:
    """The library plus every workspace's published versions, for work over all assessments
    (scores of an older engine recomputed at start, ``oca data rescore``): labels are unique
    service-wide, so the versions of different workspaces never collide."""
    rows = session.execute(
        select(InstrumentVersion.content, InstrumentVersion.content_hash).where(
            InstrumentVersion.workspace_id.is_not(None),
            InstrumentVersion.status == PUBLISHED,
        )
    ).all()
    session.rollback()  # end the read: the caller's writes follow
    owned = [cached_file(h) or owned_file((t or "").encode(), h) for t, h in rows]
    return library.with_owned(owned) if owned else library


# --- reading what is uploaded ---------------------------------------------------------------------


# The instrument model's most common words (pydantic's), in Spanish; any other problem keeps the
# model's English words inside a Spanish sentence that says so.
_MODEL_WORDS_ES: Final = {
    "Field required": "falta este campo",
    "Extra inputs are not permitted": "este campo no existe en el formato",
    "Input should be a valid string": "debe ser un texto",
    "Input should be a valid number": "debe ser un número",
    "Input should be a valid integer": "debe ser un número entero",
    "Input should be a valid boolean": "debe ser verdadero o falso",
    "Input should be a valid list": "debe ser una lista",
    "Input should be a valid dictionary": "debe ser un conjunto de campos",
    "String should have at least 1 character": "no puede estar vacío",
}


def model_problem_es(problem: str) -> str:
    """A problem the instrument model found ("path: words"), said in Spanish."""
    where, sep, words = problem.rpartition(": ")
    head = f"{where}: " if sep else ""
    for english, spanish in _MODEL_WORDS_ES.items():
        if words.startswith(english):
            return head + spanish
    return f"{head}{words} (el validador del instrumento lo dice en inglés)"


def _rejected(exc: CatalogError | OwnedRejected, what: tuple[str, str]) -> Invalid:
    errors = (
        [{"detail": p, "detail_es": model_problem_es(p)} for p in exc.problems]
        if isinstance(exc, CatalogError)
        else [{"detail": p.en, "detail_es": p.es} for p in exc.problems]
    )
    n = len(errors)
    return Invalid(
        f"the {what[0]} is not a valid instrument version: {n} problem(s); nothing was stored",
        detail_es=f"{what[1]} no es una versión de instrumento válida: {n} problema(s); no se "
        "guardó nada",
        errors=errors,
    )


TEXT = ("text", "el texto")
WORKBOOK = ("workbook", "el libro")


def read_text(raw: bytes) -> Instrument:
    """An instrument version from its YAML or JSON text; Invalid lists every problem, each with
    its place (a line and column, or the path of the key)."""
    try:
        return check_owned(raw)
    except (CatalogError, OwnedRejected) as exc:
        raise _rejected(exc, TEXT) from None


def read_workbook(data: bytes, limits: Limits) -> Instrument:
    """An instrument version from an authoring workbook; WorkbookRejected lists every problem with
    its sheet and cell, Invalid what only a workspace version must follow (its label)."""
    instrument = read_authoring(data, limits)
    try:
        return check_owned(canonical(instrument))
    except (CatalogError, OwnedRejected) as exc:
        raise _rejected(exc, WORKBOOK) from None


# --- the workspace's rows -------------------------------------------------------------------------


def list_owned(session: Session, principal: Principal) -> list[InstrumentVersion]:
    return list(
        session.scalars(
            select(InstrumentVersion)
            .where(InstrumentVersion.workspace_id == principal.workspace_id)
            .order_by(InstrumentVersion.instrument_id, InstrumentVersion.version)
        )
    )


def owned_rows(session: Session, workspace_id: object) -> dict[tuple[str, str], InstrumentVersion]:
    rows = session.scalars(
        select(InstrumentVersion).where(InstrumentVersion.workspace_id == workspace_id)
    )
    return {(r.instrument_id, r.version): r for r in rows}


def get_owned(
    session: Session, principal: Principal, instrument_id: str, version: str
) -> InstrumentVersion:
    """One of the workspace's own versions; any other (the library's, another workspace's) is
    absent here."""
    row = session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.workspace_id == principal.workspace_id,
            InstrumentVersion.instrument_id == instrument_id,
            InstrumentVersion.version == version,
        )
    )
    if row is None:
        raise NotFound(
            f"the workspace has no instrument {instrument_id} version {version}",
            detail_es=f"el espacio de trabajo no tiene el instrumento {instrument_id} versión "
            f"{version}",
        )
    return row


def _draft(
    session: Session, principal: Principal, instrument_id: str, version: str
) -> InstrumentVersion:
    row = get_owned(session, principal, instrument_id, version)
    if row.status != DRAFT:
        raise Conflict(
            f"{instrument_id} {version} is published and immutable; derive a new version to "
            "change it",
            detail_es=f"{instrument_id} {version} está publicada y no cambia más; derive una "
            "versión nueva para modificarla",
        )
    return row


def _label(row: InstrumentVersion) -> str:
    return f"{row.instrument_id} {row.version}"


def row_file(row: InstrumentVersion) -> InstrumentFile:
    return owned_file((row.content or "").encode(), row.content_hash)


# --- checks shared by every save ------------------------------------------------------------------


def _base(catalog: Catalog, derived_from: str) -> InstrumentFile:
    instrument_id, _, version = derived_from.partition(" ")
    base = catalog.get(instrument_id, version)
    if base is None:
        raise _unknown(instrument_id, version)
    return base


def _unknown(instrument_id: str, version: str) -> NotFound:
    return NotFound(
        f"instrument {instrument_id} version {version} does not exist",
        detail_es=f"el instrumento {instrument_id} versión {version} no existe",
    )


MISFIT = (
    "the derived version does not fit its origin",
    "la versión derivada no corresponde a su origen",
)


def _with_crosswalk(instrument: Instrument, base: Instrument) -> Instrument:
    """``instrument`` superseding ``base``: every item of ``base`` maps to the key the author gave,
    else to the same key when it is still there, else to null (dropped)."""
    problems: list[tuple[str, str]] = []
    origin = f"{base.id} {base.version}"
    if instrument.id != base.id:
        problems.append(
            (
                f"id: a version derived from {origin} keeps the id '{base.id}'",
                f"id: una versión derivada de {origin} conserva el id '{base.id}'",
            )
        )
    given = instrument.supersedes
    if given is not None and given.version != base.version:
        problems.append(
            (
                f"supersedes.version: this version is derived from {base.version}, "
                f"not {given.version}",
                f"supersedes.version: esta versión deriva de {base.version}, no de {given.version}",
            )
        )
    mapped = dict(given.items) if given else {}
    unknown = sorted(set(mapped) - base.item_keys)
    if unknown:
        problems.append(
            (
                f"supersedes.items: {unknown} are not items of {origin}",
                f"supersedes.items: {unknown} no son ítems de {origin}",
            )
        )
    if problems:
        raise Invalid(MISFIT[0], detail_es=MISFIT[1], errors=_details(problems))
    items = {
        old: mapped.get(old, old if old in instrument.item_keys else None)
        for old in sorted(base.item_keys)
    }
    data = instrument.model_dump(mode="python", exclude_none=True)
    data["supersedes"] = Supersedes(version=base.version, items=items).model_dump()
    try:
        return Instrument.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            MISFIT[0],
            detail_es=MISFIT[1],
            errors=[
                {"detail": msg, "detail_es": model_problem_es(msg)}
                for msg in (e["msg"].removeprefix("Value error, ") for e in exc.errors())
            ],
        ) from None


def _details(problems: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"detail": en, "detail_es": es} for en, es in problems]


def _check_supersedes(catalog: Catalog, instrument: Instrument) -> None:
    sup = instrument.supersedes
    if sup is None:
        return
    old = catalog.get(instrument.id, sup.version)
    if old is None:
        en = f"supersedes.version: {instrument.id} has no version '{sup.version}' here"
        es = f"supersedes.version: {instrument.id} no tiene aquí la versión '{sup.version}'"
        raise Invalid(en, detail_es=es, errors=_details([(en, es)]))
    unknown = sorted(set(sup.items) - old.instrument.item_keys)
    if unknown:
        en = f"supersedes.items: {unknown} are not items of {instrument.id} {sup.version}"
        es = f"supersedes.items: {unknown} no son ítems de {instrument.id} {sup.version}"
        raise Invalid(en, detail_es=es, errors=_details([(en, es)]))


def _prepared(
    catalog: Catalog, instrument: Instrument, derived_from: str | None
) -> tuple[Instrument, bytes]:
    if derived_from is not None:
        instrument = _with_crosswalk(instrument, _base(catalog, derived_from).instrument)
    _check_supersedes(catalog, instrument)
    return instrument, canonical(instrument)


def _label_free(session: Session, instrument: Instrument) -> None:
    taken = session.scalar(
        select(InstrumentVersion.id).where(
            InstrumentVersion.instrument_id == instrument.id,
            InstrumentVersion.version == instrument.version,
        )
    )
    if taken is not None:
        raise Conflict(
            f"the label {instrument.id} {instrument.version} is already in use; choose another "
            "version label",
            detail_es=f"la etiqueta {instrument.id} {instrument.version} ya está en uso; elija "
            "otra etiqueta de versión",
        )


# --- use cases ------------------------------------------------------------------------------------


def create_draft(
    session: Session,
    principal: Principal,
    library: Catalog,
    instrument: Instrument,
    *,
    derived_from: str | None = None,
    publish_now: bool = False,
) -> InstrumentVersion:
    """Store ``instrument`` as a draft of the workspace (``derived_from``: "<id> <version>" of a
    version it adapts, whose crosswalk is then completed); ``publish_now`` publishes it in the
    same transaction (the command line's one step)."""
    catalog = workspace_catalog(session, library, principal.workspace_id)
    instrument, text = _prepared(catalog, instrument, derived_from)
    with write_transaction(session):
        _label_free(session, instrument)
        ts = now()
        row = InstrumentVersion(
            instrument_id=instrument.id,
            version=instrument.version,
            content_hash=content_hash(text),
            title=instrument.title.en[:200],
            loaded_at=ts,
            workspace_id=principal.workspace_id,
            status=DRAFT,
            content=text.decode(),
            derived_from=derived_from,
            created_by=principal.actor,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            principal,
            "instrument.create",
            "instrument_version",
            f"{instrument.id} {instrument.version}",
            {"derived_from": derived_from},
        )
        if publish_now:
            _mark_published(session, principal, row)
    return row


def derive(
    session: Session,
    principal: Principal,
    library: Catalog,
    instrument_id: str,
    version: str,
    new_version: str,
) -> InstrumentVersion:
    """A draft copy of a library version (or of one of the workspace's own) as ``new_version``:
    the same items, superseding the original item for item, ready to adapt."""
    catalog = workspace_catalog(session, library, principal.workspace_id)
    base = catalog.get(instrument_id, version)
    if base is None:
        raise _unknown(instrument_id, version)
    data = base.instrument.model_dump(mode="python", exclude_none=True)
    data.update(version=new_version, variants=(), supersedes=None)
    data.pop("derived_from", None)
    instrument = read_text(canonical(_valid(data)))
    return create_draft(
        session, principal, library, instrument, derived_from=f"{instrument_id} {version}"
    )


def _valid(data: dict[str, Any]) -> Instrument:
    try:
        return Instrument.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            "the new version is not valid",
            detail_es="la versión nueva no es válida",
            errors=[
                {"detail": f"{'.'.join(map(str, e['loc']))}: {e['msg']}"} for e in exc.errors()
            ],
        ) from None


def replace_draft(
    session: Session,
    principal: Principal,
    library: Catalog,
    instrument_id: str,
    version: str,
    instrument: Instrument,
    *,
    publish_now: bool = False,
) -> InstrumentVersion:
    """Replace a draft's text (its id and version stay); a published version answers 409.
    ``publish_now`` publishes it in the same transaction (the command line's one step)."""
    row = _draft(session, principal, instrument_id, version)
    if (instrument.id, instrument.version) != (instrument_id, version):
        en = (
            f"id/version: the text is {instrument.id} {instrument.version}, not the draft "
            f"{instrument_id} {version}"
        )
        es = (
            f"id/version: el texto es {instrument.id} {instrument.version}, no el borrador "
            f"{instrument_id} {version}"
        )
        raise Invalid(en, detail_es=es, errors=_details([(en, es)]))
    catalog = workspace_catalog(session, library, principal.workspace_id)
    instrument, text = _prepared(catalog, instrument, row.derived_from)
    with write_transaction(session):
        row = _draft(session, principal, instrument_id, version)
        row.content = text.decode()
        row.content_hash = content_hash(text)
        row.title = instrument.title.en[:200]
        audit(
            session,
            principal,
            "instrument.update",
            "instrument_version",
            f"{row.instrument_id} {row.version}",
        )
        if publish_now:
            _mark_published(session, principal, row)
    return row


def delete_draft(session: Session, principal: Principal, instrument_id: str, version: str) -> None:
    with write_transaction(session):
        row = _draft(session, principal, instrument_id, version)
        session.delete(row)
        audit(
            session,
            principal,
            "instrument.delete",
            "instrument_version",
            f"{instrument_id} {version}",
        )


def publish(
    session: Session, principal: Principal, instrument_id: str, version: str
) -> InstrumentVersion:
    """Publish a draft: from now on its text never changes, assessments can use it, and the
    workspace's webhook subscribers hear ``instrument.published``."""
    with write_transaction(session):
        row = _draft(session, principal, instrument_id, version)
        _mark_published(session, principal, row)
    return row


def _mark_published(session: Session, principal: Principal, row: InstrumentVersion) -> None:
    row.status = PUBLISHED
    row.published_at = now()
    row.published_by = principal.actor
    data = {
        "instrument_id": row.instrument_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "derived_from": row.derived_from,
    }
    audit(session, principal, "instrument.publish", "instrument_version", _label(row))
    emit(session, principal.workspace_id, "instrument.published", data)


def score_trial(
    session: Session,
    principal: Principal,
    library: Catalog,
    instrument_id: str,
    version: str,
    answers: Iterable[RawAnswer],
) -> tuple[str, dict[str, Any]]:
    """The explained score that ``answers`` would get with a version the workspace sees (a draft
    included), with the version's content hash; nothing is stored. AnswersInvalid lists every
    answer that cannot be accepted."""
    catalog = workspace_catalog(session, library, principal.workspace_id, drafts=True)
    f = catalog.get(instrument_id, version)
    if f is None:
        raise _unknown(instrument_id, version)
    parsed = parse_answers(f.instrument, answers)
    return f.content_hash, score_payload(score_answers(f, parsed.values), f.instrument)


@dataclass(frozen=True)
class OwnVersion:
    """A workspace version as the API and the CLI describe it, crosswalk included."""

    row: InstrumentVersion
    file: InstrumentFile
    supersedes: str | None
    dropped_items: list[str]
    new_items: list[str]


def describe(row: InstrumentVersion) -> OwnVersion:
    f = row_file(row)
    sup = f.instrument.supersedes
    if sup is None:
        return OwnVersion(row, f, None, [], [])
    carried = {new for new in sup.items.values() if new is not None}
    return OwnVersion(
        row,
        f,
        sup.version,
        sorted(old for old, new in sup.items.items() if new is None),
        sorted(f.instrument.item_keys - carried),
    )


def status_of(session: Session, principal: Principal, f: InstrumentFile) -> str:
    """Whether a version the workspace sees is a draft or published (the library's always are)."""
    if not f.owned:
        return PUBLISHED
    return get_owned(session, principal, f.instrument.id, f.instrument.version).status
