"""An uploaded evidence file, received with the care given to workbooks: copied a piece at a time
into a staging file while its size is counted (refused the moment it passes the limit) and its
SHA-256 computed, then recognised by its own first bytes, never by its name or the client's
Content-Type. Only these kinds are kept: PDF, PNG, JPEG, GIF, WebP, and Word, Excel and
PowerPoint documents (.docx, .xlsx, .pptx), whose zip passes the workbook checks of
``app.excel.safety.check_package`` (bounded directory, no zip bomb, no macros, no encryption,
no DTD). Everything else (an executable renamed .pdf, HTML, SVG, a legacy .doc) is refused.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from app.config import Settings
from app.domain.errors import Invalid, TooLarge
from app.excel.problems import ProblemCode, WorkbookRejected
from app.excel.safety import OLE_MAGIC, ZIP_MAGIC, Limits, check_package
from app.services.evidence_store import CHUNK, INCOMING, FileStore, store_of

MiB: Final = 1024 * 1024


@dataclass(frozen=True)
class FileKind:
    media_type: str
    ext: str
    label: str


PDF: Final = FileKind("application/pdf", "pdf", "PDF")
PNG: Final = FileKind("image/png", "png", "PNG image")
JPEG: Final = FileKind("image/jpeg", "jpg", "JPEG image")
GIF: Final = FileKind("image/gif", "gif", "GIF image")
WEBP: Final = FileKind("image/webp", "webp", "WebP image")
_OOXML: Final = "application/vnd.openxmlformats-officedocument"
DOCX: Final = FileKind(f"{_OOXML}.wordprocessingml.document", "docx", "Word document")
XLSX: Final = FileKind(f"{_OOXML}.spreadsheetml.sheet", "xlsx", "Excel workbook")
PPTX: Final = FileKind(f"{_OOXML}.presentationml.presentation", "pptx", "PowerPoint deck")
KINDS: Final = (PDF, PNG, JPEG, GIF, WEBP, DOCX, XLSX, PPTX)
BY_MEDIA_TYPE: Final = {k.media_type: k for k in KINDS}

# the part that makes a zip one kind of Office document
_PACKAGES: Final = (
    ("word/document.xml", DOCX),
    ("xl/workbook.xml", XLSX),
    ("ppt/presentation.xml", PPTX),
)
ALLOWED_EN: Final = "PDF, PNG, JPEG, GIF, WebP, Word (.docx), Excel (.xlsx) or PowerPoint (.pptx)"
ALLOWED_ES: Final = "PDF, PNG, JPEG, GIF, WebP, Word (.docx), Excel (.xlsx) o PowerPoint (.pptx)"


@dataclass(frozen=True)
class EvidenceFiles:
    """Where files go and what they may be; ``of(settings)`` gives the configured ones."""

    store: FileStore
    staging: Path
    max_bytes: int
    limits: Limits

    @staticmethod
    def of(settings: Settings) -> EvidenceFiles:
        max_bytes = settings.evidence_max_bytes
        # an Office document is checked like a workbook, with room for the pictures and the
        # parts of a long deck (a slide is two parts, a picture one)
        limits = Limits(
            max_bytes=max_bytes,
            max_inflated_bytes=max(50 * MiB, 4 * max_bytes),
            max_members=2000,
        )
        return EvidenceFiles(store_of(settings), settings.evidence_folder, max_bytes, limits)


@dataclass(frozen=True)
class Staged:
    path: Path
    size: int
    sha256: str


def refused(code: str, en: str, es: str) -> Invalid:
    return Invalid(en, errors=[{"pointer": "/file", "code": code, "detail": en, "detail_es": es}])


def stage(stream: IO[bytes], folder: Path, max_bytes: int) -> Staged:
    """Copy ``stream`` into a new file under ``folder``, counting and hashing as it goes; over
    ``max_bytes`` or empty, the copy is removed and the file refused."""
    incoming = folder / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=incoming, prefix="upload-")
    path, size, digest = Path(name), 0, hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            while piece := stream.read(CHUNK):
                size += len(piece)
                if size > max_bytes:
                    limit = f"{max_bytes / MiB:.0f} MB"
                    raise TooLarge(
                        f"the file is larger than {limit}, the limit for evidence",
                        errors=[
                            {
                                "pointer": "/file",
                                "code": "too_big",
                                "detail": f"larger than {limit}",
                                "detail_es": f"mayor que {limit}, el límite de la evidencia",
                            }
                        ],
                        limit=max_bytes,
                    )
                digest.update(piece)
                out.write(piece)
        if size == 0:
            raise refused("empty", "the file is empty", "el archivo está vacío")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, size, digest.hexdigest())


def _not_allowed(what_en: str, what_es: str) -> Invalid:
    return refused(
        "type_not_allowed",
        f"{what_en}; evidence files may be {ALLOWED_EN}",
        f"{what_es}; los archivos de evidencia pueden ser {ALLOWED_ES}",
    )


# why an Office document is refused, in words about documents (the workbook checks' codes)
_PACKAGE_PROBLEMS: Final = {
    ProblemCode.too_many_parts: ("it holds too many parts", "tiene demasiadas partes"),
    ProblemCode.unsafe_path: (
        "a part's name points outside the document",
        "el nombre de una parte apunta fuera del documento",
    ),
    ProblemCode.encrypted: ("it is protected with a password", "está protegido con contraseña"),
    ProblemCode.zip_bomb: (
        "it would inflate to far more than its size (a zip bomb)",
        "se inflaría a mucho más que su tamaño (una bomba zip)",
    ),
    ProblemCode.macros: ("it contains macros", "contiene macros"),
    ProblemCode.unsafe_xml: (
        "its XML declares a DTD or entities",
        "su XML declara un DTD o entidades",
    ),
}
_DAMAGED: Final = (
    "it is damaged, incomplete, or not a Word, Excel or PowerPoint document",
    "está dañado, incompleto, o no es un documento de Word, Excel o PowerPoint",
)


def _office(path: Path, limits: Limits) -> FileKind:
    with path.open("rb") as src:
        try:
            found = check_package(src, [part for part, _ in _PACKAGES], limits)
        except WorkbookRejected as rejected:
            code = rejected.problems[0].code
            en, es = _PACKAGE_PROBLEMS.get(code, _DAMAGED)
            raise refused(
                str(code),
                f"the document cannot be accepted: {en}",
                f"no se puede aceptar el documento: {es}",
            ) from None
    return next(kind for part, kind in _PACKAGES if part == found)


def recognise(path: Path, limits: Limits) -> FileKind:
    """The kind of the staged file at ``path``, read from its bytes; Invalid when it is none of
    the allowed kinds or an Office document fails the package checks."""
    with path.open("rb") as src:
        head = src.read(16)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(ZIP_MAGIC):
        return _office(path, limits)
    if head.startswith(OLE_MAGIC):
        raise _not_allowed(
            "an old-format Office file (.doc, .xls, .ppt); save it as .docx, .xlsx, .pptx or PDF",
            "un archivo de Office de formato antiguo (.doc, .xls, .ppt); guárdelo como .docx, "
            ".xlsx, .pptx o PDF",
        )
    if head.startswith((b"MZ", b"\x7fELF")):
        raise _not_allowed("the file is a program", "el archivo es un programa")
    return _not_allowed_generic()


def _not_allowed_generic() -> FileKind:
    raise _not_allowed(
        "the file's content is not one of the allowed kinds (its name or type does not count)",
        "el contenido del archivo no es de un tipo permitido (su nombre o tipo no cuentan)",
    )
