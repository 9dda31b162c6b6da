"""Where evidence files live: outside the database rows, each under a key this module makes (32
random hex digits), never under a name a user typed, so an upload named ``../../x.html`` or
``CON.pdf`` is only ever a column of its row.

``FileStore`` is the whole interface the service uses: put a finished local file in (getting its
key), open a key for reading, delete a key. ``FolderStore`` keeps files in a folder (by default
``<data_dir>/evidence``, ``OCA_EVIDENCE_DIR``), as ``<root>/<first two digits>/<key>``. An
S3-compatible store would be a second class with these three methods (put: upload the file under
the key; open: a streaming GET; delete: DELETE); none ships yet (docs/evidence.md).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final, Protocol

from app.config import Settings

KEY: Final = re.compile(r"[0-9a-f]{32}")
CHUNK: Final = 1 << 16


class FileStore(Protocol):
    def put(self, source: Path) -> str:
        """Take a finished local file in (it is moved, not copied); return its new key."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file's bytes; FileNotFoundError when the key holds nothing."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file; nothing happens when the key holds nothing already."""
        ...


def check_key(key: str) -> str:
    """A key this module could have made, or ValueError: no path can be smuggled in."""
    if not KEY.fullmatch(key):
        raise ValueError(f"not an evidence store key: {key[:40]!r}")
    return key


class FolderStore:
    """Evidence files in a local (or mounted) folder shared by every worker."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)[:2] / key

    def put(self, source: Path) -> str:
        key = secrets.token_hex(16)
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{key}.partial")
        try:
            shutil.move(source, partial)  # a rename on one file system, else a copy
            os.replace(partial, target)  # whole or absent under its key, never half
        finally:
            partial.unlink(missing_ok=True)
        return key

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        """Every stored key (for checks and tests)."""
        for path in self.root.glob("??/*"):
            if KEY.fullmatch(path.name):
                yield path.name


def store_of(settings: Settings) -> FileStore:
    """The configured store (today: the folder)."""
    return FolderStore(settings.evidence_folder)


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    """A stored file's bytes, a piece at a time, closing it at the end."""
    with stream:
        while piece := stream.read(CHUNK):
            yield piece
