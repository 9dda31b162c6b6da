"""The Instructions sheet of a template: how to fill it in, and every answer scale in words."""

from __future__ import annotations

from typing import Any, Final

from openpyxl.styles import Font

from app.domain.instrument import Instrument, Scale
from app.excel._worker import set_text
from app.excel.layout import (
    ITEM_HEADERS,
    ItemColumn,
    Language,
    number_text,
    ordered_values,
)
from app.excel.styles import (
    BODY_FONT,
    BOLD,
    SECTION_FONT,
    TITLE_FONT,
    WRAP_TOP,
    fit_page,
    row_height,
)

# Narrow enough for a portrait A4 or Letter page at full size, also where a wider substitute for
# Calibri is used (LibreOffice without Carlito): 88 printed cut off on the right.
_INSTRUCTIONS_WIDTH: Final = 72

_INSTRUCTIONS: Final[dict[str, dict[str, str]]] = {
    "title": {"en": "How to fill in this workbook", "es": "Cómo completar este libro"},
    "cover": {
        "en": "1. On the Cover sheet, fill in the organization, the round (baseline, midline, "
        "endline or your program's own label), the assessment date (YYYY-MM-DD) and the "
        "assessor.",
        "es": "1. En la hoja Portada, complete la organización, la ronda (línea de base, medio "
        "término, línea final u otra etiqueta de su programa), la fecha de la evaluación "
        "(AAAA-MM-DD) y la persona evaluadora.",
    },
    "answer_levels": {
        "en": "2. On each dimension sheet, read the item (column B) and its level statements "
        "(the columns after Notes), then choose the answer in the yellow Answer cell (column C) "
        "from the drop-down list. The key and the item stay in view when you scroll right.",
        "es": "2. En cada hoja de dimensión, lea el ítem (columna B) y las descripciones de sus "
        "niveles (las columnas después de Notas), y elija la respuesta de la lista desplegable "
        "en la celda amarilla Respuesta (columna C). La clave y el ítem quedan a la vista al "
        "desplazarse a la derecha.",
    },
    "answer_plain": {
        "en": "2. On each dimension sheet, read the item (column B), then choose the answer in "
        "the yellow Answer cell (column C) from the drop-down list. The key and the item stay in "
        "view when you scroll right.",
        "es": "2. En cada hoja de dimensión, lea el ítem (columna B) y elija la respuesta de la "
        "lista desplegable en la celda amarilla Respuesta (columna C). La clave y el ítem quedan "
        "a la vista al desplazarse a la derecha.",
    },
    "guidance": {
        "en": "Further right, the {0} and {1} columns help the discussion; they are "
        "suggestions, not requirements.",
        "es": "Más a la derecha, las columnas {0} y {1} ayudan a la discusión; son sugerencias, "
        "no requisitos.",
    },
    "guidance_one": {
        "en": "Further right, the {0} column helps the discussion; it is a suggestion, not a "
        "requirement.",
        "es": "Más a la derecha, la columna {0} ayuda a la discusión; es una sugerencia, no un "
        "requisito.",
    },
    "notes": {
        "en": "3. Write the evidence you reviewed (documents, interviews, observations) or any "
        "comment in the Notes / evidence cell (column D).",
        "es": "3. Escriba la evidencia revisada (documentos, entrevistas, observaciones) o "
        "cualquier comentario en la celda Notas / evidencia (columna D).",
    },
    "na": {
        "en": "4. N/A (not applicable) means that the item does not apply to this organization: "
        "it is left out of every score. A blank answer means that the item has not been "
        "assessed: it counts as missing and lowers the coverage; when too many items are "
        "missing, no score is given. Do not use N/A for 'we do not know'.",
        "es": "4. «No aplica» significa que el ítem no corresponde a esta organización: queda "
        "fuera de todos los puntajes. Una respuesta vacía significa que el ítem no se evaluó: "
        "cuenta como faltante y reduce la cobertura; si faltan demasiados ítems no se calcula "
        "el puntaje. No use «No aplica» para decir «no sabemos».",
    },
    "no_na": {
        "en": "4. Every item of this instrument applies (there is no N/A). A blank answer means "
        "that the item has not been assessed: it counts as missing and lowers the coverage; "
        "when too many items are missing, no score is given.",
        "es": "4. Todos los ítems de este instrumento se aplican (no existe «No aplica»). Una "
        "respuesta vacía significa que el ítem no se evaluó: cuenta como faltante y reduce la "
        "cobertura; si faltan demasiados ítems no se calcula el puntaje.",
    },
    "structure": {
        "en": "5. Do not insert, delete, move or rename rows, columns or sheets, and do not type "
        "formulas: the workbook is checked against its instrument version when it is uploaded. "
        "Only the yellow cells can be edited.",
        "es": "5. No inserte, elimine, mueva ni cambie el nombre de filas, columnas u hojas, y "
        "no escriba fórmulas: el libro se verifica contra su versión del instrumento al subirlo. "
        "Solo se pueden editar las celdas amarillas.",
    },
    "upload": {
        "en": "6. Upload the workbook as it is (.xlsx). If something needs fixing you get this "
        "workbook back with each offending cell in red and a comment that explains the problem.",
        "es": "6. Suba el libro tal como está (.xlsx). Si algo debe corregirse, recibirá este "
        "mismo libro con cada celda a corregir en rojo y un comentario que explica el problema.",
    },
}
_SCALES_TITLE: Final = {"en": "Answer scales", "es": "Escalas de respuesta"}
# what a scale is, said in words (its key is an internal name)
_SCALE_KIND: Final[dict[str, dict[str, str]]] = {
    "levels": {
        "en": "Scale of {n} levels ({low} to {high})",
        "es": "Escala de {n} niveles ({low} a {high})",
    },
    "stages": {
        "en": "Scale of {n} stages ({low} to {high})",
        "es": "Escala de {n} etapas ({low} a {high})",
    },
    "points": {
        "en": "Scale of points ({low} to {high})",
        "es": "Escala de puntos ({low} a {high})",
    },
    "yesno": {"en": "Yes / No answers", "es": "Respuestas Sí / No"},
}
_USED_BY: Final = {
    "en": ("used by 1 item", "used by {n} items"),
    "es": ("usada por 1 ítem", "usada por {n} ítems"),
}
_NA_ALLOWED: Final = {
    True: {"en": "N/A is allowed.", "es": "Se admite «No aplica»."},
    False: {"en": "N/A is not allowed.", "es": "No se admite «No aplica»."},
}
_ABOUT: Final = {
    "en": "Instrument: {title}, version {version}. Template language: English.",
    "es": "Instrumento: {title}, versión {version}. Idioma de la plantilla: español.",
}
SUBJECT: Final = {"en": "Who is rated: {subject}", "es": "Qué se evalúa: {subject}"}


def write_instructions(ws: Any, instrument: Instrument, lang: Language) -> None:
    """One wide column of paragraphs (no merged cells: they neither wrap nor print reliably)."""
    ws.column_dimensions["A"].width = _INSTRUCTIONS_WIDTH
    items = list(instrument.items.values())
    answer = _INSTRUCTIONS["answer_levels" if any(i.levels for i in items) else "answer_plain"]
    answer_text = answer[lang]
    helpers = [
        ITEM_HEADERS[kind][lang]
        for kind, present in (
            (ItemColumn.guidance, any(i.guidance is not None for i in items)),
            (ItemColumn.evidence, any(i.evidence is not None for i in items)),
        )
        if present
    ]
    if helpers:  # name only the columns this instrument's sheets have
        key = "guidance_one" if len(helpers) == 1 else "guidance"
        answer_text += " " + _INSTRUCTIONS[key][lang].format(*helpers)
    any_na = any(instrument.scales[i.scale].allow_na for i in items)
    lines: list[tuple[str, Font | None]] = [
        (_INSTRUCTIONS["title"][lang], TITLE_FONT),
        (_INSTRUCTIONS["cover"][lang], None),
        *(
            [(SUBJECT[lang].format(subject=instrument.subject.get(lang)), BOLD)]
            if instrument.subject is not None
            else []
        ),
        (answer_text, None),
        (_INSTRUCTIONS["notes"][lang], None),
        (_INSTRUCTIONS["na" if any_na else "no_na"][lang], None),
        (_INSTRUCTIONS["structure"][lang], None),
        (_INSTRUCTIONS["upload"][lang], None),
        ("", None),
    ]
    about = _ABOUT[lang].format(title=instrument.title.get(lang), version=instrument.version)
    lines += [(about, None), ("", None), (_SCALES_TITLE[lang], SECTION_FONT)]
    usage: dict[str, int] = {}
    for item in items:
        usage[item.scale] = usage.get(item.scale, 0) + 1
    for key in usage:  # in order of first use
        scale = instrument.scales[key]
        lines.append((f"{_scale_title(scale, usage[key], lang)}", BOLD))
        for value in sorted(scale.values, key=lambda v: v.value):
            text = f"{number_text(value.value)} — {value.label.get(lang)}"
            if value.description is not None:
                text += f": {value.description.get(lang)}"
            lines.append((text, None))
        lines.append(("", None))
    for row, (text, font) in enumerate(lines, start=1):
        if not text:
            continue
        cell = ws.cell(row=row, column=1)
        set_text(cell, text)
        cell.alignment = WRAP_TOP
        cell.font = font or BODY_FONT
        ws.row_dimensions[row].height = row_height(text, _INSTRUCTIONS_WIDTH, font)
    ws.print_area = f"A1:A{len(lines)}"
    fit_page(ws, landscape=False)


def _scale_title(scale: Scale, used_by: int, lang: Language) -> str:
    """What a scale is, in words: "Scale of 4 levels (1 to 4), used by 45 items. N/A is ..."."""
    values = ordered_values(scale)
    kind = _SCALE_KIND[scale.kind][lang].format(
        n=len(values), low=number_text(values[0]), high=number_text(values[-1])
    )
    one, many = _USED_BY[lang]
    usage = one if used_by == 1 else many.format(n=used_by)
    return f"{kind}, {usage}. {_NA_ALLOWED[scale.allow_na][lang]}"
