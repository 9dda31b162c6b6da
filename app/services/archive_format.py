"""The workspace archive as a file: one zip holding ``manifest.json`` and one JSON Lines entry per
table. This module knows the file and the column types, not the database's contents: it writes
rows it is given, and reads an archive back into typed rows, refusing anything it cannot trust
(a truncated zip, another format version, an entry name it did not write, counts or checksums
that do not match, a value of the wrong type) with one readable :class:`ArchiveError`.

Nothing is ever extracted to disk: entries are read by their expected names into memory, so an
entry named ``../../etc/passwd`` cannot be written anywhere; it is refused as unexpected.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Uuid,
)

from app.db import models as m

FORMAT = "oca-workspace-archive"
FORMAT_VERSION = 2
READS = (1, 2)  # a version-1 archive reads every table it does not describe as empty
MANIFEST = "manifest.json"
MAX_ENTRY_BYTES = 1 << 30  # 1 GiB uncompressed per entry: far above any workspace, below a bomb


class ArchiveError(Exception):
    """An archive that cannot be written or restored; ``detail`` is one readable message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class TableSpec:
    """One table in the archive and the columns that travel (the rest is the target's own)."""

    name: str
    table: Table
    left_out: tuple[str, ...] = ()

    @property
    def entry(self) -> str:
        return f"tables/{self.name}.jsonl"

    @property
    def columns(self) -> list[Column[Any]]:
        return [c for c in self.table.columns if c.name not in self.left_out]

    @cached_property
    def decoders(self) -> dict[str, Decoder]:
        return {c.name: _checker(c) for c in self.columns}


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# In insertion order (parents first). Left out: the instrument version's row id, which is local
# to each database (the archive names instrument, version and hash instead); the audit event's
# number, which the target's own sequence gives (order is kept); and everything of a stored score
# but when and by which engine it was computed: the score is recomputed from the answers; and
# an organization's name key, set again from its name; and an evidence file's key in the store
# (the file itself travels as its own entry, ``evidence/<evidence id>``, and gets a new key).
# Version 2 added the workspace's own instrument versions, raters, ratings and verified answers
# (evidence came late in version 1, so a version-1 archive may lack it too).
SPECS: tuple[TableSpec, ...] = (
    TableSpec("workspace", _table(m.Workspace)),
    TableSpec("instrument_version", _table(m.InstrumentVersion), ("id",)),
    TableSpec("person", _table(m.Person)),
    TableSpec("membership", _table(m.Membership)),
    TableSpec("api_key", _table(m.ApiKey)),
    TableSpec("organization", _table(m.Organization), ("name_key",)),
    TableSpec("cohort", _table(m.Cohort)),
    TableSpec("cohort_member", _table(m.CohortMember)),
    TableSpec("assessment", _table(m.Assessment), ("instrument_version_id",)),
    TableSpec("answer", _table(m.Answer)),
    TableSpec("evidence", _table(m.Evidence), ("storage_key",)),
    TableSpec("rater", _table(m.Rater)),
    TableSpec("rating", _table(m.Rating)),
    TableSpec("verified_answer", _table(m.VerifiedAnswer)),
    TableSpec(
        "assessment_score",
        _table(m.AssessmentScore),
        ("overall", "summary", "payload", "rendered"),
    ),
    TableSpec("audit_event", _table(m.AuditEvent), ("id",)),
)
SPEC = {s.name: s for s in SPECS}
ENTRIES = {s.entry: s for s in SPECS}
FILES = "evidence/"


def file_entry(evidence_id: uuid.UUID) -> str:
    """The entry holding an evidence file's bytes."""
    return f"{FILES}{evidence_id}"


def _file_id(name: str) -> uuid.UUID | None:
    if not name.startswith(FILES):
        return None
    try:
        found = uuid.UUID(name[len(FILES) :])
    except ValueError:
        return None
    return found if file_entry(found) == name else None


# --- values ---------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC); PostgreSQL aware ones in its zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Decoder = Callable[[Any], Any]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written to an archive")


_WRITE = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE


def _line(row: Any) -> bytes:
    """One row as one JSON line, exact: floats keep every digit, ids are text, times are UTC."""
    return orjson.dumps(dict(row._mapping), default=_json_default, option=_WRITE)


def _shown(value: Any) -> str:
    shown = orjson.dumps(value, default=str).decode()
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _checker(column: Column[Any]) -> Decoder:
    """The check and conversion of one column's JSON values into its Python type."""
    kind, name = column.type, column.name

    def expected(what: str, value: Any) -> ValueError:
        return ValueError(f"column '{name}': expected {what}, got {_shown(value)}")

    def an_id(value: Any) -> uuid.UUID:
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        raise expected("an id", value)

    def a_moment(value: Any) -> datetime:
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise expected("a date and time with its zone", value)
        return moment.astimezone(UTC)

    def a_day(value: Any) -> date:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise expected("a date", value)

    def a_flag(value: Any) -> bool:
        if not isinstance(value, bool):
            raise expected("true or false", value)
        return value

    def a_count(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise expected("a whole number", value)
        return value

    def a_number(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise expected("a number", value)
        return float(value)

    def a_text(value: Any) -> str:
        if not isinstance(value, str):
            raise expected("text", value)
        if length is not None and len(value) > length:
            raise ValueError(f"column '{name}': longer than {length} characters")
        return value

    length = kind.length if isinstance(kind, String) else None
    checks: list[tuple[type[Any], Decoder]] = [
        (Uuid, an_id),
        (DateTime, a_moment),
        (Date, a_day),
        (Boolean, a_flag),
        (Integer, a_count),
        (Float, a_number),
        (String, a_text),
        (JSON, lambda value: value),
    ]
    check = next((f for t, f in checks if isinstance(kind, t)), None)
    if check is None:
        raise TypeError(f"column '{name}': type {kind} is not known to the archive")
    nullable = column.nullable

    def decode(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError(f"column '{name}' cannot be empty")
        return check(value)

    return decode


# --- writing --------------------------------------------------------------------------------------


def write_archive(
    target: Path,
    manifest: dict[str, Any],
    tables: Iterable[tuple[TableSpec, Iterable[Any]]],
    files: Callable[[], Iterable[tuple[uuid.UUID, BinaryIO]]] = lambda: (),
) -> dict[str, int]:
    """Write the archive next to ``target`` and move it into place once complete, so a failed
    export never leaves a half-written file under the name a backup script expects.

    ``tables`` gives, per spec, rows with one attribute per column; ``files``, called after
    them, each evidence file's id and bytes (stored as they are: their rows hold size and
    SHA-256). Returns the row counts; the manifest gets each entry's columns, count and
    SHA-256."""
    partial = target.with_name(f".{target.name}.partial")
    counts: dict[str, int] = {}
    entries: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for spec, rows in tables:
                digest, count = hashlib.sha256(), 0
                with zf.open(spec.entry, "w", force_zip64=True) as out:
                    buffer = bytearray()
                    for row in rows:
                        buffer += _line(row)
                        count += 1
                        if len(buffer) >= 1 << 20:  # the zip stream is slow per small write
                            digest.update(buffer)
                            out.write(buffer)
                            buffer.clear()
                    digest.update(buffer)
                    out.write(buffer)
                counts[spec.name] = count
                entries[spec.name] = {
                    "entry": spec.entry,
                    "columns": [c.name for c in spec.columns],
                    "count": count,
                    "sha256": digest.hexdigest(),
                }
            for evidence_id, stream in files():
                with stream, zf.open(file_entry(evidence_id), "w", force_zip64=True) as out:
                    shutil.copyfileobj(stream, out, 1 << 20)
            body = {**manifest, "tables": entries}
            zf.writestr(MANIFEST, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return counts


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """An archive read and checked as a file: its manifest and typed rows per table."""

    manifest: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]]
    files: frozenset[uuid.UUID]  # evidence ids whose file is an entry (read by open_file)


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or ":" in name


def _entries(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    names = [info.filename for info in zf.infolist()]
    unsafe = [n for n in names if _unsafe(n)]
    if unsafe:
        raise ArchiveError(f"unsafe entry name(s) in the archive: {', '.join(unsafe[:5])}")
    unknown = sorted(n for n in set(names) - {MANIFEST, *ENTRIES} if _file_id(n) is None)
    if unknown:
        raise ArchiveError(f"unexpected entry name(s) in the archive: {', '.join(unknown[:5])}")
    if len(set(names)) != len(names):
        raise ArchiveError("the archive holds the same entry twice")
    if MANIFEST not in names:
        raise ArchiveError(f"the archive lacks {MANIFEST}")
    infos = {info.filename: info for info in zf.infolist()}
    for info in infos.values():
        if info.file_size > MAX_ENTRY_BYTES:
            raise ArchiveError(f"{info.filename} is larger than {MAX_ENTRY_BYTES >> 20} MiB")
    return infos


def _manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"not an OCA workspace archive ({MANIFEST} does not say '{FORMAT}')")
    version = manifest.get("format_version")
    if version not in READS:
        raise ArchiveError(
            f"archive format version {version!r}; this version of OCA Engine reads versions "
            f"{' and '.join(map(str, READS))} (export again with a matching version)"
        )
    tables = manifest.get("tables")
    whole = version == FORMAT_VERSION
    if not isinstance(tables, dict) or not (
        set(tables) == set(SPEC) if whole else set(tables) <= set(SPEC)
    ):
        raise ArchiveError(f"{MANIFEST}: 'tables' must describe exactly {', '.join(SPEC)}")
    for name in tables:
        spec, described = SPEC[name], tables[name]
        wanted = [c.name for c in spec.columns]
        if not isinstance(described, dict) or described.get("columns") != wanted:
            got = described.get("columns") if isinstance(described, dict) else None
            raise ArchiveError(
                f"table {name}: the archive's columns {got} differ from this version's {wanted} "
                "(made by another version of OCA Engine?)"
            )
        if not isinstance(described.get("count"), int) or not isinstance(
            described.get("sha256"), str
        ):
            raise ArchiveError(f"{MANIFEST}: table {name} needs a count and a sha256")
    return manifest


def _lines(spec: TableSpec, raw: bytes) -> Iterator[dict[str, Any]]:
    decoders = spec.decoders
    names = set(decoders)
    for number, line in enumerate(raw.splitlines(), start=1):
        where = f"{spec.entry} line {number}"
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ArchiveError(f"{where}: not a JSON object ({exc})") from None
        if not isinstance(data, dict) or data.keys() != names:
            raise ArchiveError(f"{where}: expected the columns {', '.join(decoders)}")
        try:
            yield {name: decode(data[name]) for name, decode in decoders.items()}
        except ValueError as exc:
            raise ArchiveError(f"{where}: {exc}") from None


def read_archive(path: Path) -> Archive:
    """Open and check an archive as a file (nothing about a database yet)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = _entries(zf)
            manifest = _manifest(zf.read(infos[MANIFEST]))
            tables = manifest["tables"]
            missing = sorted(SPEC[n].entry for n in tables if SPEC[n].entry not in infos)
            if missing:
                raise ArchiveError(f"the archive lacks {', '.join(missing)}")
            stray = sorted(set(infos) & set(ENTRIES) - {SPEC[n].entry for n in tables})
            if stray:
                raise ArchiveError(f"{MANIFEST} does not describe {', '.join(stray)}")
            rows: dict[str, list[dict[str, Any]]] = {s.name: [] for s in SPECS}
            for spec in (s for s in SPECS if s.name in tables):
                raw = zf.read(infos[spec.entry])
                described = tables[spec.name]
                if hashlib.sha256(raw).hexdigest() != described["sha256"]:
                    raise ArchiveError(f"{spec.entry} does not match its checksum in {MANIFEST}")
                rows[spec.name] = list(_lines(spec, raw))
                if len(rows[spec.name]) != described["count"]:
                    raise ArchiveError(
                        f"{spec.entry} holds {len(rows[spec.name])} row(s); {MANIFEST} says "
                        f"{described['count']}"
                    )
    except zipfile.BadZipFile as exc:
        raise ArchiveError(
            f"{path.name} is not a readable zip archive (truncated or damaged?): {exc}"
        ) from None
    except (EOFError, zlib.error, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise ArchiveError(f"{path.name} cannot be read: {exc}") from None
    files = frozenset(i for i in map(_file_id, infos) if i is not None)
    return Archive(manifest, rows, files)


def open_file(zf: zipfile.ZipFile, evidence_id: uuid.UUID) -> IO[bytes]:
    """An evidence file's bytes, read from the archive as they are inflated (a zip's CRC is
    checked at the end of the entry; the importer checks size and SHA-256 as it copies)."""
    return zf.open(file_entry(evidence_id))
