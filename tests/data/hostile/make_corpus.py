"""Generate the hostile and broken upload corpus, deterministically, into this folder.

    .venv/bin/python tests/data/hostile/make_corpus.py [OUTPUT_DIR]

Every file is small (the zip bombs are about 100 KB that declare tens of MB). ``EXPECTED`` maps each
file to the problem code the reader must answer with; ``tests/excel/test_hostile.py`` checks
both the answers and that the committed files are what this script makes.

Cases that need a real template (formulas in answer cells, tampered metadata, moved rows, ...)
are built in the tests from ``build_template`` output instead.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import zipfile
from collections.abc import Callable, Iterable
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATE = (2020, 1, 1, 0, 0, 0)
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
WORKBOOK_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
STRINGS_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

Member = tuple[str, bytes | Callable[[], Iterable[bytes]]]


# --- zip writing ---------------------------------------------------------------------------------


def _info(name: str, *, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=DATE)
    info.compress_type = compress
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


def make_zip(members: Iterable[Member], *, stored: Iterable[str] = ()) -> bytes:
    keep = set(stored)
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members:
            method = zipfile.ZIP_STORED if name in keep else zipfile.ZIP_DEFLATED
            info = _info(name, compress=method)
            if isinstance(content, bytes):
                archive.writestr(info, content, compresslevel=9)
            else:
                with archive.open(info, "w", force_zip64=True) as dst:
                    for chunk in content():
                        dst.write(chunk)
    return out.getvalue()


def sheet_xml(rows: str, dimension: str | None = "A1") -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'{XML_DECL}<worksheet xmlns="{MAIN_NS}">{dim}<sheetData>{rows}</sheetData></worksheet>'
    ).encode()


def xlsx_members(
    sheet: bytes, *, strings: bytes | None = None, extra: Iterable[Member] = ()
) -> list[Member]:
    overrides = (
        f'<Override PartName="/xl/workbook.xml" ContentType="{WORKBOOK_CT}"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SHEET_CT}"/>'
    )
    rels = f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    if strings is not None:
        overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{STRINGS_CT}"/>'
        rels += (
            f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    members: list[Member] = [
        (
            "[Content_Types].xml",
            (
                f'{XML_DECL}<Types xmlns="{CT_NS}">'
                '<Default Extension="rels" '
                'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f"{overrides}</Types>"
            ).encode(),
        ),
        (
            "_rels/.rels",
            (
                f'{XML_DECL}<Relationships xmlns="{PKG_REL_NS}">'
                f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
                "</Relationships>"
            ).encode(),
        ),
        (
            "xl/workbook.xml",
            (
                f'{XML_DECL}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
                '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
            ).encode(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            f'{XML_DECL}<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>'.encode(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ]
    if strings is not None:
        members.append(("xl/sharedStrings.xml", strings))
    members.extend(extra)
    return members


def minimal_xlsx(**kwargs: object) -> bytes:
    sheet = sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>', "A1")
    return make_zip(xlsx_members(sheet, **kwargs))  # type: ignore[arg-type]


# --- OLE compound files (legacy .xls, encrypted OOXML) -------------------------------------------


def ole_file(streams: list[str]) -> bytes:
    """A minimal compound file: a header, one FAT sector and one directory sector."""
    end, free, fat_sect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 0x1000, end, 0, end, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", free) * 108
    fat = struct.pack("<II", fat_sect, end) + struct.pack("<I", free) * 126

    def entry(name: str, kind: int, child: int, right: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", free, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", end, 0)
        )

    entries = [entry("Root Entry", 5, 1 if streams else free, free)]
    for i, name in enumerate(streams, start=1):
        entries.append(entry(name, 2, free, i + 1 if i < len(streams) else free))
    directory = b"".join(entries).ljust(512, b"\0")
    return header + fat + directory


# --- the corpus ----------------------------------------------------------------------------------


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    return (
        f"{XML_DECL}<!DOCTYPE sst [{entities}]>"
        f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    ).encode()


def padded_billion_laughs() -> bytes:
    """The same bomb behind 8 KB of comments, past the cheap prefix scan: the parser stops it."""
    body = billion_laughs().decode()
    padding = "<!--" + "x" * 8192 + "-->"
    return body.replace(XML_DECL, XML_DECL + padding, 1).encode()


def xxe() -> bytes:
    return (
        f'{XML_DECL}<!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>&x;</t></si></sst>'
    ).encode()


def strings_sheet() -> bytes:
    return sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', "A1")


def bomb_rows(total: int) -> Callable[[], Iterable[bytes]]:
    """Rows without r= attributes, as in the 612 KB -> 200 MB file of reliability.md."""

    def chunks() -> Iterable[bytes]:
        yield f'{XML_DECL}<worksheet xmlns="{MAIN_NS}"><sheetData>'.encode()
        row = b"<row><c><v>1</v></c><c><v>2</v></c><c><v>3</v></c></row>"
        block = row * 20_000
        written = 0
        while written < total:
            yield block
            written += len(block)
        yield b"</sheetData></worksheet>"

    return chunks


def truncated() -> bytes:
    data = minimal_xlsx()
    return data[: len(data) * 6 // 10]


def encrypted_member() -> bytes:
    """A zip whose members claim to be encrypted (general purpose flag bit 0)."""
    data = bytearray(minimal_xlsx())
    index = 0
    while True:
        local = data.find(b"PK\x03\x04", index)
        if local < 0:
            break
        data[local + 6] |= 0x01
        index = local + 4
    index = 0
    while True:
        central = data.find(b"PK\x01\x02", index)
        if central < 0:
            break
        data[central + 8] |= 0x01
        index = central + 4
    return bytes(data)


def not_a_zip() -> bytes:
    out = b""
    seed = b"oca-engine hostile corpus"
    while len(out) < 2048:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return b"\x89PNG\r\n\x1a\n" + out


def ods() -> bytes:
    return make_zip(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", f"{XML_DECL}<office:document-content/>".encode()),
            ("META-INF/manifest.xml", f"{XML_DECL}<manifest:manifest/>".encode()),
        ],
        stored=["mimetype"],
    )


def docx() -> bytes:
    return make_zip(
        [
            ("[Content_Types].xml", f'{XML_DECL}<Types xmlns="{CT_NS}"/>'.encode()),
            ("word/document.xml", f"{XML_DECL}<w:document/>".encode()),
        ]
    )


CORPUS: dict[str, Callable[[], bytes]] = {
    "empty_file.xlsx": lambda: b"",
    "not_a_zip.xlsx": not_a_zip,
    "truncated.xlsx": truncated,
    "csv_renamed.xlsx": lambda: (
        b"organization,item,answer\r\nAcme,gov.vision.1,3\r\n=1+2,gov.vision.2,4\r\n"
    ),
    "docx_renamed.xlsx": docx,
    "encrypted.xlsx": lambda: ole_file(["\x06DataSpaces", "EncryptionInfo", "EncryptedPackage"]),
    "legacy_xls.xlsx": lambda: ole_file(["Workbook", "\x05SummaryInformation"]),
    "ods_renamed.xlsx": ods,
    "encrypted_member.xlsx": encrypted_member,
    "zip_bomb.xlsx": lambda: make_zip(
        [*xlsx_members(b"")[:4], ("xl/worksheets/sheet1.xml", bomb_rows(60 * 1024 * 1024))]
    ),
    "zip_bomb_ratio.xlsx": lambda: make_zip(
        [*xlsx_members(b"")[:4], ("xl/worksheets/sheet1.xml", bomb_rows(8 * 1024 * 1024))]
    ),
    "many_parts.xlsx": lambda: make_zip(
        xlsx_members(sheet_xml("")) + [(f"xl/media/pad{i}.bin", b"x") for i in range(400)]
    ),
    "zip_slip.xlsx": lambda: make_zip(
        xlsx_members(sheet_xml(""), extra=[("../../evil.sh", b"#!/bin/sh\n")])
    ),
    "macro.xlsx": lambda: make_zip(
        xlsx_members(sheet_xml(""), extra=[("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + bytes(60))])
    ),
    "external_link.xlsx": lambda: make_zip(
        xlsx_members(
            sheet_xml(""),
            extra=[
                (
                    "xl/externalLinks/externalLink1.xml",
                    f'{XML_DECL}<externalLink xmlns="{MAIN_NS}"/>'.encode(),
                ),
            ],
        )
    ),
    "billion_laughs.xlsx": lambda: make_zip(
        xlsx_members(strings_sheet(), strings=billion_laughs())
    ),
    "billion_laughs_padded.xlsx": lambda: make_zip(
        xlsx_members(strings_sheet(), strings=padded_billion_laughs())
    ),
    "xxe.xlsx": lambda: make_zip(xlsx_members(strings_sheet(), strings=xxe())),
    "coordinate_bomb.xlsx": lambda: make_zip(
        xlsx_members(
            sheet_xml(
                '<row r="1"><c r="A1"><v>1</v></c></row>'
                '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                "A1:XFD1048576",
            )
        )
    ),
    "coordinate_bomb_nodim.xlsx": lambda: make_zip(
        xlsx_members(sheet_xml('<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>', None))
    ),
    "corrupt_xml.xlsx": lambda: make_zip(
        [
            (name, b"<workbook><sheets><sheet" if name == "xl/workbook.xml" else content)
            for name, content in xlsx_members(sheet_xml(""))
        ]
    ),
    "foreign_workbook.xlsx": lambda: minimal_xlsx(),
    "blank_workbook.xlsx": lambda: make_zip(xlsx_members(sheet_xml("", None))),
}

# file -> the problem code the reader answers with
EXPECTED: dict[str, str] = {
    "empty_file.xlsx": "not_a_workbook",
    "not_a_zip.xlsx": "not_a_workbook",
    "truncated.xlsx": "not_a_workbook",
    "csv_renamed.xlsx": "not_a_workbook",
    "docx_renamed.xlsx": "not_a_workbook",
    "encrypted.xlsx": "encrypted",
    "legacy_xls.xlsx": "legacy_xls",
    "ods_renamed.xlsx": "ods",
    "encrypted_member.xlsx": "encrypted",
    "zip_bomb.xlsx": "zip_bomb",
    "zip_bomb_ratio.xlsx": "zip_bomb",
    "many_parts.xlsx": "too_many_parts",
    "zip_slip.xlsx": "unsafe_path",
    "macro.xlsx": "macros",
    "external_link.xlsx": "external_links",
    "billion_laughs.xlsx": "unsafe_xml",
    "billion_laughs_padded.xlsx": "unsafe_xml",
    "xxe.xlsx": "unsafe_xml",
    "coordinate_bomb.xlsx": "too_many_rows",
    "coordinate_bomb_nodim.xlsx": "too_many_rows",
    "corrupt_xml.xlsx": "corrupt_workbook",
    "foreign_workbook.xlsx": "not_a_template",
    "blank_workbook.xlsx": "empty_workbook",
}


def build(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in CORPUS.items():
        path = out / name
        path.write_bytes(make())
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in build(target):
        print(f"{path.stat().st_size:>9,} {path.name}")
