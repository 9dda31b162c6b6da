"""Read, validate and index instrument files: ``instruments/<id>/<version>.yaml``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.catalog.variants import derive
from app.domain.instrument import Instrument
from app.domain.scoring import CompiledInstrument, compile_instrument


class CatalogError(Exception):
    """A problem with one instrument file, said in one readable line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path}: " + "; ".join(problems))


@dataclass(frozen=True)
class InstrumentFile:
    path: Path
    instrument: Instrument
    content_hash: str
    compiled: CompiledInstrument = field(repr=False, compare=False)
    # the versions the catalog derives from this file (its ``variants``)
    derived: tuple[InstrumentFile, ...] = field(default=(), repr=False, compare=False)
    # a workspace's own version (app.catalog.owned), not one of the shipped library's
    owned: bool = False


# libyaml's parser where PyYAML was built with it (its wheels are): ten times the pure-Python
# one's speed, 0.09 s against 0.94 s for the library's ten files, which every server, worker and
# `oca` command reads as it starts (docs/benchmarks.md)
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe YAML loader that refuses duplicated mapping keys (silently overwritten otherwise)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicated key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


# A workspace's own versions carry the word ``local`` as one part of their label
# (``2015.2-local``, ``local-2025.1``); the library may not, so the two can never collide.
_LOCAL = re.compile(r"(?:^|[.\-])local(?:[.\-]|$)", re.IGNORECASE)


def is_local_version(version: str) -> bool:
    return _LOCAL.search(version) is not None


def content_hash(raw: bytes, variant: str | None = None) -> str:
    """SHA-256 of the file's bytes: what makes a published version immutable. A derived
    variant's hash covers the bytes and its key, so it changes exactly when the file does."""
    if variant is not None:
        raw = raw + b"\nvariant: " + variant.encode()
    return hashlib.sha256(raw).hexdigest()


def recorded_hash(f: InstrumentFile, raw: bytes) -> str:
    """What ``f``'s hash is when its file holds ``raw``."""
    derived = f.instrument.derived_from
    return content_hash(raw, derived.variant if derived else None)


def _location(data: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into a readable path, naming keys where the data has them."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            key = node.get("key") if isinstance(node, dict) else None
            parts.append(f"[{step}]" + (f"(key={key})" if key else ""))
        elif isinstance(node, dict) and step in node:
            node = node[step]
            parts.append(f".{step}")
        else:
            node = None
            parts.append(f".{step}")
    return "".join(parts).lstrip(".") or "(top level)"


def read_data(raw: bytes, where: Path | str) -> dict[str, Any]:
    """The mapping an instrument's YAML (or JSON) text holds; CatalogError names the line."""
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError(where, [f"{at}invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise CatalogError(where, ["the file must hold a mapping (id, version, scales, ...)"])
    if data.get("derived_from") is not None:
        raise CatalogError(
            where, ["derived_from: set by the catalog on derived variants, never in a file"]
        )
    return data


def validate_data(data: dict[str, Any], where: Path | str) -> Instrument:
    """The instrument ``data`` describes; CatalogError names every problem with its path."""
    try:
        return Instrument.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{_location(data, tuple(err['loc']))}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise CatalogError(where, problems) from None


def parse_instrument(raw: bytes, where: Path | str) -> Instrument:
    """Parse and validate an instrument's YAML (or JSON) text; raise CatalogError naming every
    problem with its place (a YAML line, or the path of the key inside the document)."""
    return validate_data(read_data(raw, where), where)


def load_file(path: Path) -> InstrumentFile:
    """Load and validate one instrument file; raise CatalogError naming file, place and problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(path, [f"cannot read file: {exc.strerror}"]) from None
    instrument = parse_instrument(raw, path)
    expected = (path.parent.name, path.stem)
    if (instrument.id, instrument.version) != expected:
        raise CatalogError(
            path,
            [
                f"id/version in the file ({instrument.id} {instrument.version}) must match "
                f"its place instruments/{expected[0]}/{expected[1]}.yaml"
            ],
        )
    if is_local_version(instrument.version):
        raise CatalogError(
            path, [f"version '{instrument.version}': 'local' is reserved for workspace versions"]
        )
    return InstrumentFile(
        path,
        instrument,
        content_hash(raw),
        compile_instrument(instrument),
        _derived_files(path, raw, instrument),
    )


def _derived_files(path: Path, raw: bytes, instrument: Instrument) -> tuple[InstrumentFile, ...]:
    """The variants a file declares, each built as an instrument version of its own.

    A variant that cannot be built fails its file. A variant's hash covers the file's bytes and
    the variant key, so it changes exactly when the file does (and the immutability check then
    names the file).
    """
    out: list[InstrumentFile] = []
    for variant in instrument.variants:
        try:
            derived = derive(instrument, variant)
        except ValidationError as exc:
            problems = [f"variant '{variant.key}': {err['msg']}" for err in exc.errors()]
            raise CatalogError(path, problems) from None
        digest = content_hash(raw, variant.key)
        out.append(InstrumentFile(path, derived, digest, compile_instrument(derived)))
    return tuple(out)


@dataclass(frozen=True)
class Catalog:
    """All instrument versions found under one folder, indexed by (id, version)."""

    root: Path
    files: dict[tuple[str, str], InstrumentFile]

    def get(self, instrument_id: str, version: str) -> InstrumentFile | None:
        return self.files.get((instrument_id, version))

    def ids(self) -> list[str]:
        return sorted({k[0] for k in self.files})

    def versions(self, instrument_id: str) -> list[InstrumentFile]:
        return sorted(
            (f for (i, _), f in self.files.items() if i == instrument_id),
            key=lambda f: f.instrument.version,
        )

    def latest(self, instrument_id: str) -> InstrumentFile | None:
        """The newest published version; a derived variant is never the default, nor is a
        workspace's own version of a library instrument."""
        versions = [f for f in self.versions(instrument_id) if f.instrument.derived_from is None]
        versions = [f for f in versions if not f.owned] or versions
        return versions[-1] if versions else None

    def with_owned(self, owned: Iterable[InstrumentFile]) -> Catalog:
        """This library plus a workspace's own versions (whose labels never collide with it)."""
        files = dict(self.files)
        files.update(((f.instrument.id, f.instrument.version), f) for f in owned)
        return Catalog(self.root, files)

    def __iter__(self) -> Iterator[InstrumentFile]:
        return iter(
            sorted(self.files.values(), key=lambda f: (f.instrument.id, f.instrument.version))
        )


def instrument_paths(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.yaml") if p.is_file())


def load_catalog(root: Path) -> Catalog:
    """Load every file; raise one CatalogError listing the problems of every bad file."""
    if not root.is_dir():
        raise CatalogError(root, ["instrument folder not found"])
    files: dict[tuple[str, str], InstrumentFile] = {}
    errors: list[CatalogError] = []
    for path in instrument_paths(root):
        try:
            f = load_file(path)
        except CatalogError as exc:
            errors.append(exc)
            continue
        files[(f.instrument.id, f.instrument.version)] = f
        for d in f.derived:
            key = (d.instrument.id, d.instrument.version)
            if key in files or (root / key[0] / f"{key[1]}.yaml").exists():
                errors.append(
                    CatalogError(f.path, [f"variant version {key[1]} is also a file's version"])
                )
                continue
            files[key] = d
    for f in files.values():
        sup = f.instrument.supersedes
        if sup is None:
            continue
        old = files.get((f.instrument.id, sup.version))
        if old is None:
            errors.append(CatalogError(f.path, [f"supersedes unknown version '{sup.version}'"]))
            continue
        unknown = sorted(set(sup.items) - old.instrument.item_keys)
        if unknown:
            errors.append(
                CatalogError(f.path, [f"supersedes.items names unknown old keys {unknown}"])
            )
    if errors:
        raise CatalogError(root, [str(e) for e in errors])
    return Catalog(root, files)
