"""The one rule for the name of every file the service hands out (exports, templates, annotated
workbooks, CSV).

A name is built from words people typed (organization, cohort and round names, the name of an
upload), so it may hold path separators, quotes, control characters, dots that make a hidden file
or ``..``, or thousands of characters. What comes out is one plain file name: letters and digits
of any script (a download's ``filename*`` carries them), ``-``, ``_`` and ``.`` inside, anything
else folded into one ``_``, never empty, at most ``MAX_STEM`` characters before the extension.
``ascii_only`` gives the closest plain-ASCII spelling instead, for the ``filename`` of a
Content-Disposition header that old clients read (RFC 6266).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote

MAX_STEM: Final = 120
FALLBACK: Final = "download"

# Letters that Unicode does not decompose into an ASCII letter plus a mark.
_ASCII_SPELLING: Final = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ß": "ss",
     "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "ı": "i"}
)  # fmt: skip
_ASCII_OTHER: Final = re.compile(r"[^A-Za-z0-9._-]+")
_EDGES: Final = "._-"  # no hidden file, no "..", no option-like name
_WINDOWS_DEVICES: Final = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{n}" for n in range(1, 10)),
        *(f"LPT{n}" for n in range(1, 10)),
    }
)


def safe_filename(*parts: str, ext: str = "", ascii_only: bool = False) -> str:
    """The parts that are not empty, joined by ``-``, as a safe file name ending in ``.ext``.

    >>> safe_filename("oca", "baseline", "Acme, Inc.", ext="xlsx")
    'oca-baseline-Acme_Inc.xlsx'
    >>> safe_filename("Фонд «Київ»", ext="csv"), safe_filename("Фонд", ext="csv", ascii_only=True)
    ('Фонд_Київ.csv', 'download.csv')
    """
    text = "-".join(p for p in parts if p)
    if ascii_only:
        decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_SPELLING))
        text = _ASCII_OTHER.sub("_", "".join(c for c in decomposed if not unicodedata.combining(c)))
    else:
        text = unicodedata.normalize("NFC", text)
        text = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    stem = re.sub(r"_{2,}", "_", text).strip(_EDGES)[:MAX_STEM].rstrip(_EDGES) or FALLBACK
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem += "_"
    suffix = "".join(c for c in ext if c.isascii() and c.isalnum())
    return f"{stem}.{suffix}" if suffix else stem


def content_disposition(filename: str) -> str:
    """The one Content-Disposition of every download (RFC 6266): an ASCII ``filename`` for old
    clients and the exact name, UTF-8 and percent-encoded, in ``filename*``. Starlette sends
    headers as Latin-1, so a raw "Łódź" or "Київ" would break the response."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    fallback = safe_filename(stem, ext=ext, ascii_only=True)
    exact = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
