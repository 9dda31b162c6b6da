"""Reading one sheet of an authoring workbook: typed values, each problem placed on its cell."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from openpyxl.utils import get_column_letter

from app.excel.authoring_layout import LANG_COLUMNS, LEVEL_HEADER, NO, YES, plain_texts, texts
from app.excel.filled import Grid
from app.excel.layout import number_text
from app.excel.problems import Problem, ProblemCode, problem

KEY: Final = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_TRUE: Final = frozenset({YES, "true", "1", "y", "sí", "si"})
_FALSE: Final = frozenset({NO, "false", "0", "n"})


@dataclass
class SheetReader:
    """One sheet's grid with its header, and the problems found while reading it."""

    name: str
    grid: Grid
    problems: list[Problem]
    known: Sequence[str]
    required: Sequence[str] = ()
    columns: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for (r, c), cell in sorted(self.grid.items()):
            if r != 1:
                continue
            name = plain(cell.value)
            if not name:
                continue
            if name not in self.known and not LEVEL_HEADER.match(name):
                self.add(ProblemCode.unknown_column, r, c, found=f"'{name}'")
            elif name in self.columns:
                self.add(ProblemCode.duplicate_key, r, c, found=name, first=1)
            else:
                self.columns[name] = c
        for name in self.required:
            if name not in self.columns:
                self.problems.append(
                    problem(ProblemCode.column_missing, sheet=self.name, cell="A1", column=name)
                )

    def add(
        self, code: ProblemCode, row: int, col: int, /, item: str | None = None, **params: object
    ) -> None:
        ref = f"{get_column_letter(col)}{row}"
        self.problems.append(problem(code, sheet=self.name, cell=ref, item=item, **params))

    def at(self, row: int, name: str) -> str:
        return f"{get_column_letter(self.columns.get(name, 1))}{row}"

    def rows(self) -> Iterator[int]:
        """The rows below the header that hold anything, in order."""
        yield from sorted({r for (r, _), cell in self.grid.items() if r > 1})

    def raw(self, row: int, name: str) -> object:
        c = self.columns.get(name)
        cell = self.grid.get((row, c)) if c else None
        if cell is None:
            return None
        if cell.kind != "v":
            code = ProblemCode.formula if cell.kind == "f" else ProblemCode.invalid_value
            self.add(
                code,
                row,
                c or 1,
                formula=cell.value,
                found=cell.value,
                column=name,
                allowed="a plain value",
            )
            return None
        return cell.value

    def text(self, row: int, name: str, *, required: bool = False) -> str | None:
        value = plain(self.raw(row, name))
        if value is None and required and name in self.columns:
            self.add(ProblemCode.missing_value, row, self.columns[name], column=name)
        return value

    def pair(
        self, row: int, name: str, *, required: bool = False, plain: bool = False
    ) -> dict[str, str] | None:
        en_col, es_col = plain_texts(name) if plain else texts(name)
        found = {
            code: self.text(row, col)
            for (code, _), col in zip(LANG_COLUMNS, (en_col, es_col), strict=True)
        }
        if all(found.values()):
            return {k: v for k, v in found.items() if v}
        if any(found.values()):
            missing = en_col if not found["en"] else es_col
            if missing in self.columns:
                self.add(
                    ProblemCode.missing_translation, row, self.columns[missing], column=missing
                )
        elif required and en_col in self.columns:
            self.add(ProblemCode.missing_value, row, self.columns[en_col], column=en_col)
        return None

    def number(self, row: int, name: str, *, required: bool = False) -> float | None:
        value = self.raw(row, name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        text = plain(value)
        if text is None:
            if required and name in self.columns:
                self.add(ProblemCode.missing_value, row, self.columns[name], column=name)
            return None
        try:
            return float(text.replace(",", ".")) if text.count(",") <= 1 else float("x")
        except ValueError:
            self.add(ProblemCode.not_a_number, row, self.columns[name], found=f"'{text}'")
            return None

    def integer(self, row: int, name: str) -> int | None:
        value = self.number(row, name)
        if value is None:
            return None
        if not value.is_integer():
            self.add(
                ProblemCode.invalid_value,
                row,
                self.columns[name],
                found=number_text(value),
                column=name,
                allowed="a whole number",
            )
            return None
        return int(value)

    def choice(
        self, row: int, name: str, allowed: Sequence[str], *, required: bool = False
    ) -> str | None:
        value = self.text(row, name, required=required)
        if value is None:
            return None
        if value.lower() not in allowed:
            self.add(
                ProblemCode.invalid_value,
                row,
                self.columns[name],
                found=f"'{value}'",
                column=name,
                allowed=", ".join(allowed),
            )
            return None
        return value.lower()

    def flag(self, row: int, name: str) -> bool | None:
        value = self.text(row, name)
        if value is None:
            return None
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.add(
            ProblemCode.invalid_value,
            row,
            self.columns[name],
            found=f"'{value}'",
            column=name,
            allowed=f"{YES}, {NO}",
        )
        return None

    def key(self, row: int, name: str, *, required: bool = True) -> str | None:
        value = self.text(row, name, required=required)
        if value is not None and (not KEY.match(value) or len(value) > 64):
            self.add(ProblemCode.invalid_key, row, self.columns[name], found=f"'{value}'")
            return None
        return value

    def keys(self, row: int, name: str) -> list[str]:
        value = self.text(row, name)
        if value is None:
            return []
        words = value.replace(",", " ").split()
        bad = [w for w in words if not KEY.match(w)]
        if bad:
            self.add(ProblemCode.invalid_key, row, self.columns[name], found=f"'{bad[0]}'")
        return [w for w in words if KEY.match(w)]


def plain(value: object) -> str | None:
    if value is None:
        return None
    text = (
        number_text(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
    )
    return text if text.strip() else None


def put(data: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        data[key] = value
