"""Cheap checks on untrusted bytes before any spreadsheet parser sees them (reliability.md §A2).

Everything here reads only the zip directory and the first bytes of each part, so a hostile upload
is refused in milliseconds. Python's ``zipfile`` never inflates a member beyond its declared size
(it truncates, then fails the CRC check), so the sum of declared sizes is a real upper bound for
the parser that runs afterwards.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO, Final

from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem

MiB: Final = 1024 * 1024

OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
REQUIRED_PARTS: Final = ("[Content_Types].xml", "xl/workbook.xml")
_OLE_ENCRYPTION_STREAMS: Final = (
    "EncryptedPackage".encode("utf-16-le"),
    "EncryptionInfo".encode("utf-16-le"),
)
_XML_PREFIX_BYTES: Final = 4096
_XML_DANGER: Final = (b"<!DOCTYPE", b"<!ENTITY")


@dataclass(frozen=True)
class Limits:
    """Bounds on what an uploaded workbook may cost. The service passes configured values.

    ``isolate`` runs the parser in a child process under ``memory_bytes`` (RLIMIT_AS),
    ``cpu_seconds`` (RLIMIT_CPU) and a ``timeout_seconds`` wall clock.
    """

    max_bytes: int = 5 * MiB
    max_inflated_bytes: int = 50 * MiB
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * MiB  # members smaller than this are not ratio-checked
    max_members: int = 300
    max_sheets: int = 60
    max_rows: int = 2_000
    max_columns: int = 30
    isolate: bool = True
    # a full-size legitimate workbook (2,000 rows x 30 columns of text) reads in about 1 s and
    # 80 MiB; a 1.5 MB upload with one 3-million-cell row needs 28 s and 1.4 GiB without limits
    timeout_seconds: float = 20.0
    cpu_seconds: int = 10
    memory_bytes: int = 768 * MiB


DEFAULT_LIMITS: Final = Limits()


def _reject(*problems: Problem) -> WorkbookRejected:
    return WorkbookRejected(list(problems))


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = head.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            return False
    printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    return printable >= 0.95 * len(text)


def _not_a_workbook(detail_en: str, detail_es: str) -> WorkbookRejected:
    return _reject(problem(ProblemCode.not_a_workbook, detail=detail_en, detail_es=detail_es))


def check_upload(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise WorkbookRejected unless ``data`` looks like a plain, reasonably sized .xlsx."""
    if len(data) > limits.max_bytes:
        raise _reject(problem(ProblemCode.too_big, size=len(data), limit=limits.max_bytes))
    if not data:
        raise _not_a_workbook(": the file is empty", ": el archivo está vacío")
    if data.startswith(OLE_MAGIC):
        if any(name in data for name in _OLE_ENCRYPTION_STREAMS):
            raise _reject(problem(ProblemCode.encrypted))
        raise _reject(problem(ProblemCode.legacy_xls))
    if not data.startswith(ZIP_MAGIC):
        if _looks_like_text(data[:4096]):
            raise _not_a_workbook(
                ": it is a text or CSV file renamed to .xlsx",
                ": es un archivo de texto o CSV con la extensión .xlsx",
            )
        raise _not_a_workbook("", "")
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            _check_archive(archive, limits)
    except WorkbookRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        raise _not_a_workbook(
            ": it is damaged or incomplete (truncated)",
            ": está dañado o incompleto (truncado)",
        ) from None


def _check_members(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_members:
        raise _reject(
            problem(ProblemCode.too_many_parts, count=len(infos), limit=limits.max_members)
        )
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise _reject(problem(ProblemCode.unsafe_path, name=name[:200]))


def _check_sizes(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if any(info.flag_bits & 0x1 for info in infos):
        raise _reject(problem(ProblemCode.encrypted))
    total = sum(info.file_size for info in infos)
    if total > limits.max_inflated_bytes:
        raise _reject(
            problem(
                ProblemCode.zip_bomb,
                detail=f"{total} bytes uncompressed, limit {limits.max_inflated_bytes}",
                detail_es=f"{total} bytes sin comprimir, límite {limits.max_inflated_bytes}",
            )
        )
    for info in infos:
        if info.file_size < limits.ratio_floor_bytes:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise _reject(
                problem(
                    ProblemCode.zip_bomb,
                    detail=f"part {info.filename[:100]} compressed {ratio:.0f}:1, "
                    f"limit {limits.max_ratio:.0f}:1",
                    detail_es=f"la parte {info.filename[:100]} está comprimida {ratio:.0f}:1, "
                    f"límite {limits.max_ratio:.0f}:1",
                )
            )


def _check_macros(names: set[str]) -> None:
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise _reject(problem(ProblemCode.macros))


def _check_xml(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    for info in infos:
        if info.filename.lower().endswith((".xml", ".rels", ".vml")) and info.file_size:
            with archive.open(info) as src:
                head = src.read(_XML_PREFIX_BYTES)
            if any(marker in head for marker in _XML_DANGER):
                raise _reject(problem(ProblemCode.unsafe_xml, where=f" ({info.filename[:200]})"))


def _check_archive(archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    _check_members(infos, limits)
    names = {info.filename for info in infos}
    if "mimetype" in names:
        with archive.open("mimetype") as src:
            mimetype = src.read(200)
        if mimetype.startswith(b"application/vnd.oasis.opendocument"):
            raise _reject(problem(ProblemCode.ods))
    _check_sizes(infos, limits)
    _check_macros(names)
    if any(name.lower().startswith("xl/externallinks/") for name in names):
        raise _reject(problem(ProblemCode.external_links))
    missing = [part for part in REQUIRED_PARTS if part not in names]
    if missing:
        hint_en, hint_es = "", ""
        if "xl/workbook.bin" in names:
            hint_en, hint_es = " (binary .xlsb)", " (binario .xlsb)"
        elif "word/document.xml" in names:
            hint_en, hint_es = " (a Word document)", " (un documento de Word)"
        raise _not_a_workbook(
            f"{hint_en}: required part {missing[0]} is missing",
            f"{hint_es}: falta la parte obligatoria {missing[0]}",
        )
    _check_xml(archive, infos)


# --- any Office Open XML package (a .docx or .pptx as well), read from a file ---------------------

_END_OF_DIRECTORY: Final = b"PK\x05\x06"
_END_RECORD: Final = struct.Struct("<4s4H2LH")
_LONGEST_COMMENT: Final = 0xFFFF
_DIRECTORY_BYTES_PER_MEMBER: Final = 46 + 512  # fixed header + a generous name and extras


def _directory_bounded(src: BinaryIO, limits: Limits) -> None:
    """Read the zip's end record before ``zipfile`` reads its directory: a few dozen bytes tell
    how many members it lists and how large the directory is, so a directory of a million
    members is refused before a million objects are made for it."""
    src.seek(0, 2)
    size = src.tell()
    tail_length = min(size, _END_RECORD.size + _LONGEST_COMMENT)
    src.seek(size - tail_length)
    tail = src.read(tail_length)
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        raise _not_a_workbook(
            ": it is damaged or incomplete (truncated)", ": está dañado o incompleto (truncado)"
        )
    _, _, _, _, members, directory_size, _, _ = _END_RECORD.unpack_from(tail, at)
    if members > limits.max_members or members == 0xFFFF:  # 0xFFFF: a zip64 count elsewhere
        raise _reject(problem(ProblemCode.too_many_parts, count=members, limit=limits.max_members))
    if directory_size > limits.max_members * _DIRECTORY_BYTES_PER_MEMBER:
        raise _reject(problem(ProblemCode.too_many_parts, count=members, limit=limits.max_members))
    src.seek(0)


def check_package(src: BinaryIO, parts: Sequence[str], limits: Limits = DEFAULT_LIMITS) -> str:
    """Raise WorkbookRejected unless the zip ``src`` is a plain Office Open XML package holding
    one of ``parts`` (``word/document.xml``, ``ppt/presentation.xml``...), and return the first
    one it holds. The checks are a workbook's that hold for every such package: a bounded
    directory, safe part names, no encryption, no zip bomb, no macros, no DTD in its XML. Only
    the directory and the first bytes of each XML part are read."""
    try:
        _directory_bounded(src, limits)
        with zipfile.ZipFile(src) as archive:
            infos = archive.infolist()
            _check_members(infos, limits)
            _check_sizes(infos, limits)
            names = {info.filename for info in infos}
            _check_macros(names)
            found = next((p for p in parts if p in names), None)
            if "[Content_Types].xml" not in names or found is None:
                raise _not_a_workbook(
                    f": none of the parts {', '.join(parts)} is there",
                    f": no está ninguna de las partes {', '.join(parts)}",
                )
            _check_xml(archive, infos)
            return found
    except WorkbookRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error):
        raise _not_a_workbook(
            ": it is damaged or incomplete (truncated)",
            ": está dañado o incompleto (truncado)",
        ) from None
