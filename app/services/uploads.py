"""Uploads of workbooks: each file as it came, a .zip unpacked into one upload per workbook, checked
like a workbook is (how many files, their sizes, how far they inflate, their paths). A zip that is
itself unsafe rejects the upload; a member that cannot be unpacked is rejected alone."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from app.excel import Limits, ProblemCode
from app.excel.problems import Problem

MAX_FILES = 200


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    problem: Problem | None = None  # a zip member that could not be unpacked: rejected alone


class UploadRejected(Exception):
    """The upload as a whole cannot be read (e.g. a zip of workbooks that is itself unsafe)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.en)
        self.problem = problem


def expand_uploads(uploads: Sequence[Upload], limits: Limits) -> list[Upload]:
    """Unpack a .zip of workbooks (checked like a workbook: count, sizes, ratio, paths)."""
    out: list[Upload] = []
    for upload in uploads:
        if upload.name.lower().endswith(".zip") and upload.data[:4] == b"PK\x03\x04":
            out.extend(_unzip(upload, limits))
        else:
            out.append(upload)
    if len(out) > MAX_FILES:
        raise UploadRejected(
            Problem(
                ProblemCode.too_many_parts,
                f"at most {MAX_FILES} workbooks per upload; this one has {len(out)}",
                f"se admiten como máximo {MAX_FILES} libros por carga; esta tiene {len(out)}",
            )
        )
    return out


def _unzip(upload: Upload, limits: Limits) -> list[Upload]:
    def reject(en: str, es: str, code: ProblemCode = ProblemCode.zip_bomb) -> UploadRejected:
        return UploadRejected(Problem(code, f"{upload.name}: {en}", f"{upload.name}: {es}"))

    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
    except zipfile.BadZipFile:
        raise reject(
            "the zip file is damaged", "el archivo zip está dañado", ProblemCode.corrupt_workbook
        ) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_FILES:
            raise reject(
                f"more than {MAX_FILES} files",
                f"más de {MAX_FILES} archivos",
                ProblemCode.too_many_parts,
            )
        total = 0
        out: list[Upload] = []
        for m in members:
            path = PurePosixPath(m.filename)
            if path.is_absolute() or ".." in path.parts:
                raise reject(
                    f"unsafe path {m.filename!r}",
                    f"ruta insegura {m.filename!r}",
                    ProblemCode.unsafe_path,
                )
            if path.name.startswith((".", "~$")) or "__MACOSX" in path.parts:
                continue
            if m.flag_bits & 0x1:
                raise reject(
                    f"{m.filename} is encrypted",
                    f"{m.filename} está cifrado",
                    ProblemCode.encrypted,
                )
            if m.file_size > limits.max_bytes:
                raise reject(
                    f"{m.filename} is larger than {limits.max_bytes} bytes",
                    f"{m.filename} pesa más de {limits.max_bytes} bytes",
                    ProblemCode.too_big,
                )
            total += m.file_size
            if total > limits.max_inflated_bytes:
                raise reject("it inflates beyond the limit", "se expande más allá del límite")
            out.append(_member(archive, m, f"{upload.name}/{m.filename}"))
        return out


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> Upload:
    """One member's bytes; a damaged member becomes a rejected upload of its own, so the other
    members of the zip are still imported."""
    try:
        return Upload(name, archive.read(member))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        why = "unsupported compression" if isinstance(exc, NotImplementedError) else "damaged"
        why_es = "compresión no admitida" if isinstance(exc, NotImplementedError) else "dañado"
        return Upload(
            name,
            b"",
            Problem(
                ProblemCode.corrupt_workbook,
                f"{member.filename} inside the zip cannot be unpacked ({why}); "
                "add it to the zip again or upload it on its own",
                f"{member.filename} dentro del zip no se puede descomprimir ({why_es}); "
                "vuelva a añadirlo al zip o súbalo por separado",
            ),
        )
