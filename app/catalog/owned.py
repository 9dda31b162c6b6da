"""A workspace's own instrument versions: their canonical text, its checks, and a parse cache.

They live in the database (``app.services.owned_instruments``), not under ``instruments/``, but
their text is what a library file holds: the YAML the catalog loads, written from the validated
model, so a version uploaded as YAML, JSON or an authoring workbook is stored in one form.
Parsing is cached by the text's SHA-256: a published text never changes, so an entry can never
be stale on any worker.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.catalog.loader import (
    CatalogError,
    InstrumentFile,
    content_hash,
    is_local_version,
    parse_instrument,
    read_data,
    validate_data,
)
from app.domain.instrument import Instrument
from app.domain.scoring import compile_instrument

CACHE_SIZE = 128  # parsed versions kept per process (a compiled OCA is well under a megabyte)


def canonical(instrument: Instrument) -> bytes:
    """The YAML text stored for a version: every field the model holds, in the model's order."""
    data = instrument.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).encode()


@dataclass(frozen=True)
class OwnedProblem:
    """A rule only a workspace's version must follow, said in English and Spanish."""

    en: str
    es: str


class OwnedRejected(Exception):
    def __init__(self, problems: list[OwnedProblem]) -> None:
        super().__init__("; ".join(p.en for p in problems))
        self.problems = problems


def owned_problems(instrument: Instrument) -> list[OwnedProblem]:
    problems: list[OwnedProblem] = []
    v = instrument.version
    if not is_local_version(v):
        problems.append(
            OwnedProblem(
                f"version: '{v}' must carry the word 'local' as one of its parts (e.g. "
                f"'{v}-local'); library versions never do, so the two never collide",
                f"version: '{v}' debe llevar la palabra 'local' como una de sus partes (p. ej. "
                f"'{v}-local'); las versiones de la biblioteca nunca la llevan, así que no "
                "pueden coincidir",
            )
        )
    if instrument.variants:
        problems.append(
            OwnedProblem(
                "variants: a workspace version cannot declare variants; derive a version instead",
                "variants: una versión del espacio de trabajo no declara variantes; derive una "
                "versión en su lugar",
            )
        )
    return problems


def check_owned(raw: bytes, where: str = "instrument") -> Instrument:
    """Parse and validate a workspace version's YAML or JSON text: CatalogError lists every
    problem of the text with its place (the YAML line, or the path of the key:
    ``dimensions[0](key=...).areas...``), OwnedRejected what only a workspace version follows."""
    data = _dropped_targets_to_null(read_data(raw, where))
    instrument = validate_data(data, where)
    problems = owned_problems(instrument)
    if problems:
        raise OwnedRejected(problems)
    return instrument


def _dropped_targets_to_null(data: dict[str, Any]) -> dict[str, Any]:
    """An adapted copy may drop items its crosswalk still maps to: those map to null (dropped),
    so the author edits the instrument and never has to edit the map for a removal."""
    sup = data.get("supersedes")
    if not isinstance(sup, dict) or not isinstance(sup.get("items"), dict):
        return data
    keys = {
        i.get("key")
        for d in data.get("dimensions") or ()
        if isinstance(d, dict)
        for a in d.get("areas") or ()
        if isinstance(a, dict)
        for i in a.get("items") or ()
        if isinstance(i, dict)
    }
    items = {old: (new if new in keys else None) for old, new in sup["items"].items()}
    return {**data, "supersedes": {**sup, "items": items}}


class _ParseCache:
    """Parsed versions by content hash, least recently used dropped first (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._files: OrderedDict[str, InstrumentFile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> InstrumentFile | None:
        with self._lock:
            f = self._files.get(digest)
            if f is not None:
                self._files.move_to_end(digest)
            return f

    def put(self, f: InstrumentFile) -> None:
        with self._lock:
            self._files[f.content_hash] = f
            while len(self._files) > self.size:
                self._files.popitem(last=False)


_cache = _ParseCache(CACHE_SIZE)


def cached_file(digest: str) -> InstrumentFile | None:
    return _cache.get(digest)


def owned_file(raw: bytes, digest: str) -> InstrumentFile:
    """The catalog entry of a stored version's text, parsed once per process.

    ``digest`` is the hash recorded with the text; a text that no longer has it was changed
    behind the application's back and is refused rather than served.
    """
    found = _cache.get(digest)
    if found is not None:
        return found
    if content_hash(raw) != digest:
        raise CatalogError("workspace instrument", [f"stored text does not match {digest[:12]}…"])
    instrument = parse_instrument(raw, "workspace instrument")
    where = Path("workspace", instrument.id, f"{instrument.version}.yaml")
    f = InstrumentFile(where, instrument, digest, compile_instrument(instrument), owned=True)
    _cache.put(f)
    return f
