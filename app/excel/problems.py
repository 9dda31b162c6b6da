"""Why a workbook is refused: a stable code, where (sheet, cell, item), a sentence per language."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class ProblemCode(StrEnum):
    """Stable, machine-readable reasons. Never rename one: API clients switch on them."""

    # the file itself
    not_a_workbook = "not_a_workbook"
    corrupt_workbook = "corrupt_workbook"
    encrypted = "encrypted"
    legacy_xls = "legacy_xls"
    ods = "ods"
    macros = "macros"
    external_links = "external_links"
    unsafe_path = "unsafe_path"
    unsafe_xml = "unsafe_xml"
    too_big = "too_big"
    zip_bomb = "zip_bomb"
    too_many_parts = "too_many_parts"
    too_many_sheets = "too_many_sheets"
    too_many_rows = "too_many_rows"
    too_many_columns = "too_many_columns"
    too_complex = "too_complex"
    # the template
    not_a_template = "not_a_template"
    empty_workbook = "empty_workbook"
    unsupported_format = "unsupported_format"
    unknown_instrument = "unknown_instrument"
    metadata_tampered = "metadata_tampered"
    sheet_missing = "sheet_missing"
    header_changed = "header_changed"
    item_missing = "item_missing"
    item_moved = "item_moved"
    item_duplicated = "item_duplicated"
    unknown_item = "unknown_item"
    # cells
    formula = "formula"
    not_on_scale = "not_on_scale"
    na_not_allowed = "na_not_allowed"
    na_key_question = "na_key_question"
    invalid_date = "invalid_date"
    future_date = "future_date"
    missing_cover_value = "missing_cover_value"
    text_too_long = "text_too_long"
    # the workspace (found when importing, after the workbook itself was read)
    unknown_organization = "unknown_organization"
    ambiguous_organization = "ambiguous_organization"
    version_mismatch = "version_mismatch"
    not_accepted = "not_accepted"
    # an authoring workbook (an instrument written in the XLSForm layout)
    column_missing = "column_missing"
    unknown_column = "unknown_column"
    missing_value = "missing_value"
    missing_translation = "missing_translation"
    not_a_number = "not_a_number"
    invalid_value = "invalid_value"
    invalid_key = "invalid_key"
    duplicate_key = "duplicate_key"
    unknown_scale = "unknown_scale"
    level_missing = "level_missing"
    group_not_closed = "group_not_closed"
    misplaced_row = "misplaced_row"
    invalid_instrument = "invalid_instrument"


@dataclass(frozen=True)
class Problem:
    """One reason to refuse a workbook, located as precisely as the workbook allows."""

    code: ProblemCode
    en: str
    es: str
    sheet: str | None = None
    cell: str | None = None
    item: str | None = None

    def message(self, lang: str) -> str:
        return self.es if lang == "es" else self.en

    def to_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code.value,
            "sheet": self.sheet,
            "cell": self.cell,
            "item": self.item,
            "en": self.en,
            "es": self.es,
        }

    def as_error(self) -> dict[str, str | None]:
        """The problem as an API answer lists it (problem+json ``errors``, import results)."""
        return {
            "sheet": self.sheet,
            "cell": self.cell,
            "item": self.item,
            "code": self.code.value,
            "detail": self.en,
            "detail_es": self.es,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(
            code=ProblemCode(data["code"]),
            en=str(data["en"]),
            es=str(data["es"]),
            sheet=data.get("sheet"),
            cell=data.get("cell"),
            item=data.get("item"),
        )


class WorkbookRejected(Exception):
    """A workbook that cannot be imported; ``problems`` lists every problem found, not just one.

    ``language`` is the workbook's language when it could be read (for messages and annotation).
    ``cover`` is the cover sheet as read, when the workbook got that far.
    """

    def __init__(
        self, problems: Sequence[Problem], language: str | None = None, cover: Any = None
    ) -> None:
        if not problems:
            raise ValueError("a rejection needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.language = language
        # the cover as read (a reader.Cover) when the workbook got that far: the importer still
        # checks the organization, so one upload lists every problem at once
        self.cover = cover
        first = self.problems[0]
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first.code}: {first.en}{more}")

    @property
    def codes(self) -> frozenset[ProblemCode]:
        return frozenset(p.code for p in self.problems)


# en, es message templates; placeholders are filled with str.format(**params)
_MESSAGES: Final[dict[ProblemCode, tuple[str, str]]] = {
    ProblemCode.not_a_workbook: (
        "The file is not an Excel workbook (.xlsx){detail}.",
        "El archivo no es un libro de Excel (.xlsx){detail_es}.",
    ),
    ProblemCode.corrupt_workbook: (
        "The workbook is damaged and cannot be read; open it in Excel or LibreOffice, save it "
        "again as .xlsx and upload the new file.",
        "El libro está dañado y no se puede leer; ábralo en Excel o LibreOffice, guárdelo de nuevo "
        "como .xlsx y suba el archivo nuevo.",
    ),
    ProblemCode.encrypted: (
        "The workbook is protected with a password (encrypted); remove the password to open "
        "and save it again.",
        "El libro está protegido con contraseña (cifrado); quite la contraseña de apertura y "
        "guárdelo de nuevo.",
    ),
    ProblemCode.legacy_xls: (
        "This is an old-format Excel file (.xls); save it as an Excel workbook (.xlsx).",
        "Es un archivo de Excel de formato antiguo (.xls); guárdelo como libro de Excel (.xlsx).",
    ),
    ProblemCode.ods: (
        "This is an OpenDocument spreadsheet (.ods); save it as an Excel workbook (.xlsx).",
        "Es una hoja de cálculo OpenDocument (.ods); guárdela como libro de Excel (.xlsx).",
    ),
    ProblemCode.macros: (
        "The workbook contains macros (VBA); save it as a plain Excel workbook (.xlsx).",
        "El libro contiene macros (VBA); guárdelo como libro de Excel sin macros (.xlsx).",
    ),
    ProblemCode.external_links: (
        "The workbook links to other workbooks; break the links (Data > Edit Links) and save.",
        "El libro tiene vínculos a otros libros; rompa los vínculos (Datos > Editar vínculos) y "
        "guárdelo.",
    ),
    ProblemCode.unsafe_path: (
        "The file contains a part with an unsafe path ({name}).",
        "El archivo contiene una parte con una ruta no segura ({name}).",
    ),
    ProblemCode.unsafe_xml: (
        "The workbook contains XML with a document type declaration or entities{where}, "
        "which Excel never writes; it is refused for safety.",
        "El libro contiene XML con una declaración de tipo de documento o entidades{where}, "
        "que Excel nunca escribe; se rechaza por seguridad.",
    ),
    ProblemCode.too_big: (
        "The file is {size} bytes; the limit is {limit} bytes.",
        "El archivo pesa {size} bytes; el límite es {limit} bytes.",
    ),
    ProblemCode.zip_bomb: (
        "The workbook would expand to too much data ({detail}); it is refused.",
        "El libro se expandiría a demasiados datos ({detail}); se rechaza.",
    ),
    ProblemCode.too_many_parts: (
        "The file has {count} parts; the limit is {limit}.",
        "El archivo tiene {count} partes; el límite es {limit}.",
    ),
    ProblemCode.too_many_sheets: (
        "The workbook has {count} sheets; the limit is {limit}.",
        "El libro tiene {count} hojas; el límite es {limit}.",
    ),
    ProblemCode.too_many_rows: (
        "Sheet '{sheet}' uses rows beyond row {limit}; delete the extra rows.",
        "La hoja '{sheet}' usa filas más allá de la fila {limit}; elimine las filas sobrantes.",
    ),
    ProblemCode.too_many_columns: (
        "Sheet '{sheet}' uses columns beyond column {limit}; delete the extra columns.",
        "La hoja '{sheet}' usa columnas más allá de la columna {limit}; elimine las columnas "
        "sobrantes.",
    ),
    ProblemCode.too_complex: (
        "The workbook took too much time or memory to read ({detail}); it is refused.",
        "Leer el libro requirió demasiado tiempo o memoria ({detail}); se rechaza.",
    ),
    ProblemCode.not_a_template: (
        "The workbook is not an assessment template of this service (its hidden '_meta' sheet "
        "is missing); download a template and copy the answers into it.",
        "El libro no es una plantilla de evaluación de este servicio (falta su hoja oculta "
        "'_meta'); descargue una plantilla y copie las respuestas en ella.",
    ),
    ProblemCode.empty_workbook: (
        "The workbook has no answers.",
        "El libro no tiene respuestas.",
    ),
    ProblemCode.unsupported_format: (
        "The template format version {found} is not supported (expected {expected}); download "
        "a new template.",
        "La versión de formato de plantilla {found} no es compatible (se espera {expected}); "
        "descargue una plantilla nueva.",
    ),
    ProblemCode.unknown_instrument: (
        "The template is for instrument '{instrument}' version '{version}', which this service "
        "does not know.",
        "La plantilla es del instrumento '{instrument}' versión '{version}', que este servicio no "
        "conoce.",
    ),
    ProblemCode.metadata_tampered: (
        "The template's hidden metadata does not match {instrument} {version} ({detail}); "
        "download a new template and copy the answers into it.",
        "Los metadatos ocultos de la plantilla no coinciden con {instrument} {version} "
        "({detail_es}); descargue una plantilla nueva y copie las respuestas en ella.",
    ),
    ProblemCode.sheet_missing: (
        "Sheet '{sheet}' is missing.",
        "Falta la hoja '{sheet}'.",
    ),
    ProblemCode.header_changed: (
        "The column header should be '{expected}' but is {found}; columns were inserted, "
        "deleted or moved.",
        "El encabezado de columna debería ser '{expected}' pero es {found}; se insertaron, "
        "eliminaron o movieron columnas.",
    ),
    ProblemCode.item_missing: (
        "Item '{item}' is missing; it belongs in {expected}.",
        "Falta el ítem '{item}'; corresponde a {expected}.",
    ),
    ProblemCode.item_moved: (
        "Item '{item}' was moved here; it belongs in {expected}.",
        "El ítem '{item}' se movió aquí; corresponde a {expected}.",
    ),
    ProblemCode.item_duplicated: (
        "Item '{item}' appears more than once; keep only the row in {expected}.",
        "El ítem '{item}' aparece más de una vez; conserve solo la fila de {expected}.",
    ),
    ProblemCode.unknown_item: (
        "{found} is not an item key of {instrument} {version}.",
        "{found} no es una clave de ítem de {instrument} {version}.",
    ),
    ProblemCode.formula: (
        "The cell holds a formula ({formula}); type the value itself.",
        "La celda contiene una fórmula ({formula}); escriba el valor directamente.",
    ),
    ProblemCode.invalid_date: (
        "{found} is not a date; write it as YYYY-MM-DD.",
        "{found} no es una fecha; escríbala como AAAA-MM-DD.",
    ),
    ProblemCode.future_date: (
        "{found} is in the future; write the day the assessment took place (at the latest "
        "{latest}).",
        "{found} es una fecha futura; escriba el día en que se hizo la evaluación (a más tardar "
        "{latest}).",
    ),
    ProblemCode.missing_cover_value: (
        "{field} is required.",
        "{field_es} es obligatorio.",
    ),
    ProblemCode.text_too_long: (
        "The text has {length} characters; the limit is {limit}.",
        "El texto tiene {length} caracteres; el límite es {limit}.",
    ),
    ProblemCode.unknown_organization: ("{detail}", "{detail_es}"),
    ProblemCode.ambiguous_organization: ("{detail}", "{detail_es}"),
    ProblemCode.version_mismatch: ("{detail}", "{detail_es}"),
    ProblemCode.not_accepted: ("{detail}", "{detail_es}"),
    ProblemCode.column_missing: (
        "Column '{column}' is missing from the first row of sheet '{sheet}'.",
        "Falta la columna '{column}' en la primera fila de la hoja '{sheet}'.",
    ),
    ProblemCode.unknown_column: (
        "Column '{found}' is not part of the authoring layout; rename or delete it.",
        "La columna '{found}' no forma parte del formato de edición; cámbiele el nombre o "
        "elimínela.",
    ),
    ProblemCode.missing_value: (
        "Column '{column}' needs a value here.",
        "La columna '{column}' necesita un valor aquí.",
    ),
    ProblemCode.missing_translation: (
        "Column '{column}' is empty but its other language is filled; every text needs "
        "English and Spanish.",
        "La columna '{column}' está vacía pero su otro idioma está lleno; cada texto necesita "
        "inglés y español.",
    ),
    ProblemCode.not_a_number: (
        "{found} is not a number.",
        "{found} no es un número.",
    ),
    ProblemCode.invalid_value: (
        "{found} is not allowed in column '{column}'; write one of: {allowed}.",
        "{found} no se permite en la columna '{column}'; escriba uno de: {allowed}.",
    ),
    ProblemCode.invalid_key: (
        "{found} is not a valid key: use at most 64 lowercase letters, digits, '_', '.' or '-', "
        "starting with a letter or a digit.",
        "{found} no es una clave válida: use como máximo 64 letras minúsculas, dígitos, '_', '.' "
        "o '-', empezando por una letra o un dígito.",
    ),
    ProblemCode.duplicate_key: (
        "'{found}' is already used in row {first}; keys must be unique.",
        "'{found}' ya se usa en la fila {first}; las claves deben ser únicas.",
    ),
    ProblemCode.unknown_scale: (
        "'{found}' is not a list_name of sheet 'choices'.",
        "'{found}' no es un list_name de la hoja 'choices'.",
    ),
    ProblemCode.level_missing: (
        "Item '{item}' has level statements but none for level {level} of its scale.",
        "El ítem '{item}' tiene descripciones de nivel pero ninguna para el nivel {level} de su "
        "escala.",
    ),
    ProblemCode.group_not_closed: (
        "Group '{found}' begins here and is never closed by an end_group row.",
        "El grupo '{found}' empieza aquí y ninguna fila end_group lo cierra.",
    ),
    ProblemCode.misplaced_row: ("{detail}", "{detail_es}"),
    ProblemCode.invalid_instrument: (
        "The instrument is not valid: {detail}.",
        "El instrumento no es válido: {detail}.",
    ),
}


def problem(
    code: ProblemCode,
    *,
    sheet: str | None = None,
    cell: str | None = None,
    item: str | None = None,
    **params: object,
) -> Problem:
    """Build a problem from the message catalog; every placeholder must be given."""
    en, es = _MESSAGES[code]
    values: dict[str, object] = {"sheet": sheet, "cell": cell, "item": item, "where": ""}
    values.update(params)
    values.setdefault("detail_es", values.get("detail", ""))
    return Problem(code, en.format(**values), es.format(**values), sheet, cell, item)


def sort_problems(problems: Iterable[Problem], sheet_order: Sequence[str]) -> list[Problem]:
    """Workbook-level problems first, then by sheet order, row and column."""
    order = {name: i for i, name in enumerate(sheet_order)}

    def key(p: Problem) -> tuple[int, int, int, str]:
        if p.sheet is None:
            return (-1, 0, 0, "")
        row, col = _split_ref(p.cell)
        return (order.get(p.sheet, len(order)), row, col, p.sheet)

    return sorted(problems, key=key)


def _split_ref(ref: str | None) -> tuple[int, int]:
    if not ref:
        return (0, 0)
    letters = "".join(c for c in ref if c.isalpha()).upper()
    digits = "".join(c for c in ref if c.isdigit())
    col = 0
    for c in letters:
        col = col * 26 + (ord(c) - 64)
    return (int(digits or 0), col)
